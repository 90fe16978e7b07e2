"""ISA-88 phases over OPC UA: Start parameters, reports, PackML state names.

A phase's ``Start`` method takes its parameters as one String argument, ``Parameters``,
holding a JSON object (RFC 8259) of numbers: ``{"temperature": 37.0, "volume": 500}``.
One String keeps the method's signature the same for every phase whatever its
parameters, so a generic client (UaExpert, a SCADA) can call it, and mirrors the
control recipe's parameter list (ISA-88.00.01 §5.4.3, formula). The phase's ``Reports``
variable holds the report values the same way. PackML state names are written as in
OPC 30050 (``Execute``, ``Complete``).
"""

from __future__ import annotations

import json
import math
from typing import Final

from phactory.batch.states import Command
from phactory.control.view import PackMLState
from phactory.errors import InvalidError

__all__ = ["METHOD_HELP", "packml_name", "parse_parameters", "reports_json"]

#: Description of each phase method.
METHOD_HELP: Final[dict[Command, str]] = {
    Command.START: (
        "ISA-88 Start; Parameters: JSON object {name: number} of phase parameters ('' for none)"
    ),
    Command.PAUSE: "ISA-88 Pause",
    Command.RESUME: "ISA-88 Resume",
    Command.HOLD: "ISA-88 Hold",
    Command.RESTART: "ISA-88 Restart (from Held)",
    Command.STOP: "ISA-88 Stop",
    Command.ABORT: "ISA-88 Abort",
    Command.RESET: "ISA-88 Reset (from Complete, Stopped or Aborted)",
}


def reports_json(reports: dict[str, float]) -> str:
    """A phase's reports as served in ``Reports``: a JSON object, keys sorted; values
    that are not finite numbers become ``null`` (JSON has no NaN)."""
    clean = {
        k: (v if isinstance(v, int | float) and math.isfinite(v) else None)
        for k, v in reports.items()
    }
    return json.dumps(clean, sort_keys=True, separators=(",", ":"))


def packml_name(state: PackMLState) -> str:
    """``EXECUTE`` -> ``Execute``: the state name as OPC 30050 writes it."""
    return state.name.capitalize()


def parse_parameters(text: str) -> dict[str, float]:
    """The ``Parameters`` argument of ``Start``: a JSON object of finite numbers.

    Raises
    ------
    InvalidError
        If ``text`` is not such an object.
    """
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidError(f"Start: Parameters is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidError('Start: Parameters must be a JSON object {"name": number, ...}')
    out: dict[str, float] = {}
    for k, v in data.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise InvalidError(f"Start: parameter {k!r} must be a finite number, not {v!r}")
        out[k] = float(v)
    return out
