"""Readers for the public job-shop and flexible job-shop benchmark file formats.

Three layouts are understood; every error names ``FILE:LINE`` and never escapes as a bare
traceback (:class:`~phactory.schedule.benchmarks.instances.InstanceFormatError`).

Standard job-shop format (OR-Library ``jobshop1.txt``, JSPLIB)
    Optional ``#`` comment lines, then ``n_jobs n_machines``, then one line per job listing
    ``machine time`` pairs in processing order; machines are 0-based. Used for the
    Fisher & Thompson [1]_ and Lawrence [2]_ instances.

Taillard layout
    ``Nb of jobs, Nb of Machines, Time seed, Machine seed, Upper bound, Lower bound``, a
    line of those integers, ``Times`` followed by one row of processing times per job, then
    ``Machines`` followed by one row of 1-based machine numbers per job (Taillard [3]_).
    :func:`read_jsp` detects this layout by its ``Times`` keyword.

Brandimarte flexible job-shop format (``.fjs``)
    ``n_jobs n_machines [average machines per operation]``, then one line per job:
    the number of operations, then for each operation ``k`` followed by ``k`` pairs
    ``machine time`` with 1-based machines (Brandimarte [4]_).

References
----------
.. [1] H. Fisher, G. L. Thompson (1963). Probabilistic learning combinations of local
   job-shop scheduling rules. In *Industrial Scheduling*, Prentice Hall, 225-251.
.. [2] S. Lawrence (1984). Resource constrained project scheduling: an experimental
   investigation of heuristic scheduling techniques (Supplement). GSIA, Carnegie-Mellon
   University, Pittsburgh.
.. [3] E. Taillard (1993). Benchmarks for basic scheduling problems. *European Journal of
   Operational Research* 64(2), 278-285.
.. [4] P. Brandimarte (1993). Routing and scheduling in a flexible job shop by tabu search.
   *Annals of Operations Research* 41, 157-183.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from phactory.schedule.benchmarks.instances import (
    Alternative,
    InstanceFormatError,
    Operation,
    ShopInstance,
)

__all__ = [
    "FileFormat",
    "parse_fjs",
    "parse_jsp",
    "parse_taillard",
    "read_fjs",
    "read_instance",
    "read_jsp",
]

FileFormat = Literal["jsp", "fjsp"]


@dataclass(frozen=True, slots=True)
class _Line:
    """A non-blank, non-comment line: its 1-based number and whitespace-split tokens."""

    number: int
    tokens: tuple[str, ...]


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        # '#' starts a comment (JSPLIB convention); our shipped files use it for provenance.
        content = raw.split("#", 1)[0]
        tokens = tuple(content.split())
        if tokens:
            out.append(_Line(number, tokens))
    return out


def _int(token: str, file: str, line: int, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise InstanceFormatError(
            file, line, f"{what}: expected an integer, got {token!r}"
        ) from None


def _ints(line: _Line, file: str, what: str) -> list[int]:
    return [_int(t, file, line.number, what) for t in line.tokens]


def _positive(value: int, file: str, line: int, what: str) -> int:
    if value <= 0:
        raise InstanceFormatError(file, line, f"{what} must be positive, got {value}")
    return value


def _duration(value: int, file: str, line: int, where: str) -> int:
    if value < 0:
        raise InstanceFormatError(file, line, f"{where}: negative processing time {value}")
    return value


def _name_of(file: str) -> str:
    return Path(file).stem if file != "<string>" else "instance"


def _kind(jobs: tuple[tuple[Operation, ...], ...]) -> Literal["jsp", "fjsp"]:
    flexible = any(len(op.alternatives) != 1 for job in jobs for op in job)
    return "fjsp" if flexible else "jsp"


def _header(lines: list[_Line], file: str, what: str) -> tuple[int, int]:
    if not lines:
        raise InstanceFormatError(file, 1, f"empty file: expected the {what} header")
    first = lines[0]
    if len(first.tokens) < 2:
        raise InstanceFormatError(
            file, first.number, f"header must start with 'n_jobs n_machines', got {first.tokens}"
        )
    n = _positive(_int(first.tokens[0], file, first.number, "n_jobs"), file, first.number, "n_jobs")
    m = _positive(
        _int(first.tokens[1], file, first.number, "n_machines"), file, first.number, "n_machines"
    )
    return n, m


def _check_count(lines: list[_Line], expected: int, file: str, what: str, last_line: int) -> None:
    if len(lines) < expected:
        raise InstanceFormatError(
            file, last_line, f"expected {expected} {what} lines, found {len(lines)}"
        )
    if len(lines) > expected:
        extra = lines[expected]
        raise InstanceFormatError(
            file, extra.number, f"unexpected data after the last {what} line: {extra.tokens[:4]}"
        )


def parse_jsp(text: str, file: str = "<string>", name: str | None = None) -> ShopInstance:
    """Parse a job-shop instance in the standard layout, or in Taillard's layout.

    Parameters
    ----------
    text
        File contents.
    file
        Name used in error messages and as :attr:`ShopInstance.source`.
    name
        Instance name; defaults to the file stem.

    Returns
    -------
    ShopInstance
        A ``"jsp"`` instance with 0-based machines.

    Raises
    ------
    InstanceFormatError
        With ``FILE:LINE`` of the first problem found.
    """
    lines = _lines(text)
    if any(t.lower() == "times" for ln in lines for t in ln.tokens):
        return parse_taillard(text, file, name)
    n, m = _header(lines, file, "'n_jobs n_machines'")
    header = lines[0]
    if len(header.tokens) != 2:
        raise InstanceFormatError(
            file, header.number, f"header must be 'n_jobs n_machines', got {list(header.tokens)}"
        )
    body = lines[1:]
    last = body[-1].number if body else header.number
    _check_count(body, n, file, "job", last)
    jobs: list[tuple[Operation, ...]] = []
    for j, line in enumerate(body):
        values = _ints(line, file, f"job {j}")
        if len(values) != 2 * m:
            raise InstanceFormatError(
                file,
                line.number,
                f"job {j}: expected {m} 'machine time' pairs ({2 * m} integers), "
                f"got {len(values)} integers",
            )
        ops: list[Operation] = []
        for o in range(m):
            machine, duration = values[2 * o], values[2 * o + 1]
            if not 0 <= machine < m:
                raise InstanceFormatError(
                    file,
                    line.number,
                    f"job {j} operation {o}: machine {machine} outside 0..{m - 1} "
                    "(this format numbers machines from 0)",
                )
            _duration(duration, file, line.number, f"job {j} operation {o}")
            ops.append(Operation((Alternative(machine, duration),)))
        jobs.append(tuple(ops))
    return ShopInstance(
        name=name or _name_of(file), kind="jsp", n_machines=m, jobs=tuple(jobs), source=file
    )


def parse_taillard(text: str, file: str = "<string>", name: str | None = None) -> ShopInstance:
    """Parse Taillard's layout: a ``Times`` matrix then a 1-based ``Machines`` matrix.

    The optional descriptive first line (``Nb of jobs, Nb of Machines, ...``) is skipped;
    the integer line after it gives ``n_jobs n_machines`` and optionally the time seed,
    machine seed and the upper and lower bounds Taillard printed. These are kept in
    :attr:`ShopInstance.meta` for reference only.

    Raises
    ------
    InstanceFormatError
        With ``FILE:LINE`` of the first problem found.
    """
    lines = _lines(text)
    if lines and lines[0].tokens[0].lower() == "nb":
        lines = lines[1:]
    if not lines:
        raise InstanceFormatError(file, 1, "empty file: expected the Taillard header")
    header = lines[0]
    values = _ints(header, file, "Taillard header")
    if len(values) not in (2, 6):
        raise InstanceFormatError(
            file,
            header.number,
            "Taillard header must hold 'n_jobs n_machines' optionally followed by "
            f"'time_seed machine_seed upper_bound lower_bound', got {len(values)} integers",
        )
    n = _positive(values[0], file, header.number, "n_jobs")
    m = _positive(values[1], file, header.number, "n_machines")
    meta: dict[str, int] = {}
    if len(values) == 6:
        meta = dict(
            zip(
                ("time_seed", "machine_seed", "upper_bound", "lower_bound"),
                values[2:],
                strict=True,
            )
        )

    def section(start: int, keyword: str) -> tuple[list[_Line], int]:
        if start >= len(lines) or [t.lower() for t in lines[start].tokens] != [keyword]:
            at = lines[start].number if start < len(lines) else lines[-1].number
            raise InstanceFormatError(file, at, f"expected the line {keyword.capitalize()!r}")
        rows = lines[start + 1 : start + 1 + n]
        if len(rows) < n or any(not r.tokens[0].lstrip("-").isdigit() for r in rows):
            short = next((r for r in rows if not r.tokens[0].lstrip("-").isdigit()), None)
            at = short.number if short else lines[-1].number
            raise InstanceFormatError(
                file, at, f"{keyword.capitalize()}: expected {n} rows of {m} integers"
            )
        return rows, start + 1 + n

    time_rows, nxt = section(1, "times")
    machine_rows, end = section(nxt, "machines")
    if end < len(lines):
        extra = lines[end]
        raise InstanceFormatError(
            file, extra.number, f"unexpected data after the Machines matrix: {extra.tokens[:4]}"
        )
    jobs: list[tuple[Operation, ...]] = []
    for j, (trow, mrow) in enumerate(zip(time_rows, machine_rows, strict=True)):
        times = _ints(trow, file, f"Times row {j + 1}")
        machines = _ints(mrow, file, f"Machines row {j + 1}")
        for row, vals, label in ((trow, times, "Times"), (mrow, machines, "Machines")):
            if len(vals) != m:
                raise InstanceFormatError(
                    file, row.number, f"{label} row {j + 1}: expected {m} integers, got {len(vals)}"
                )
        ops: list[Operation] = []
        for o, (duration, machine) in enumerate(zip(times, machines, strict=True)):
            if not 1 <= machine <= m:
                raise InstanceFormatError(
                    file,
                    mrow.number,
                    f"Machines row {j + 1}: machine {machine} outside 1..{m} "
                    "(Taillard numbers machines from 1)",
                )
            _duration(duration, file, trow.number, f"Times row {j + 1} column {o + 1}")
            ops.append(Operation((Alternative(machine - 1, duration),)))
        jobs.append(tuple(ops))
    return ShopInstance(
        name=name or _name_of(file),
        kind="jsp",
        n_machines=m,
        jobs=tuple(jobs),
        source=file,
        meta=meta,
    )


def parse_fjs(text: str, file: str = "<string>", name: str | None = None) -> ShopInstance:
    """Parse a Brandimarte ``.fjs`` flexible job-shop instance.

    Returns
    -------
    ShopInstance
        ``kind`` is ``"fjsp"`` unless every operation has a single eligible machine, in which
        case the instance is reported as a ``"jsp"`` (it is one).

    Raises
    ------
    InstanceFormatError
        With ``FILE:LINE`` of the first problem found.
    """
    lines = _lines(text)
    n, m = _header(lines, file, "'n_jobs n_machines [avg]'")
    header = lines[0]
    if len(header.tokens) > 3:
        raise InstanceFormatError(
            file,
            header.number,
            f"header must be 'n_jobs n_machines [avg]', got {len(header.tokens)} values",
        )
    if len(header.tokens) == 3:
        try:
            float(header.tokens[2])
        except ValueError:
            raise InstanceFormatError(
                file,
                header.number,
                f"third header value (average machines per operation) must be a number, "
                f"got {header.tokens[2]!r}",
            ) from None
    body = lines[1:]
    last = body[-1].number if body else header.number
    _check_count(body, n, file, "job", last)
    jobs: list[tuple[Operation, ...]] = []
    for j, line in enumerate(body):
        values = _ints(line, file, f"job {j + 1}")
        n_ops = _positive(values[0], file, line.number, f"job {j + 1}: number of operations")
        pos = 1
        ops: list[Operation] = []
        for o in range(n_ops):
            where = f"job {j + 1} operation {o + 1}"
            if pos >= len(values):
                raise InstanceFormatError(
                    file, line.number, f"{where}: line ends early ({n_ops} operations announced)"
                )
            k = _positive(values[pos], file, line.number, f"{where}: number of machines")
            pairs = values[pos + 1 : pos + 1 + 2 * k]
            if len(pairs) < 2 * k:
                raise InstanceFormatError(
                    file,
                    line.number,
                    f"{where}: expected {k} 'machine time' pairs, line ends early",
                )
            alts: list[Alternative] = []
            for machine, duration in zip(pairs[0::2], pairs[1::2], strict=True):
                if not 1 <= machine <= m:
                    raise InstanceFormatError(
                        file,
                        line.number,
                        f"{where}: machine {machine} outside 1..{m} (.fjs numbers machines from 1)",
                    )
                if any(a.machine == machine - 1 for a in alts):
                    raise InstanceFormatError(
                        file, line.number, f"{where}: machine {machine} listed twice"
                    )
                alts.append(Alternative(machine - 1, _duration(duration, file, line.number, where)))
            ops.append(Operation(tuple(alts)))
            pos += 1 + 2 * k
        if pos != len(values):
            raise InstanceFormatError(
                file,
                line.number,
                f"job {j + 1}: {len(values) - pos} unexpected integers after its "
                f"{n_ops} operations",
            )
        jobs.append(tuple(ops))
    frozen = tuple(jobs)
    return ShopInstance(
        name=name or _name_of(file), kind=_kind(frozen), n_machines=m, jobs=frozen, source=file
    )


def _read_text(path: str | Path) -> tuple[str, str]:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except UnicodeDecodeError:
        raise InstanceFormatError(str(p), 0, "not a UTF-8 text file") from None


def read_jsp(path: str | Path, name: str | None = None) -> ShopInstance:
    """Read a job-shop file (standard or Taillard layout); see :func:`parse_jsp`."""
    text, file = _read_text(path)
    return parse_jsp(text, file, name)


def read_fjs(path: str | Path, name: str | None = None) -> ShopInstance:
    """Read a Brandimarte ``.fjs`` file; see :func:`parse_fjs`."""
    text, file = _read_text(path)
    return parse_fjs(text, file, name)


def read_instance(
    path: str | Path, fmt: FileFormat | None = None, name: str | None = None
) -> ShopInstance:
    """Read a benchmark file, choosing the reader by ``fmt`` or else by file extension.

    Parameters
    ----------
    path
        The file to read.
    fmt
        ``"jsp"`` (standard or Taillard layout) or ``"fjsp"`` (Brandimarte ``.fjs``). When
        ``None``, ``.fjs`` files are read as FJSP and everything else as JSP.
    name
        Instance name; defaults to the file stem.
    """
    if fmt is None:
        fmt = "fjsp" if Path(path).suffix.lower() == ".fjs" else "jsp"
    return read_fjs(path, name) if fmt == "fjsp" else read_jsp(path, name)
