"""Unchanged re-run benchmark: the same warehouse re-run by two checkouts in turn.

Builds N feeds (as bench/harvest.py does), runs `opengovtech run` once to fill a warehouse, then
re-runs it unchanged, alternating the checkouts given (`--tree name=path`, each put first on
PYTHONPATH), so old and new code meet the same machine load. Each re-run is split into what came
before its first Dagster event (starting Python, imports, the instance, planning), the harvest,
the other steps, and after its last event; with the run's Dagster event count.

    python bench/rerun.py --feeds 1000 --tree old=/tmp/main-checkout --tree new=. --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from harvest import build_feeds, start_origins
from measure import run_events_span, stage_spans


def event_count(home: Path) -> int:
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        return len(instance.get_records_for_run(run.run_id, limit=1_000_000).records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--origins", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", action="append", required=True, help="name=path of a checkout")
    parser.add_argument("--work", help="reuse this directory's feeds and warehouse (from --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-rerun-"))
    feeds_dir = work / "feeds"
    fresh = not feeds_dir.exists()
    if fresh:
        feeds_dir.mkdir(parents=True)
        names = build_feeds(feeds_dir, args.feeds)
    else:
        names = sorted(p.name for p in feeds_dir.iterdir())
    servers, ports = start_origins(feeds_dir, args.origins)
    try:
        urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/{name}" for i, name in enumerate(names)]
        sources = {
            "defaults": {"allow_private_networks": True, "global_concurrency": 32,
                         "per_origin_concurrency": max(2, 32 // args.origins)},
            "sources": [{"id": f"feed-{i:05d}", "kind": "feed", "url": url, "tagged_only": False}
                        for i, url in enumerate(urls)],
        }
        sources_path = work / "sources.yaml"
        sources_path.write_text(yaml.safe_dump(sources), encoding="utf-8")
        warehouse = work / "warehouse" / "hub.duckdb"
        home = work / "warehouse" / "dagster"

        def run(tree: str) -> tuple[float, float, int]:
            env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(Path(tree).resolve())}
            started = time.time()
            done = subprocess.run([sys.executable, "-m", "pipelines.app.cli", "run", "--sources", str(sources_path),
                                   "--warehouse", str(warehouse)], env=env, cwd=work,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(done.stderr[-3000:])
            return started, time.time() - started, done.returncode

        first_tree = next(iter(trees.values()))
        # The origins' ports change per session, so the first run of a session refetches every body.
        started, seconds, code = run(first_tree)
        print(f"first run ({'fresh' if fresh else 'new ports'}): {seconds:.2f} s, exit {code}")
        results: dict[str, list[tuple[float, ...]]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                started, seconds, code = run(tree)
                spans, (first_event, last_event) = stage_spans(home), run_events_span(home)
                harvest = spans["harvest"][1] - spans["harvest"][0]
                before, after = first_event - started, started + seconds - last_event
                rest = seconds - before - after - harvest
                events = event_count(home)
                results[name].append((seconds, before, harvest, rest, after, events))
                print(f"round {round_ + 1} {name}: {seconds:.2f} s (before first event {before:.2f}, harvest "
                      f"{harvest:.2f}, other steps {rest:.2f}, after last event {after:.2f}; {events} events), "
                      f"exit {code}", flush=True)
        for name, rows in results.items():
            medians = [statistics.median(column) for column in zip(*rows)]
            print(f"median {name}: {medians[0]:.2f} s (before {medians[1]:.2f}, harvest {medians[2]:.2f}, "
                  f"other steps {medians[3]:.2f}, after {medians[4]:.2f}; {medians[5]:.0f} events)")
    finally:
        for server in servers:
            server.terminate()
        if args.keep or args.work:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
