"""An edge publisher in a process of its own, for the zero-loss test (which kills it).

``python mqtt_edge_proc.py URL QUEUE TOTAL RATE`` publishes samples ``0 .. TOTAL-1`` of
ten tags of site ``zl`` at about ``RATE`` samples per second, sample ``i`` with value
``i`` at ``T0 + i`` ms. It publishes nothing else, so a sample's sequence number is its
index: started again on the same queue, it goes on from the publisher's next number,
so every sample is accepted exactly once however often the process dies. It prints one
JSON line of its state after every batch, ``done`` when the broker has acknowledged
everything, and exits.
"""

from __future__ import annotations

import json
import sys
import time

from phactory.connect.mqtt import EdgePublisher
from phactory.historian.samples import Sample

T0 = 1_740_816_000_000_000  # 2025-03-01T08:00:00Z [µs]
SITE = "zl"
BATCH = 100


def sample(i: int) -> Sample:
    return Sample(f"{SITE}/area/cell/unit/T{i % 10}", T0 + 1000 * i, i, 0)


def main(url: str, queue: str, total: int, rate: float) -> None:
    pub = EdgePublisher(url, SITE, queue, "edge-zl", reconnect_max_s=1.0).start()

    def say(**extra: object) -> None:
        c = pub.counters
        state = {"accepted": pub.next_seq, "backlog": c.backlog, "acked": c.acked,
                 "connected": pub.connected, "replayed": c.replayed, **extra}  # fmt: skip
        print(json.dumps(state), flush=True)

    say(started=True)
    start, first = time.monotonic(), pub.next_seq
    i = first
    while i < total:
        i = pub.publish_samples([sample(k) for k in range(i, min(i + BATCH, total))]).stop
        say()
        ahead = (i - first) / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    while not pub.flush(0.2):
        say()
    say(done=True)
    pub.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
