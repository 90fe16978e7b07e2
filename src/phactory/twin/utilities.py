"""Shared utilities with a limited generation rate (e.g. a WFI still and its loop).

A utility is modelled as a token bucket: it generates ``rate`` [L/h] into a buffer of
``rate * buffer_h`` litres (the storage loop), and a phase draws its whole volume when it
starts. If the buffer holds less than the phase needs, the phase waits for the missing
volume to be generated; later phases queue behind that debt in the order they asked
(first come, first served). The state is two numbers, so a draw costs no events beyond
the one wait.
"""

from __future__ import annotations

__all__ = ["UtilitySupply"]


class UtilitySupply:
    """A rate-limited utility.

    Parameters
    ----------
    utility_id
        Name in ``site.utilities`` (``wfi``...).
    rate
        Generation rate [L/h].
    buffer_h
        Storage as hours of generation [h]; the buffer starts full.
    """

    __slots__ = ("buffer", "id", "level", "rate", "t")

    def __init__(self, utility_id: str, rate: float, buffer_h: float) -> None:
        self.id = utility_id
        self.rate = rate
        self.buffer = rate * buffer_h
        self.level = self.buffer
        self.t = 0.0

    def draw(self, amount: float, t: float) -> float:
        """Take ``amount`` [L] at ``t`` [h]; return how long to wait for it [h]."""
        level = self.level + self.rate * (t - self.t)
        if level > self.buffer:
            level = self.buffer
        level -= amount
        self.level = level
        self.t = t
        return 0.0 if level >= 0.0 else -level / self.rate
