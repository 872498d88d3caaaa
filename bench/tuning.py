"""Runtime-tuning devices, each measured with and without it in one session.

Builds N feeds from the real corpus (as bench/harvest.py), serves them from loopback origins,
then for each round and each variant runs `opengovtech run` on a fresh warehouse and again with
nothing changed, sampling memory. A variant turns one device off in every process of the run
(parse workers included) through a generated `sitecustomize` module; "all" turns none off.
Variants alternate within each round, so a slow spell of the shared machine lands on all of them.
Also, in fresh processes, what the registry holds with and without its pickle round-trip.

Reported per variant: median seconds of the run and of the unchanged re-run, median peak RSS of
the main process and of the process tree.

    python bench/tuning.py --feeds 200 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from harvest import build_feeds, start_origins
from measure import run_with_memory

REPO = Path(__file__).resolve().parents[1]

# What each variant turns off: Python run at start-up in every process of the run. Patched before
# any pipeline module imports the names, so `from ... import name` picks up the replacement.
WITHOUT = {
    "malloc_trim": """
import pipelines.tuning as t
t.return_freed_memory = lambda: False
def call_then_return_freed_memory(fn, *args):
    return fn(*args)
# Sent to the parse workers by name, where this same replacement is found under it.
call_then_return_freed_memory.__module__ = "pipelines.tuning"
t.call_then_return_freed_memory = call_then_return_freed_memory
""",
    "arrow_malloc": """
import pipelines.tuning as t
t.arrow_allocates_with_malloc = lambda: None
""",
    "jemalloc_decay": """
import pipelines.tuning as t
t.duckdb_returns_freed_pages_after = lambda decay_ms: False
""",
    "gc_freeze": """
import contextlib
import pipelines.tuning as t
t.kept_until_exit = contextlib.nullcontext
t.skip_collection_at_exit = lambda: None
""",
}
# Variants set by environment instead: one DuckDB thread (removed: DuckDB's own is one per core),
# kept here to measure it again at other sizes.
ENVIRONMENT = {"duckdb_one_thread": {"OPENGOVTECH_DUCKDB_THREADS": "1"}}

SITECUSTOMIZE = """
import os
_without = os.environ.get("OPENGOVTECH_BENCH_WITHOUT")
if _without:
    exec(compile(%r[_without], "<bench without>", "exec"))
"""

REGISTRY_HELD = """
import gc, json, sys
from pathlib import Path
from pipelines.config import load_registry, parse_registry

def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

path, how = Path(sys.argv[1]), sys.argv[2]
gc.collect()
before = rss_mb()
registry = load_registry(path) if how == "round_trip" else parse_registry(path.read_text(encoding="utf-8"), path)
gc.collect()
print(json.dumps({"held_mb": rss_mb() - before}))
"""


def registry_held(path: Path, how: str) -> float:
    out = subprocess.run([sys.executable, "-c", REGISTRY_HELD, str(path), how], check=True, capture_output=True,
                         text=True, cwd=REPO).stdout
    return json.loads(out)["held_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--origins", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["all", *WITHOUT, *ENVIRONMENT])
    parser.add_argument("--registry-sources", type=int, default=10000, help="0 to skip the registry check")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-tuning-"))
    hooks = work / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE % (WITHOUT,), encoding="utf-8")
    feeds_dir = work / "feeds"
    feeds_dir.mkdir()
    names = build_feeds(feeds_dir, args.feeds)
    servers, ports = start_origins(feeds_dir, args.origins)
    results: dict[str, list[tuple]] = {variant: [] for variant in args.variants}
    try:
        urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/{name}" for i, name in enumerate(names)]
        sources = {
            "defaults": {"allow_private_networks": True, "global_concurrency": args.concurrency,
                         "per_origin_concurrency": max(2, args.concurrency // args.origins)},
            "sources": [{"id": f"feed-{i:05d}", "kind": "feed", "url": url, "tagged_only": False}
                        for i, url in enumerate(urls)],
        }
        sources_path = work / "sources.yaml"
        sources_path.write_text(yaml.safe_dump(sources), encoding="utf-8")
        pythonpath = os.pathsep.join([str(hooks), str(REPO), os.environ.get("PYTHONPATH", "")])
        for round_number in range(args.rounds):
            for variant in args.variants:
                home = work / f"{variant}-{round_number}"
                env = {**os.environ, "PYTHONPATH": pythonpath, "DAGSTER_HOME": str(home / "dagster"),
                       **ENVIRONMENT.get(variant, {})}
                if variant in WITHOUT:
                    env["OPENGOVTECH_BENCH_WITHOUT"] = variant
                command = [sys.executable, "-m", "pipelines.app.cli", "run", "--sources", str(sources_path),
                           "--warehouse", str(home / "hub.duckdb")]
                first = run_with_memory(command, env)
                again = run_with_memory(command, env)
                results[variant].append((first.seconds, again.seconds, first.main_mb, first.tree_mb,
                                         again.main_mb))
                print(f"round {round_number} {variant:15} run {first.seconds:6.1f} s  re-run {again.seconds:5.1f} s  "
                      f"main {first.main_mb:4.0f} MB  tree {first.tree_mb:4.0f} MB  re-run main {again.main_mb:4.0f} MB",
                      flush=True)
                shutil.rmtree(home, ignore_errors=True)
    finally:
        for server in servers:
            server.terminate()

    print(f"\nfeeds: {args.feeds}, {args.rounds} rounds, medians:")
    print(f"{'variant':16} {'run s':>7} {'re-run s':>9} {'main MB':>8} {'tree MB':>8} {'re-run main MB':>15}")
    for variant, rows in results.items():
        med = [statistics.median(column) for column in zip(*rows)]
        print(f"{variant:16} {med[0]:7.1f} {med[1]:9.2f} {med[2]:8.0f} {med[3]:8.0f} {med[4]:15.0f}")

    if args.registry_sources:
        path = work / "registry.yaml"
        path.write_text(yaml.safe_dump({"sources": [
            {"id": f"feed-{i:06d}", "kind": "feed", "url": f"https://example.org/{i}/feed.xml"}
            for i in range(args.registry_sources)]}), encoding="utf-8")
        for how in ("round_trip", "plain", "round_trip", "plain"):
            print(f"registry of {args.registry_sources} sources, {how:10}: held {registry_held(path, how):6.1f} MB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
