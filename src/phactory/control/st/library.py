"""Compiling ST sources into a :class:`Library` of Python classes and functions.

The pipeline runs once per library: parse every file (:mod:`.syntax`), collect the
declarations of all of them (:mod:`.declare`), translate every POU (:mod:`.pous`), and
only when no problem was found anywhere, ``exec`` the generated sources in one namespace.
Problems of all files are raised together as one :class:`~.errors.STCompileError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from phactory.control.pou import NS_PER_MS, POU, ScanContext, VarDecl
from phactory.control.st.declare import Declarations
from phactory.control.st.errors import STCompileError, STProblem
from phactory.control.st.pous import block_source, function_source, struct_source
from phactory.control.st.runtime import SourceMap, make_namespace, register_source
from phactory.control.st.statements import Emitter
from phactory.control.st.symbols import Globals
from phactory.control.st.syntax import SourceUnit, parse_source
from phactory.control.st.types import StructType
from phactory.errors import NotFoundError
from phactory.model.errors import Mark, Problem

__all__ = ["Library", "compile_files", "compile_source", "count_statements", "default_blocks"]

_ids = itertools.count(1)


def default_blocks() -> dict[str, type[POU]]:
    """The Python function blocks ST can use: the standard ones of ``phactory.control.blocks``."""
    try:
        from phactory.control.blocks import standard_blocks
    except ImportError:  # pragma: no cover - only while the blocks package is missing
        return {}
    return standard_blocks()


class Library:
    """What a set of ST sources compiled into.

    Attributes
    ----------
    pous
        Program and function-block classes by upper-case name; each is a
        :class:`~phactory.control.pou.POU` subclass: ``cls(ctx)`` makes an instance and
        calling the instance runs one scan (program) or one call (function block).
    functions
        ST functions by upper-case name, as Python functions taking the inputs and in-outs
        positionally in declaration order.
    structs
        Structure types by upper-case name (classes with ``__slots__`` and ``DECLS``).
    files
        The source files, in the order given.
    """

    def __init__(
        self,
        pous: dict[str, type[POU]],
        functions: dict[str, Callable[..., Any]],
        structs: dict[str, type],
        sources: dict[str, str],
        texts: list[tuple[str, str]],
        blocks: dict[str, type[POU]],
        namespace: dict[str, Any],
    ) -> None:
        self.pous = pous
        self.functions = functions
        self.structs = structs
        self.files = [file for _, file in texts]
        #: Upper-case name -> name as declared, for every POU and structure type.
        self.names: dict[str, str] = {}
        self._sources = sources
        self._texts = texts
        self._blocks = blocks
        self._ns = namespace

    def programs(self) -> dict[str, type[POU]]:
        """The ``PROGRAM`` classes by upper-case name, in source order."""
        return {k: c for k, c in self.pous.items() if c.KIND == "PROGRAM"}

    def function_blocks(self) -> dict[str, type[POU]]:
        """The ``FUNCTION_BLOCK`` classes by upper-case name, in source order."""
        return {k: c for k, c in self.pous.items() if c.KIND == "FUNCTION_BLOCK"}

    def create(self, name: str, ctx: ScanContext | None = None) -> POU:
        """A new instance of program or function block ``name`` (any case)."""
        cls = self.pous.get(name.upper())
        if cls is None:
            raise NotFoundError(f"no program or function block {name!r} in {', '.join(self.files)}")
        return cls(ctx or ScanContext())

    def source(self, name: str) -> str:
        """The Python source generated for a POU or structure type (any case)."""
        try:
            return self._sources[name.upper()]
        except KeyError:
            raise NotFoundError(f"nothing named {name!r} was compiled") from None

    def decls(self, name: str) -> tuple[VarDecl, ...]:
        """The declared variables of a program, function block or structure type."""
        cls = self.pous.get(name.upper()) or self.structs.get(name.upper())
        if cls is None:
            raise NotFoundError(f"nothing named {name!r} was compiled")
        decls: tuple[VarDecl, ...] = getattr(cls, "DECLS", ())
        return decls

    def __repr__(self) -> str:
        return (
            f"Library({', '.join(self.pous) or 'no POUs'}; functions {', '.join(self.functions)})"
        )


def compile_source(
    text: str,
    filename: str = "<string>",
    *,
    blocks: Mapping[str, type[POU]] | None = None,
) -> Library:
    """Compile one ST source text.

    Parameters
    ----------
    text
        The ST source.
    filename
        Named in problems and run-time faults.
    blocks
        Python function blocks to offer besides the standard ones (upper-case name ->
        class, see :mod:`phactory.control.blocks` for the interface).

    Raises
    ------
    STCompileError
        With every problem of the source.
    """
    return compile_texts([(text, filename)], blocks=blocks)


def compile_files(
    paths: Iterable[str | Path], *, blocks: Mapping[str, type[POU]] | None = None
) -> Library:
    """Compile ST files together (a POU may use types and POUs of the others).

    Raises
    ------
    NotFoundError
        A file does not exist.
    STCompileError
        With every problem of every file.
    """
    texts = []
    for p in paths:
        path = Path(p)
        try:
            texts.append((path.read_text(encoding="utf-8"), str(p)))
        except FileNotFoundError:
            raise NotFoundError(f"no such file: {p}") from None
        except UnicodeDecodeError as exc:
            raise STCompileError.of(
                [STProblem(f"not UTF-8 text ({exc.reason})", (), Mark(str(p), 1, 1))], str(p)
            ) from None
    return compile_texts(texts, blocks=blocks)


def compile_texts(
    texts: Sequence[tuple[str, str]],
    *,
    blocks: Mapping[str, type[POU]] | None = None,
    count: bool = False,
) -> Library:
    """Compile ``(text, filename)`` pairs; ``count`` instruments every statement."""
    all_blocks = {**default_blocks(), **{k.upper(): v for k, v in (blocks or {}).items()}}
    units: list[SourceUnit] = [parse_source(text, file) for text, file in texts]
    g = Globals(count=count)
    problems: list[Problem] = [p for u in units for p in u.problems]
    d = Declarations(g, units, all_blocks)
    d.run()
    generated: list[tuple[str, str, Emitter, str]] = []  # (key, pyname, code, file)
    for key, t in g.types.items():
        if isinstance(t, StructType):
            generated.append((key, t.pyname, struct_source(t), d.type_nodes[key].at.file))
    for key, p in d.pous.items():
        if p.has_errors:
            continue
        scope = d.scopes[key]
        emit = function_source if p.kind == "FUNCTION" else block_source
        pyname = f"F__{key}" if p.kind == "FUNCTION" else f"B__{key}"
        generated.append((key, pyname, emit(p, scope, pyname), d.files[key]))
    problems.extend(g.problems)
    source_names = ", ".join(file for _, file in texts)
    if problems:
        raise STCompileError.of(problems, source_names)
    lib_id = next(_ids)
    maps: dict[str, SourceMap] = {}
    ns = make_namespace(g.sites, maps, POU)
    for fb in g.blocks.values():
        if fb.cls is not None:
            ns[fb.pyname] = fb.cls
    for pyname, decls in d.decls.items():
        ns[f"D__{pyname}"] = decls
    sources: dict[str, str] = {}
    for key, _pyname, code, file in generated:
        text, lines = code.render()
        filename = f"<st {file}:{key} #{lib_id}>"
        maps[filename] = SourceMap(file, lines)
        register_source(filename, text)
        exec(compile(text, filename, "exec"), ns)
        sources[key] = text
    pous = {k: ns[f"B__{k}"] for k, p in d.pous.items() if p.kind != "FUNCTION"}
    functions = {k: ns[f"F__{k}"] for k, p in d.pous.items() if p.kind == "FUNCTION"}
    structs = {k: ns[t.pyname] for k, t in g.types.items() if isinstance(t, StructType)}
    lib = Library(pous, functions, structs, sources, list(texts), dict(blocks or {}), ns)
    lib.names = {k: p.name for k, p in d.pous.items()}
    lib.names.update({k: t.name for k, t in g.types.items() if isinstance(t, StructType)})
    return lib


def count_statements(
    library: Library, program: str, scans: int = 1, cycle_ns: int = 10 * NS_PER_MS
) -> int:
    """ST statements executed by ``scans`` scans of a fresh instance of ``program``.

    The library is compiled again with a counter before every statement (so the library
    itself stays uninstrumented and fast); the scans advance ``ScanContext.now_ns`` by
    ``cycle_ns`` each. Dividing this count by the time the same scans take uninstrumented
    gives ST statements per second (``benchmarks/control_st.py``).
    """
    counted = compile_texts(library._texts, blocks=library._blocks, count=True)
    ctx = ScanContext(cycle_ns)
    inst = counted.create(program, ctx)
    counter: list[int] = counted._ns["h_count"]
    counter[0] = 0
    for k in range(scans):
        ctx.now_ns = k * cycle_ns
        ctx.scan = k
        inst()
    return counter[0]
