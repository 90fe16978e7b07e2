"""Online change: a new version of a program replaces the running one between two scans.

A PLC's online change (download without stop) keeps the process running while the logic
changes; what it must decide is which state carries over. The rule here, applied to the
program's variables and, recursively, to the members of its function-block instances:

1. The new version must be a ``PROGRAM`` with the same name as the running one. A
   different name is a different program: load it next to the old one instead.
2. A variable that keeps its name **and** its type keeps its value. A member
   function-block instance whose class is the very same (a standard block, or a block
   from the same compilation) is carried over whole, hidden state included; an instance
   of a new version of the same block type is carried over member by member under these
   rules.
3. A new variable gets its initial value, and so does one whose type changed - unless
   that would lose state the program relies on, which refuses the change:

   * a variable declared ``RETAIN`` (in the old or the new version) whose type changed:
     its durable value would be lost or misread;
   * a function-block instance whose type changed while running (``t1 : TON`` becoming
     ``t1 : TOF``): its running state has no meaning for the other block.
4. Variables that are gone are dropped; a dropped ``RETAIN`` variable leaves the durable
   store at the next commit.
5. Constants, ``VAR_TEMP``, ``VAR_IN_OUT`` and ``VAR_EXTERNAL`` hold no state of their own:
   they take what the new version declares.

The check is complete before anything changes: a refused change leaves the running
program untouched and lists every reason (:class:`OnlineChangeRefused`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phactory.control.pou import POU, ScanContext, VarDecl
from phactory.control.runtime.state import _fields, has_state, same_type
from phactory.errors import ConflictError

__all__ = ["ChangeReport", "OnlineChangeRefused", "plan_change"]


class OnlineChangeRefused(ConflictError):
    """The new version cannot replace the running program; :attr:`reasons` says why."""

    def __init__(self, program: str, reasons: list[str]) -> None:
        self.program = program
        self.reasons = reasons
        super().__init__(f"online change of {program} refused: " + "; ".join(reasons))


@dataclass
class ChangeReport:
    """What an accepted online change did, by variable path."""

    program: str
    kept: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def plan_change(
    instance_name: str, old: POU, new_cls: type[POU], ctx: ScanContext
) -> tuple[POU, ChangeReport]:
    """The new instance carrying ``old``'s state over (see the module rules), and a report.

    Nothing is changed in ``old`` (its member instances may be moved into the new one, so
    ``old`` must not run again once the new instance is installed).

    Raises
    ------
    OnlineChangeRefused
        With every reason.
    """
    reasons: list[str] = []
    old_cls = type(old)
    if getattr(new_cls, "KIND", "") != "PROGRAM":
        reasons.append(f"{getattr(new_cls, 'NAME', new_cls.__name__)} is not a PROGRAM")
    if getattr(new_cls, "NAME", "").upper() != old_cls.NAME.upper():
        reasons.append(
            f"program name changed from {old_cls.NAME} to {getattr(new_cls, 'NAME', '?')}: "
            "load it as a new program instead"
        )
    if reasons:
        raise OnlineChangeRefused(instance_name, reasons)
    new = new_cls(ctx)
    report = ChangeReport(instance_name)
    moves: list[tuple[Any, str, Any]] = []
    _plan(old, new, "", False, moves, report, reasons)
    if reasons:
        raise OnlineChangeRefused(instance_name, reasons)
    for holder, attr, value in moves:
        setattr(holder, attr, value)
    return new, report


def _plan(
    old: POU,
    new: POU,
    prefix: str,
    retained: bool,
    moves: list[tuple[Any, str, Any]],
    report: ChangeReport,
    reasons: list[str],
) -> None:
    """Plan the moves of ``old``'s state into ``new`` (``retained``: the instance itself
    is declared RETAIN)."""
    old_decls: dict[str, VarDecl] = {d.name.upper(): d for d in type(old).DECLS}
    seen: set[str] = set()
    for nd in type(new).DECLS:
        path = prefix + nd.name
        od = old_decls.get(nd.name.upper())
        if od is not None:
            seen.add(nd.name.upper())
        if not has_state(nd) or od is None or not has_state(od):
            report.initialised.append(path)
            continue
        old_value = getattr(old, od.name)
        new_value = getattr(new, nd.name)
        is_block = isinstance(old_value, POU) or isinstance(new_value, POU)
        if not same_type(od, nd):
            change = f"{path} changed type from {od.type_name} to {nd.type_name}"
            if is_block:
                reasons.append(f"{change}: a function-block instance cannot change type")
            elif retained or od.retain or nd.retain:
                reasons.append(f"{change} while declared RETAIN")
            else:
                report.initialised.append(path)
            continue
        if is_block:
            if type(old_value) is type(new_value):
                moves.append((new, nd.name, old_value))
                report.kept.append(path)
            elif isinstance(old_value, POU) and isinstance(new_value, POU):
                _plan(
                    old_value,
                    new_value,
                    f"{path}.",
                    retained or nd.retain,
                    moves,
                    report,
                    reasons,
                )
            else:
                reasons.append(f"{path} is a function-block instance in one version only")
            continue
        moves.append((new, nd.name, _carry(old_value, new_value)))
        report.kept.append(path)
    for name, od in old_decls.items():
        if name not in seen and has_state(od):
            report.dropped.append(prefix + od.name)


def _carry(old: Any, new: Any) -> Any:
    """``old``'s value in the shape of ``new`` (same declared type): the old value itself
    when the Python types agree, else field by field (a struct type recompiled)."""
    if type(old) is type(new) and not isinstance(new, list):
        fields = _fields(new) if not isinstance(new, bool | int | float | str | dict) else None
        if fields is None or set(fields) == set(_fields(old) or ()):
            return old
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [_carry(o, n) for o, n in zip(old, new, strict=True)]
    if isinstance(new, float) and type(old) is int:
        return float(old)
    new_fields = _fields(new)
    old_fields = set(_fields(old) or ())
    if new_fields and not isinstance(new, bool | int | float | str):
        for name in new_fields:
            if name in old_fields:
                setattr(new, name, _carry(getattr(old, name), getattr(new, name)))
        return new
    return old if type(old) is type(new) else new
