"""Time and memory to refuse the YAML bomb family (issue 12 bar: within 1 s and 50 MB).

Each document is validated as a site file in a fresh interpreter, after the imports, so
that the figures are the refusal's own: wall time, and the growth of the process's peak
resident memory (``ru_maxrss``) over the refusal. Prints JSON:
``[{"bomb", "bytes", "expanded_values", "seconds", "peak_rss_growth_mb", "refused"}]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model"))

from test_yaml_limits import BOMBS

PROBE = """
import json, resource, sys, time
from phactory.model.loader import validate_site
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
site, problems = validate_site(sys.argv[1])
t1 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": t1 - t0, "peak_rss_growth_mb": (peak - base) / 1024,
                  "refused": site is None, "message": problems[0].message if problems else ""}))
"""


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in BOMBS.items():
            path = Path(tmp) / "site.yaml"
            path.write_text(text, encoding="utf-8")
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(path)], check=True, capture_output=True, text=True
            ).stdout
            results.append({"bomb": name, "bytes": len(text.encode()), **json.loads(out)})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
