"""The I/O image of a controller: plant values into program inputs, outputs back out.

IEC 61131-3:2013 §6.8.2 has a task read its inputs, execute its programs and write its
outputs. A :class:`IOMap` says what that means for one controller, with plain callables
so that anything can sit on the other side (a virtual plant, a test, a fieldbus):

* :meth:`IOMap.input` - before each scan of the program's task, ``read()`` is written into
  the program variable (the input image is frozen for the whole scan);
* :meth:`IOMap.output` - after the scan, the variable's value is passed to ``write``; in
  the safe state (a fault), ``write(safe)`` instead, ``safe`` defaulting to the
  variable's initial value;
* :meth:`IOMap.before_scan` / :meth:`IOMap.after_scan` - a bulk hook for a whole task, for a
  plant that moves many values at once (it may read and write programs directly through
  :meth:`Controller.program`).

Targets are written ``PROGRAM_INSTANCE.path`` (``"tank.level_pv"``, ``"tank.pid1.SP"``).
The map only records the wiring; the controller resolves it against its program
instances when it starts and again after an online change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phactory.errors import InvalidError

__all__ = ["IOMap", "InputBinding", "OutputBinding", "ScanHook"]

#: A hook run before or after a scan of a task; it gets the task's name.
ScanHook = Callable[[str], None]

_NO_SAFE = object()


def _split(target: str) -> tuple[str, str]:
    program, sep, path = target.partition(".")
    if not sep or not program or not path:
        raise InvalidError(f"I/O target {target!r} must be written PROGRAM.variable")
    return program, path


@dataclass(frozen=True, slots=True)
class InputBinding:
    """``program.path := read()`` before every scan of the program's task."""

    program: str
    path: str
    read: Callable[[], Any]


@dataclass(frozen=True, slots=True)
class OutputBinding:
    """``write(program.path)`` after every scan; ``write(safe)`` in the safe state."""

    program: str
    path: str
    write: Callable[[Any], None]
    safe: Any = _NO_SAFE

    @property
    def has_safe(self) -> bool:
        """A safe value was given (otherwise the variable's initial value is used)."""
        return self.safe is not _NO_SAFE


@dataclass
class IOMap:
    """The wiring of one controller's programs to the outside (see the module docs)."""

    inputs: list[InputBinding] = field(default_factory=list)
    outputs: list[OutputBinding] = field(default_factory=list)
    before: list[tuple[str | None, ScanHook]] = field(default_factory=list)
    after: list[tuple[str | None, ScanHook]] = field(default_factory=list)

    def input(self, target: str, read: Callable[[], Any]) -> None:
        """Before each scan, write ``read()`` into ``target`` (``PROGRAM.path``)."""
        program, path = _split(target)
        self.inputs.append(InputBinding(program, path, read))

    def output(self, target: str, write: Callable[[Any], None], safe: Any = _NO_SAFE) -> None:
        """After each scan, pass the value of ``target`` to ``write``; on a fault pass
        ``safe`` (default: the variable's initial value)."""
        program, path = _split(target)
        self.outputs.append(OutputBinding(program, path, write, safe))

    def before_scan(self, hook: ScanHook, task: str | None = None) -> None:
        """Run ``hook(task_name)`` before each scan of ``task`` (every task if None)."""
        self.before.append((task, hook))

    def after_scan(self, hook: ScanHook, task: str | None = None) -> None:
        """Run ``hook(task_name)`` after each scan of ``task`` (every task if None)."""
        self.after.append((task, hook))
