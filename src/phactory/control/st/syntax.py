"""Parsing Structured Text with a grammar from the package registry, into :mod:`.nodes`.

Why tree-sitter and not blark (Lark)
------------------------------------
Two maintained IEC 61131-3 grammars are on PyPI: ``blark`` (a Lark grammar, Beckhoff
flavoured) and ``tree-sitter-iec61131-3-st`` (a tree-sitter grammar of the 2013 standard).
Both were tried on the same 47-line program. blark's grammar needs Lark's Earley parser
(it has LALR conflicts), which took 0.9 s for those 47 lines and 13 s for 470, stops at
the first syntax error, and has no ``**`` operator. The tree-sitter grammar parses the 470
lines in 5 ms (C, incremental, error-recovering): every syntax error of a file is reported
at once, which ``phactory control check`` needs, and an online change compiles without
stalling the scan of a running controller. So this module uses ``tree-sitter`` with
``tree_sitter_iec61131_3_st``; both are imported only when a source is parsed (CLI
start-up stays fast).

The concrete tree is turned into the small typed tree of :mod:`.nodes` here, in one
place; the compiler never sees a grammar node. Syntax errors come from the parser's
``ERROR`` and ``MISSING`` nodes. A POU or type that contains one is marked
``has_errors`` and is not checked further, so one typo does not cascade into a list of
undeclared names.

Engineering metadata (for OPC UA EngineeringUnits / EURange) is read from a comment on
the declaration's line or from attribute pragmas just above it::

    TT101 : REAL; (* @unit degC @range 0..150 @desc Jacket temperature *)
    {attribute 'unit' := 'bar'}
    {attribute 'range' := '0..10'}
    PT101 : REAL;

Known limits of the grammar (0.1.2): no ``Color#Red`` typed enumeration literals (write
``Red``), no ``T#1d_2h`` (write ``T#1d2h``) and no ``LT#`` (write ``LTIME#``), ``STRING(20)``
rather than ``STRING[20]``, no structure initialisers nested in structure or array
initialisers, a ``FUNCTION`` must name its result type, and ``END_STRUCT;`` needs its ``;``
(all as the 2013 standard writes them, except ``LT#``).
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from phactory.control.pou import Section
from phactory.control.st import nodes as n
from phactory.control.st.errors import STProblem
from phactory.control.st.literals import parse_integer, parse_real, parse_string, parse_time
from phactory.model.errors import Mark, Problem

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

__all__ = ["SourceUnit", "parse_source"]

_SECTIONS = {
    "var_block": Section.VAR,
    "var_input": Section.INPUT,
    "var_output": Section.OUTPUT,
    "var_in_out": Section.IN_OUT,
    "var_temp": Section.TEMP,
    "var_external": Section.EXTERNAL,
    "var_global": Section.GLOBAL,
}
_POUS = {
    "program_declaration": "PROGRAM",
    "function_block_declaration": "FUNCTION_BLOCK",
    "function_declaration": "FUNCTION",
}
_TAG = re.compile(r"@(\w+)\s*((?:(?!\s@\w).)*)", re.DOTALL)
#: A tree-sitter parser is not thread-safe; an online change may compile in another thread.
_LOCK = threading.Lock()
_ATTRIBUTE = re.compile(r"\{\s*attribute\s+'(\w+)'\s*(?::=\s*'([^']*)')?\s*\}", re.IGNORECASE)


@cache
def _parser() -> Parser:
    import tree_sitter
    import tree_sitter_iec61131_3_st

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_iec61131_3_st.language()))


class SourceUnit:
    """What one source file declares: POUs and types, and its syntax problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.pous: list[n.PouNode] = []
        self.types: list[n.TypeNode] = []
        self.problems: list[Problem] = []


def parse_source(text: str, file: str) -> SourceUnit:
    """Parse one ST source text; syntax problems are collected, never raised."""
    return _Builder(text, file).build()


