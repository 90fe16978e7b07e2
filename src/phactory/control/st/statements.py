"""Translating ST statements into Python statements (IEC 61131-3:2013 §7.3.3).

Every generated line remembers the ST line it came from (:class:`Emitter`), so a fault is
reported at its ST line. Choices that matter for speed and meaning:

* ``FOR`` runs on :func:`range` (end and step evaluated once, on entry, as §7.3.3.4.2
  permits); after a loop that ran to its end the control variable holds the first value
  past the end, as on common PLCs (``FOR i := 1 TO 3`` leaves ``i = 4``), and after
  ``EXIT`` the value it had. The control variable cannot be assigned in the loop body.
* ``CASE`` becomes an ``if``/``elif`` chain over constant labels and ranges; overlapping
  labels are reported.
* ``REPEAT`` runs its body once before testing ``UNTIL``; ``CONTINUE`` in it goes to the
  test.
* With ``count=True`` every executed statement increments a counter, which is how
  :func:`phactory.control.st.count_statements` measures statements per scan.
"""

from __future__ import annotations

from phactory.control.st import nodes as n
from phactory.control.st.expressions import E, Expressions, is_int
from phactory.control.st.symbols import NOCONST, Scope
from phactory.control.st.types import Elem, EnumType, ErrorType, wrap_code

__all__ = ["Emitter", "Statements"]


