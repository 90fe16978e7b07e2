"""Genealogy: the graph of lots consumed and produced by batches, and chain of identity.

Every material movement of a batch step is an edge ``lot -> batch`` (consumed) or
``batch -> lot`` (produced) in ``ebr_lot_links``. :func:`trace` walks the graph forward
(where did this lot go?) or backward (what went into it?), as needed for recalls and
for the QP's certification (EU GMP Annex 16; 21 CFR 211.188(b)).

For autologous therapies every patient-specific lot carries its patient id; the chain
of identity is checked at every scan (:func:`chain_of_identity_problem`): the lot's
patient and the patient on the scanned label must both be the batch's patient (FACT-JACIE
chain of identity; EU GMP Part IV (ATMP) §6.35).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal, cast

from sqlalchemy import Connection, Table, select

from phactory.records.schema import LotLinkRow

__all__ = ["Direction", "Genealogy", "TraceEdge", "chain_of_identity_problem", "trace"]

Direction = Literal["forward", "backward"]

_LINKS: Final = cast(Table, LotLinkRow.__table__)


@dataclass(frozen=True, slots=True)
class TraceEdge:
    """One material movement: ``lot`` was ``direction`` (consumed/produced) by ``batch``."""

    lot_id: str
    material: str
    batch_id: str
    step: str
    quantity: float
    unit: str
    direction: str


@dataclass
class Genealogy:
    """The lots and batches reachable from one lot, and the movements between them.

    Attributes
    ----------
    root
        The lot traced from.
    direction
        ``forward`` (to products) or ``backward`` (to raw materials).
    lots
        Lot id -> distance from the root (in batches).
    batches
        Batch ids reached.
    edges
        Movements, in the order found.
    """

    root: str
    direction: str
    lots: dict[str, int] = field(default_factory=dict)
    batches: list[str] = field(default_factory=list)
    edges: list[TraceEdge] = field(default_factory=list)

    def tree(self) -> dict[str, list[tuple[str, list[str]]]]:
        """``lot -> [(batch, [next lots])]`` in the direction traced, for display."""
        out: dict[str, list[tuple[str, list[str]]]] = {}
        first = "consumed" if self.direction == "forward" else "produced"
        second = "produced" if self.direction == "forward" else "consumed"
        for e in self.edges:
            if e.direction != first:
                continue
            nxt = [
                x.lot_id for x in self.edges if x.batch_id == e.batch_id and x.direction == second
            ]
            out.setdefault(e.lot_id, []).append((e.batch_id, list(dict.fromkeys(nxt))))
        return out


def _edge(row: object) -> TraceEdge:
    r = cast(LotLinkRow, row)
    return TraceEdge(r.lot_id, r.material, r.batch_id, r.step, r.quantity, r.unit, r.direction)


def trace(connection: Connection, lot_id: str, direction: Direction = "forward") -> Genealogy:
    """Trace a lot through the batches that consumed (forward) or produced (backward) it.

    Parameters
    ----------
    connection
        The database.
    lot_id
        The lot to start from.
    direction
        ``"forward"``: batches that consumed the lot and the lots they produced, and so
        on; ``"backward"``: the batch that produced it and the lots it consumed, and so on.

    Returns
    -------
    Genealogy
    """
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    into, out_of = ("consumed", "produced") if direction == "forward" else ("produced", "consumed")
    result = Genealogy(root=lot_id, direction=direction, lots={lot_id: 0})
    queue: deque[str] = deque([lot_id])
    seen_batches: set[str] = set()
    cols = [_LINKS.c[n] for n in ("lot_id", "material", "batch_id", "step", "quantity", "unit")]
    while queue:
        lot = queue.popleft()
        depth = result.lots[lot]
        links = connection.execute(
            select(*cols, _LINKS.c.direction)
            .where(_LINKS.c.lot_id == lot, _LINKS.c.direction == into)
            .order_by(_LINKS.c.id)
        ).all()
        for link in links:
            result.edges.append(_edge(link))
            if link.batch_id in seen_batches:
                continue
            seen_batches.add(link.batch_id)
            result.batches.append(link.batch_id)
            others = connection.execute(
                select(*cols, _LINKS.c.direction)
                .where(_LINKS.c.batch_id == link.batch_id, _LINKS.c.direction == out_of)
                .order_by(_LINKS.c.id)
            ).all()
            for other in others:
                result.edges.append(_edge(other))
                if other.lot_id not in result.lots:
                    result.lots[other.lot_id] = depth + 1
                    queue.append(other.lot_id)
    return result


def chain_of_identity_problem(
    batch_patient: str | None, lot_patient: str | None, scanned_patient: str | None
) -> str | None:
    """Why a scan breaks the chain of identity, or ``None`` if it does not.

    Parameters
    ----------
    batch_patient
        The patient the batch is made for (``None``: not an autologous batch).
    lot_patient
        The patient the lot belongs to, if patient-specific.
    scanned_patient
        The patient id read from the label at the scan, if any.
    """
    if batch_patient is None:
        if lot_patient is not None:
            return f"lot belongs to patient {lot_patient} but the batch is not patient-specific"
        return None
    if lot_patient is not None and lot_patient != batch_patient:
        return f"lot belongs to patient {lot_patient}, batch is for patient {batch_patient}"
    if scanned_patient is not None and scanned_patient != batch_patient:
        return f"label reads patient {scanned_patient}, batch is for patient {batch_patient}"
    return None