class _Unsupported(Exception):
    """A construct the grammar accepts but Phactory does not compile."""

    def __init__(self, node: Node, what: str) -> None:
        super().__init__(what)
        self.node = node


class _Builder:
    def __init__(self, text: str, file: str) -> None:
        self.src = text.encode("utf-8")
        self.file = file
        self.unit = SourceUnit(file)
        self.line_starts = [0]
        for i, b in enumerate(self.src):
            if b == 0x0A:
                self.line_starts.append(i + 1)
        self.notes: dict[int, list[Node]] = {}  # row -> comments and pragmas on that row
        self.pou = ""

    # --- helpers --------------------------------------------------------------------------

    def text(self, node: Node) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def mark(self, node: Node) -> Mark:
        row, col = node.start_point
        start = self.line_starts[row] if row < len(self.line_starts) else 0
        chars = len(self.src[start : start + col].decode("utf-8", "replace"))
        return Mark(self.file, row + 1, chars + 1)

    def problem(self, node: Node, message: str) -> None:
        path = (self.pou,) if self.pou else ()
        self.unit.problems.append(STProblem(message, path, self.mark(node)))

    @staticmethod
    def named(node: Node, fieldname: str | None = None) -> list[Node]:
        kids = node.children_by_field_name(fieldname) if fieldname else node.children
        return [c for c in kids if c.is_named and c.type not in ("comment", "pragma")]

    def one(self, node: Node, fieldname: str) -> Node:
        kids = self.named(node, fieldname)
        if not kids:
            raise _Unsupported(node, f"missing {fieldname}")
        return kids[0]

    # --- whole file -----------------------------------------------------------------------

    def build(self) -> SourceUnit:
        with _LOCK:
            tree = _parser().parse(self.src)
        root = tree.root_node
        self._collect_notes(root)
        self._syntax_errors(root)
        for top in root.children:
            if top.type in ("comment", "pragma", "ERROR") or not top.is_named:
                continue
            self.pou = ""
            try:
                if top.type in _POUS:
                    self.unit.pous.append(self.pou_node(top))
                elif top.type == "type_declaration":
                    self.type_declaration(top)
                else:
                    raise _Unsupported(top, f"{top.type.replace('_', ' ')} is not supported")
            except _Unsupported as exc:
                if not exc.node.has_error:
                    self.problem(exc.node, str(exc))
        return self.unit

    def _collect_notes(self, root: Node) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type in ("comment", "pragma"):
                self.notes.setdefault(node.end_point[0], []).append(node)
                continue
            stack.extend(node.children)

    def _syntax_errors(self, root: Node) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if not node.has_error and not node.is_missing:
                continue
            if node.is_missing:
                what = node.type if node.is_named else repr(node.type)
                self.problem(node, f"syntax error: missing {what}")
            elif node.type == "ERROR":
                snippet = self.text(node).strip().splitlines()
                first = snippet[0][:40] if snippet else ""
                self.problem(
                    node, f"syntax error: unexpected {first!r}" if first else "syntax error"
                )
            else:
                stack.extend(reversed(node.children))

    # --- declarations ---------------------------------------------------------------------

    def pou_node(self, node: Node) -> n.PouNode:
        name = self.text(self.one(node, "name"))
        self.pou = name
        kind = _POUS[node.type]
        ret = self.named(node, "return_type")
        decls: list[n.Decl] = []
        body: list[n.Stmt] = []
        for child in self.named(node):
            if child.type in _SECTIONS:
                decls.extend(self.var_section(child))
        statements = self.named(node, "body")
        for stmt in statements:
            body.extend(self.statement(stmt))
        # A broken statement is dropped and the rest checked; a broken declaration part
        # stops the checks of this POU (its names would all look undeclared).
        ids = {s.id for s in statements}
        broken = any((c.has_error or c.is_missing) and c.id not in ids for c in node.children)
        return n.PouNode(
            self.mark(node),
            kind,
            name,
            self.type_spec(ret[0]) if ret else None,
            tuple(decls),
            tuple(body),
            broken,
        )

    def type_declaration(self, node: Node) -> None:
        for d in self.named(node):
            if d.type != "type_definition":
                continue
            name = self.text(self.one(d, "name"))
            self.pou = name
            default = self.named(d, "default")
            self.unit.types.append(
                n.TypeNode(
                    self.mark(d),
                    name,
                    self.type_spec(self.one(d, "definition")),
                    self.expr(default[0]) if default else None,
                    d.has_error,
                )
            )

    def var_section(self, node: Node) -> list[n.Decl]:
        section = _SECTIONS[node.type]
        quals = {
            self.text(q).upper()
            for ql in self.named(node)
            if ql.type == "var_qualifier_list"
            for q in self.named(ql)
        }
        out = []
        for d in self.named(node):
            if d.type != "variable_declaration" or d.has_error:
                continue
            try:
                out.append(self.variable_declaration(d, section, quals))
            except _Unsupported as exc:
                self.problem(exc.node, str(exc))
        return out

    def variable_declaration(self, node: Node, section: Section, quals: set[str]) -> n.Decl:
        names = tuple((self.text(x), self.mark(x)) for x in self.named(node, "names"))
        spec = self.type_spec(self.one(node, "type"))
        return n.Decl(
            self.mark(node),
            names,
            spec,
            self.initial_value(node),
            section,
            retain="RETAIN" in quals,
            constant="CONSTANT" in quals,
            meta=self.metadata(node),
        )

    def initial_value(self, node: Node) -> n.Init | None:
        kids = node.children_by_field_name("initial_value")
        if not kids:
            return None
        if not kids[0].is_named and self.text(kids[0]) == "[":
            return self.array_init(node, [k for k in kids if k.is_named])
        return self.init(kids[0])

    def array_init(self, at: Node, items: list[Node]) -> n.ArrayInit:
        out: list[tuple[int, n.Init]] = []
        for item in items:
            if item.type == "array_repetition":
                count = parse_integer(self.text(self.one(item, "count")))
                values = [c for c in self.named(item) if c != self.one(item, "count")]
                if not values:
                    raise _Unsupported(item, "an array repetition needs a value: 3(0)")
                out.append((count, self.init(values[0])))
            else:
                out.append((1, self.init(item)))
        return n.ArrayInit(self.mark(at), tuple(out))

    def init(self, node: Node) -> n.Init:
        if node.type == "structure_initializer":
            fields = []
            for f in self.named(node):
                name = self.one(f, "name")
                fields.append((self.text(name), self.mark(name), self.init(self.one(f, "value"))))
            return n.StructInit(self.mark(node), tuple(fields))
        return self.expr(node)

    def metadata(self, node: Node) -> dict[str, str]:
        """Tags of a trailing comment on the line, attribute pragmas on lines above."""
        meta: dict[str, str] = {}
        row = node.end_point[0]
        for note in self.notes.get(row, []):
            if note.type == "comment" and note.start_byte >= node.end_byte:
                body = self.text(note).strip()
                body = body[2:-2] if body.startswith("(*") else body.lstrip("/")
                for m in _TAG.finditer(body):
                    meta[m.group(1).lower()] = m.group(2).strip()
        above = node.start_point[0] - 1
        while above >= 0 and any(p.type == "pragma" for p in self.notes.get(above, [])):
            for p in self.notes[above]:
                for m in _ATTRIBUTE.finditer(self.text(p)):
                    meta.setdefault(m.group(1).lower(), m.group(2) or "")
            above -= 1
        return meta

    def type_spec(self, node: Node) -> n.TypeSpec:
        at = self.mark(node)
        t = node.type
        if t in ("elementary_type", "identifier", "generic_type"):
            return n.TypeRef(
                at, self.text(node).strip().upper() if t != "identifier" else self.text(node)
            )
        if t == "qualified_identifier":
            return n.TypeRef(at, self.text(node))
        if t == "array_type":
            ranges = []
            for r in self.named(node, "range"):
                if r.type != "subrange":
                    raise _Unsupported(r, "array bounds must be lo..hi")
                ranges.append((self.expr(self.one(r, "lower")), self.expr(self.one(r, "upper"))))
            return n.ArraySpec(at, tuple(ranges), self.type_spec(self.one(node, "element_type")))
        if t == "string_type":
            length = self.named(node, "length")
            wide = self.text(node).upper().startswith("WSTRING")
            return n.StringSpec(at, wide, self.expr(length[0]) if length else None)
        if t == "enumerated_type_inline":
            values = []
            for e in self.named(node):
                if e.type == "enumerator":
                    nm = self.one(e, "name")
                    v = self.named(e, "value")
                    values.append((self.text(nm), self.mark(nm), self.expr(v[0]) if v else None))
            return n.EnumSpec(at, tuple(values))
        if t == "structure_type_inline":
            fields = []
            for f in self.named(node):
                if f.type == "structure_field":
                    nm = self.one(f, "name")
                    default = self.named(f, "default")
                    fields.append(
                        n.Decl(
                            self.mark(f),
                            ((self.text(nm), self.mark(nm)),),
                            self.type_spec(self.one(f, "type")),
                            self.init(default[0]) if default else None,
                            meta=self.metadata(f),
                        )
                    )
            return n.StructSpec(at, tuple(fields))
        if t == "subrange_type":
            base = [c for c in self.named(node) if c.type in ("elementary_type", "identifier")]
            return self.type_spec(base[0]) if base else n.TypeRef(at, "DINT")
        raise _Unsupported(node, f"type {t.replace('_', ' ')} is not supported")

    # --- statements -----------------------------------------------------------------------

    def body(self, node: Node, fieldname: str = "body") -> n.Body:
        out: list[n.Stmt] = []
        for s in self.named(node, fieldname):
            out.extend(self.statement(s))
        return tuple(out)

    def statement(self, node: Node) -> list[n.Stmt]:
        try:
            return self._statement(node)
        except _Unsupported as exc:
            if not exc.node.has_error:
                self.problem(exc.node, str(exc))
            return []

    def _statement(self, node: Node) -> list[n.Stmt]:
        at = self.mark(node)
        t = node.type
        if node.has_error:
            return []
        if t == "empty_statement":
            return []
        if t == "assignment_statement":
            return [
                n.Assign(at, self.expr(self.one(node, "left")), self.expr(self.one(node, "right")))
            ]
        if t == "invocation_statement":
            call = self.expr(self.named(node)[0])
            if not isinstance(call, n.Call):
                raise _Unsupported(node, "only calls can stand alone as statements")
            return [n.CallStmt(at, call)]
        if t == "if_statement":
            branches = [(self.expr(self.one(node, "condition")), self.body(node, "consequence"))]
            orelse: n.Body | None = None
            for c in self.named(node):
                if c.type == "elsif_clause":
                    branches.append((self.expr(self.one(c, "condition")), self.body(c)))
                elif c.type == "else_clause":
                    orelse = self.body(c)
            return [n.If(at, tuple(branches), orelse)]
        if t == "case_statement":
            clauses = []
            orelse = None
            for c in self.named(node):
                if c.type == "case_clause":
                    labels = tuple(
                        self.case_label(v) for v in self.named(c) if v.type == "case_value"
                    )
                    clauses.append((labels, self.body(c)))
                elif c.type == "else_clause":
                    orelse = self.body(c)
            return [n.Case(at, self.expr(self.one(node, "subject")), tuple(clauses), orelse)]
        if t == "for_statement":
            step = self.named(node, "step")
            return [
                n.For(
                    at,
                    self.expr(self.one(node, "control")),
                    self.expr(self.one(node, "start")),
                    self.expr(self.one(node, "end")),
                    self.expr(step[0]) if step else None,
                    self.body(node),
                )
            ]
        if t == "while_statement":
            return [n.While(at, self.expr(self.one(node, "condition")), self.body(node))]
        if t == "repeat_statement":
            return [n.Repeat(at, self.body(node), self.expr(self.one(node, "condition")))]
        if t == "exit_statement":
            return [n.Exit(at)]
        if t == "continue_statement":
            return [n.Continue(at)]
        if t == "return_statement":
            return [n.Return(at)]
        self.problem(node, f"{t.replace('_', ' ')} is not supported")
        return []

    def case_label(self, node: Node) -> n.Expr | n.Range:
        inner = self.named(node)[0]
        if inner.type == "subrange":
            lo, hi = self.one(inner, "lower"), self.one(inner, "upper")
            return n.Range(self.mark(inner), self.expr(lo), self.expr(hi))
        return self.expr(inner)

    # --- expressions ----------------------------------------------------------------------

    def expr(self, node: Node) -> n.Expr:
        at = self.mark(node)
        t = node.type
        if t == "identifier":
            return n.Name(at, self.text(node))
        if t == "parenthesized_expression":
            return self.expr(self.named(node)[0])
        if t == "binary_expression":
            op = self.text(node.child_by_field_name("operator") or node).upper()
            op = "AND" if op == "&" else op
            return n.Binary(
                at, op, self.expr(self.one(node, "left")), self.expr(self.one(node, "right"))
            )
        if t == "unary_expression":
            op = self.text(node.child_by_field_name("operator") or node).upper()
            return n.Unary(at, op, self.expr(self.one(node, "operand")))
        if t == "member_access_expression":
            member = self.one(node, "member")
            return n.Member(at, self.expr(self.one(node, "object")), self.text(member))
        if t == "index_expression":
            idx = tuple(self.expr(i) for i in self.named(node, "index"))
            return n.Index(at, self.expr(self.one(node, "object")), idx)
        if t == "call_expression":
            return n.Call(at, self.expr(self.one(node, "function")), self.arguments(node))
        return self.literal(node)

    def arguments(self, node: Node) -> tuple[n.Arg, ...]:
        lists = self.named(node, "arguments")
        if not lists:
            return ()
        out = []
        for a in self.named(lists[0]):
            if a.type == "named_argument":
                output = any(not c.is_named and self.text(c) == "=>" for c in a.children)
                value = self.named(a, "value")
                name = self.text(self.one(a, "name"))
                out.append(
                    n.Arg(self.mark(a), name, self.expr(value[0]) if value else None, output)
                )
            else:
                out.append(n.Arg(self.mark(a), None, self.expr(a)))
        return tuple(out)

    def literal(self, node: Node) -> n.Literal:
        at = self.mark(node)
        t = node.type
        text = self.text(node)
        try:
            if t == "integer_literal":
                return n.Literal(at, "int", parse_integer(text))
            if t == "real_literal":
                return n.Literal(at, "real", parse_real(text))
            if t == "boolean_literal":
                return n.Literal(at, "bool", text.strip().upper().endswith(("TRUE", "1")))
            if t == "time_literal":
                long = text.upper().startswith(("LT#", "LTIME#"))
                return n.Literal(at, "ltime" if long else "time", parse_time(text))
            if t == "string_literal":
                return n.Literal(at, "string", parse_string(text))
            if t == "typed_literal":
                prefix = self.text(self.one(node, "type")).upper()
                inner = self.literal(self.one(node, "value"))
                value: Any = inner.value
                return n.Literal(at, inner.kind, value, prefix)
        except ValueError as exc:
            raise _Unsupported(node, f"bad literal {text!r}: {exc}") from None
        raise _Unsupported(node, f"{t.replace('_', ' ')} is not supported")