class Emitter:
    """Lines of Python source, each with its indent and the ST line it comes from."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str, int]] = []

    def emit(self, indent: int, code: str, st_line: int) -> None:
        self.lines.append((indent, code, st_line))

    def render(self) -> tuple[str, list[int]]:
        """The source text and, per Python line, its ST line."""
        text = "\n".join("    " * i + c for i, c, _ in self.lines) + "\n"
        return text, [line for _, _, line in self.lines]


def _has_continue(body: n.Body) -> bool:
    """``CONTINUE`` that belongs to this loop (not to a nested one)."""
    for st in body:
        if isinstance(st, n.Continue):
            return True
        if isinstance(st, n.If) and any(
            _has_continue(b) for b in [*(b for _, b in st.branches), st.orelse or ()]
        ):
            return True
        if isinstance(st, n.Case) and any(
            _has_continue(b) for b in [*(b for _, b in st.clauses), st.orelse or ()]
        ):
            return True
    return False


class Statements:
    """The statement translator of one POU, writing into an :class:`Emitter`."""

    def __init__(self, scope: Scope, ex: Expressions, out: Emitter, returns: str) -> None:
        self.s = scope
        self.ex = ex
        self.out = out
        #: What ``RETURN`` returns (a function's result, or nothing).
        self.returns = returns

    def emit(self, indent: int, code: str, line: int) -> None:
        self.out.emit(indent, code, line)

    def flush(self, indent: int, line: int) -> None:
        for code in self.ex.take_pre():
            self.emit(indent, code, line)

    def body(self, stmts: n.Body, indent: int, line: int) -> None:
        before = len(self.out.lines)
        for st in stmts:
            self.stmt(st, indent)
        if len(self.out.lines) == before:
            self.emit(indent, "pass", line)

    def stmt(self, st: n.Stmt, indent: int) -> None:
        line = st.at.line
        if self.s.g.count:
            self.emit(indent, "h_count[0] += 1", line)
        if isinstance(st, n.Assign):
            self.assign(st, indent)
        elif isinstance(st, n.CallStmt):
            e = self.ex.builtins.call(st.call, statement=True)
            self.flush(indent, line)
            if e is not None and not isinstance(e.type, ErrorType) and not e.code.startswith("t_"):
                self.emit(indent, e.code, line)
        elif isinstance(st, n.If):
            self.if_(st, indent)
        elif isinstance(st, n.Case):
            self.case(st, indent)
        elif isinstance(st, n.For):
            self.for_(st, indent)
        elif isinstance(st, n.While):
            self.while_(st, indent)
        elif isinstance(st, n.Repeat):
            self.repeat(st, indent)
        elif isinstance(st, (n.Exit, n.Continue)):
            word = "EXIT" if isinstance(st, n.Exit) else "CONTINUE"
            if self.s.loops == 0:
                self.s.problem(st.at, f"{word} outside a FOR, WHILE or REPEAT loop")
            self.emit(indent, "break" if word == "EXIT" else "continue", line)
        elif isinstance(st, n.Return):
            self.emit(indent, f"return {self.returns}".rstrip(), line)

    def assign(self, st: n.Assign, indent: int) -> None:
        line = st.at.line
        tgt = self.ex.target(st.target, "assignment")
        value = self.ex.expr(st.value)
        self.flush(indent, line)
        if tgt is None:
            return
        code = self.ex.coerce(value, tgt.type, st.value.at, f"assignment to {tgt.text}")
        for setup in tgt.setup:
            self.emit(indent, setup, line)
        self.emit(indent, tgt.store(code), line)

    def if_(self, st: n.If, indent: int) -> None:
        line = st.at.line
        keyword = "if"
        for cond_node, body in st.branches:
            cond = self.ex.condition(cond_node, "an IF condition")
            pre = self.ex.take_pre()
            if pre and keyword == "elif":
                # A condition that needs statements first cannot be an elif: nest it.
                self.emit(indent, "else:", cond_node.at.line)
                indent += 1
                keyword = "if"
            for code in pre:
                self.emit(indent, code, cond_node.at.line)
            self.emit(indent, f"{keyword} {cond}:", cond_node.at.line)
            self.body(body, indent + 1, cond_node.at.line)
            keyword = "elif"
        if st.orelse:
            self.emit(indent, "else:", line)
            self.body(st.orelse, indent + 1, line)

    def case(self, st: n.Case, indent: int) -> None:
        line = st.at.line
        subject = self.ex.expr(st.subject)
        t = subject.type
        if not isinstance(t, ErrorType) and not (is_int(t) or isinstance(t, EnumType)):
            self.s.problem(
                st.subject.at, f"CASE needs an integer or an enumeration, not {t.spelling}"
            )
        self.flush(indent, line)
        code = self.ex.norm(subject)
        if not code.isidentifier():
            tmp = self.s.temp()
            self.emit(indent, f"{tmp} = {code}", line)
            code = tmp
        seen: list[tuple[int, int, n.Expr | n.Range]] = []
        keyword = "if"
        for labels, body in st.clauses:
            tests = []
            for label in labels:
                lo, hi = self.label(label, t)
                if lo is None or hi is None:
                    continue
                for a, b, other in seen:
                    if lo <= b and a <= hi:
                        self.s.problem(
                            label.at, f"CASE label overlaps the one at line {other.at.line}"
                        )
                        break
                seen.append((lo, hi, label))
                tests.append(f"{code} == {lo}" if lo == hi else f"{lo} <= {code} <= {hi}")
            test = " or ".join(tests) or "False"
            self.emit(indent, f"{keyword} {test}:", labels[0].at.line if labels else line)
            self.body(body, indent + 1, line)
            keyword = "elif"
        if st.orelse:
            if keyword == "if":
                self.body(st.orelse, indent, line)
            else:
                self.emit(indent, "else:", line)
                self.body(st.orelse, indent + 1, line)

    def label(self, label: n.Expr | n.Range, t: object) -> tuple[int | None, int | None]:
        """The constant bounds of a CASE label."""
        parts = [label.lo, label.hi] if isinstance(label, n.Range) else [label]
        values: list[int | None] = []
        for p in parts:
            e = self.ex.expr(p)
            if isinstance(e.type, ErrorType):
                values.append(None)
            elif e.const is NOCONST or not isinstance(e.const, int):
                self.s.problem(p.at, "a CASE label must be a constant integer or enumeration value")
                values.append(None)
            elif isinstance(t, EnumType) and e.type is not t:
                self.s.problem(p.at, f"CASE label is not a value of {t.name}")
                values.append(None)
            else:
                values.append(e.const)
        self.ex.take_pre()
        return values[0], values[-1]

    def for_(self, st: n.For, indent: int) -> None:
        line = st.at.line
        s, ex = self.s, self.ex
        if not isinstance(st.var, n.Name):
            s.problem(st.var.at, "the FOR control variable must be a simple variable")
            return
        tgt = ex.target(st.var, "FOR control variable")
        if tgt is None:
            return
        t = tgt.type
        if not isinstance(t, ErrorType) and not is_int(t):
            s.problem(st.var.at, f"the FOR control variable must be an integer, not {t.spelling}")
            return
        var = tgt.read
        start_e = ex.expr(st.start)
        start = ex.coerce(start_e, t, st.start.at, "FOR start")
        end_e = ex.expr(st.end)
        end = ex.coerce(end_e, t, st.end.at, "FOR end")
        step_e = ex.expr(st.step) if st.step is not None else E("1", t, const=1)
        step = ex.coerce(step_e, t, st.step.at if st.step else st.at, "FOR step")
        self.flush(indent, line)
        if not end.lstrip("-").isdigit() and not end.isidentifier():
            tmp = s.temp()
            self.emit(indent, f"{tmp} = {end}", line)
            end = tmp
        if isinstance(step_e.const, int):
            if step_e.const == 0:
                s.problem(st.step.at if st.step else st.at, "the FOR step cannot be 0")
                return
            up = step_e.const > 0
            stop = f"{end} + 1" if up else f"{end} - 1"
            past = f"{var} <= {end}" if up else f"{var} >= {end}"
        else:
            tmp = s.temp()
            self.emit(indent, f"{tmp} = {step}", line)
            self.emit(indent, f"if {tmp} == 0: h_zero_step()", line)
            step = tmp
            stop = f"{end} + (1 if {tmp} > 0 else -1)"
            past = f"({tmp} > 0 and {var} <= {end}) or ({tmp} < 0 and {var} >= {end})"
        after = wrap_code(f"{var} + {step}", t) if isinstance(t, Elem) else f"{var} + {step}"
        self.emit(indent, f"{var} = {start}", line)
        self.emit(indent, f"for {var} in range({var}, {stop}, {step}):", line)
        u = st.var.name.upper()
        s.loop_vars.append(u)
        outer = s.loop_ranges.pop(u, None)
        first, last = start_e.const, end_e.const
        if isinstance(first, int) and isinstance(last, int) and isinstance(step_e.const, int):
            # Every value the body sees lies between start and end (inclusive).
            s.loop_ranges[u] = (min(first, last), max(first, last))
        s.loops += 1
        self.body(st.body, indent + 1, line)
        s.loops -= 1
        s.loop_vars.pop()
        s.loop_ranges.pop(u, None)
        if outer is not None:
            s.loop_ranges[u] = outer
        self.emit(indent, "else:", line)
        self.emit(indent + 1, f"if {past}: {var} = {after}", line)

    def while_(self, st: n.While, indent: int) -> None:
        line = st.at.line
        cond = self.ex.condition(st.cond, "a WHILE condition")
        pre = self.ex.take_pre()
        self.s.loops += 1
        if not pre:
            self.emit(indent, f"while {cond}:", line)
        else:
            self.emit(indent, "while True:", line)
            for code in pre:
                self.emit(indent + 1, code, line)
            self.emit(indent + 1, f"if not {cond}: break", line)
        self.body(st.body, indent + 1, line)
        self.s.loops -= 1

    def repeat(self, st: n.Repeat, indent: int) -> None:
        line = st.at.line
        until = st.cond.at.line
        self.s.loops += 1
        if _has_continue(st.body):
            flag = self.s.temp()
            self.emit(indent, f"{flag} = False", line)
            self.emit(indent, "while True:", line)
            self.emit(indent + 1, f"if {flag}:", until)
            cond = self.ex.condition(st.cond, "an UNTIL condition")
            for code in self.ex.take_pre():
                self.emit(indent + 2, code, until)
            self.emit(indent + 2, f"if {cond}: break", until)
            self.emit(indent + 1, f"{flag} = True", line)
            self.body(st.body, indent + 1, line)
        else:
            self.emit(indent, "while True:", line)
            self.body(st.body, indent + 1, line)
            cond = self.ex.condition(st.cond, "an UNTIL condition")
            for code in self.ex.take_pre():
                self.emit(indent + 1, code, until)
            self.emit(indent + 1, f"if {cond}: break", until)
        self.s.loops -= 1
