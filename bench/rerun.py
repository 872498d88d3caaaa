"""Unchanged re-run benchmark: the same warehouse re-run by two checkouts in turn.

Builds N feeds (as bench/harvest.py does), runs `opengovtech run` once to fill a warehouse, then
re-runs it unchanged, alternating the checkouts given (`--tree name=path`, each put first on
PYTHONPATH), so old and new code meet the same machine load. Each re-run is split into what came
before its first Dagster event (starting Python, imports, the instance, planning), the harvest,
the other steps, and after its last event; with the run's Dagster event count. Each round also
times the floor of the harvest: the same conditional GETs (answered 304) from a bare httpx loop
with the same concurrency, nothing else.

    python bench/rerun.py --feeds 1000 --tree old=/tmp/main-checkout --tree new=. --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from harvest import build_feeds, start_origins
from measure import run_events_span, stage_spans


def event_count(home: Path) -> int:
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        return len(instance.get_records_for_run(run.run_id, limit=1_000_000).records)


def bare_conditional_gets(urls: list[str], global_concurrency: int, per_origin_concurrency: int) -> float:
    """Seconds for one GET of each URL with If-Modified-Since an hour ahead (every answer a 304),
    at the run's concurrency: what the harvest of an unchanged run cannot go below with httpx."""
    since = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3600))

    async def fetch_all() -> list[int]:
        every = asyncio.Semaphore(global_concurrency)
        origins: dict[str, asyncio.Semaphore] = {}
        async with httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_connections=2 * global_concurrency)) \
                as client:
            async def one(url: str) -> int:
                origin = origins.setdefault(url.split("/")[2], asyncio.Semaphore(per_origin_concurrency))
                async with origin, every:
                    return (await client.get(url, headers={"If-Modified-Since": since})).status_code
            return await asyncio.gather(*(one(url) for url in urls))

    started = time.perf_counter()
    statuses = asyncio.run(fetch_all())
    seconds = time.perf_counter() - started
    if set(statuses) != {304}:
        raise SystemExit(f"the floor expects 304s only, got {sorted(set(statuses))}")
    return seconds


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
        global_concurrency, per_origin_concurrency = 32, max(2, 32 // args.origins)
        sources = {
            "defaults": {"allow_private_networks": True, "global_concurrency": global_concurrency,
                         "per_origin_concurrency": per_origin_concurrency},
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
        floors = []
        for round_ in range(args.rounds):
            floors.append(bare_conditional_gets(urls, global_concurrency, per_origin_concurrency))
            print(f"round {round_ + 1} floor: {floors[-1]:.2f} s for {len(urls)} conditional GETs with bare httpx",
                  flush=True)
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
        print(f"median floor: {statistics.median(floors):.2f} s")
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
