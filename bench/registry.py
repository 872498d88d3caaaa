"""Registry cost: reading and validating a sources.yaml of N sources, and what the result holds.

A run reads the registry once and keeps it for its whole length, so what it holds is part of
every stage's memory. For each size it writes N feed sources, then in a fresh process each:

  (a) floor: libyaml's C loader reading the file into plain Python data (what any reader pays);
  (b) `load_registry`: the same read plus line numbers, validation and the source models.

Reported: seconds, the peak RSS above the process's size before the read, and the RSS still held
once the result alone is kept, each with its ratio to the floor.

    python bench/registry.py --sizes 1000 10000 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

MEASURE = """
import gc, json, resource, sys, time
from pathlib import Path
import yaml
from pipelines.config import load_registry

def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

path, how = Path(sys.argv[1]), sys.argv[2]
gc.collect()
before = rss_mb()
started = time.perf_counter()
if how == "floor":
    result = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
else:
    result = load_registry(path)
seconds = time.perf_counter() - started
gc.collect()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak - before, "held_mb": rss_mb() - before}))
"""


def measure(path: Path, how: str) -> dict:
    # A fresh process each, so neither inherits the other's heap.
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path), how], check=True, capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1]).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 20000])
    args = parser.parse_args()
    print("sources | floor s | load s | load/floor | floor peak MB | load peak MB | floor held MB | load held MB "
          "| held/floor | held KB per source")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"sources-{size}.yaml"
            path.write_text(yaml.safe_dump({
                "defaults": {"allow_private_networks": True},
                "sources": [{"id": f"feed-{i:05d}", "kind": "feed", "url": f"http://127.0.0.1:8{i % 8}00/feed-{i:05d}.xml",
                             "org": f"Council {i % 300}", "tagged_only": False} for i in range(size)]}),
                encoding="utf-8")
            floor, load = measure(path, "floor"), measure(path, "load")
            print(f"{size} | {floor['seconds']:.2f} | {load['seconds']:.2f} | {load['seconds'] / floor['seconds']:.2f} | "
                  f"{floor['peak_mb']:.0f} | {load['peak_mb']:.0f} | {floor['held_mb']:.0f} | {load['held_mb']:.0f} | "
                  f"{load['held_mb'] / max(floor['held_mb'], 1):.2f} | {load['held_mb'] * 1024 / size:.1f}")


if __name__ == "__main__":
    main()
