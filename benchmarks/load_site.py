"""Time to load and validate each example site (cold process: includes imports).

Prints JSON: ``[{"site", "seconds", "orders", "units"}]``. Each site is loaded in a
fresh interpreter so that the pint registry and module imports are counted, as a user
running ``phactory validate`` pays them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PROBE = """
import json, sys, time
t0 = time.perf_counter()
from phactory.model import load_site
site = load_site(sys.argv[1])
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "orders": len(site.orders), "units": len(site.units)}))
"""


def main() -> None:
    results = []
    for folder in sorted(p for p in EXAMPLES.iterdir() if (p / "site.yaml").is_file()):
        runs = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(folder)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs.append(json.loads(out))
        best = min(runs, key=lambda r: r["seconds"])
        results.append({"site": folder.name, **best, "runs": len(runs)})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
