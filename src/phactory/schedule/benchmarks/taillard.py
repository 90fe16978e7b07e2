"""Taillard's random job-shop generator, to re-derive ta01-ta80 from their published seeds.

Taillard [1]_ published the generator and the two seeds of every instance, so the shipped
``ta*.tai`` files can be checked independently of any copy found on the web: the tests
regenerate them and compare.

References
----------
.. [1] E. Taillard (1993). Benchmarks for basic scheduling problems. *European Journal of
   Operational Research* 64(2), 278-285. (Generator: Lehmer / Park-Miller minimal standard
   LCG with Schrage's decomposition; job-shop durations U[1, 99]; machine order by
   swapping position ``j`` with a uniform position in ``j .. m``.)
"""

from __future__ import annotations

from phactory.schedule.benchmarks.instances import Alternative, Operation, ShopInstance

__all__ = ["TAILLARD_15x15_SEEDS", "format_taillard", "generate_taillard", "taillard_instance"]

#: ``name -> (time_seed, machine_seed)`` of the 15 x 15 instances ta01-ta10 (Taillard 1993).
TAILLARD_15x15_SEEDS: dict[str, tuple[int, int]] = {
    "ta01": (840612802, 398197754),
    "ta02": (1314640371, 386720536),
    "ta03": (1227221349, 316176388),
    "ta04": (342269428, 1806358582),
    "ta05": (1603221416, 1501949241),
    "ta06": (1357584978, 1734077082),
    "ta07": (44531661, 1374316395),
    "ta08": (302545136, 2092186050),
    "ta09": (1153780144, 1393392374),
    "ta10": (73896786, 1544979948),
}

_M = 2147483647  # 2**31 - 1
_A = 16807
_B = 127773  # _M // _A
_C = 2836  # _M % _A


def _unif(seed: int, low: int, high: int) -> tuple[int, int]:
    """Advance the LCG and draw an integer uniformly in ``[low, high]``.

    Written exactly as Taillard's published routine (Schrage's trick avoids 32-bit
    overflow there; Python does not need it but the arithmetic must match bit for bit).
    """
    k = seed // _B
    seed = _A * (seed % _B) - k * _C
    if seed < 0:
        seed += _M
    return seed, low + int(seed / _M * (high - low + 1))


def generate_taillard(
    time_seed: int, machine_seed: int, n_jobs: int, n_machines: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Generate Taillard's processing times and (1-based) machine orders.

    Returns
    -------
    times, machines
        ``times[j][o]`` in 1..99 and ``machines[j][o]`` in 1..n_machines.
    """
    times = [[0] * n_machines for _ in range(n_jobs)]
    for j in range(n_jobs):
        for o in range(n_machines):
            time_seed, times[j][o] = _unif(time_seed, 1, 99)
    machines = [list(range(1, n_machines + 1)) for _ in range(n_jobs)]
    for j in range(n_jobs):
        row = machines[j]
        for o in range(n_machines):
            machine_seed, k = _unif(machine_seed, o, n_machines - 1)
            row[o], row[k] = row[k], row[o]
    return times, machines


def taillard_instance(name: str) -> ShopInstance:
    """Build one of ta01-ta10 from its seeds (no file involved)."""
    time_seed, machine_seed = TAILLARD_15x15_SEEDS[name]
    times, machines = generate_taillard(time_seed, machine_seed, 15, 15)
    jobs = tuple(
        tuple(Operation((Alternative(m - 1, t),)) for t, m in zip(trow, mrow, strict=True))
        for trow, mrow in zip(times, machines, strict=True)
    )
    return ShopInstance(
        name=name,
        kind="jsp",
        n_machines=15,
        jobs=jobs,
        source=f"Taillard (1993) generator, seeds {time_seed} {machine_seed}",
        meta={"time_seed": time_seed, "machine_seed": machine_seed},
    )


def format_taillard(
    times: list[list[int]],
    machines: list[list[int]],
    time_seed: int,
    machine_seed: int,
    upper_bound: int = 0,
    lower_bound: int = 0,
) -> str:
    """Lay an instance out as in Taillard's files (``Times`` then 1-based ``Machines``)."""
    n, m = len(times), len(times[0]) if times else 0
    out = [
        "Nb of jobs, Nb of Machines, Time seed, Machine seed, Upper bound, Lower bound",
        f"{n:10d}{m:10d}{time_seed:11d}{machine_seed:11d}{upper_bound:10d}{lower_bound:10d}",
        "Times",
        *(" " + " ".join(f"{t:2d}" for t in row) for row in times),
        "Machines",
        *(" " + " ".join(f"{x:2d}" for x in row) for row in machines),
    ]
    return "\n".join(out) + "\n"
