"""Scale benchmark: `opengovtech run` at growing numbers of sources, time per stage, memory, file size.

For each size N (default 1,000, 3,000 and 10,000 sources) it writes N feeds built from the real
corpus feeds (bench/harvest.py's varied copies: every URL in a copy is unique, so nothing
collapses), serves them from 8 loopback origins, and runs:

  (a) floor: plain httpx GET of every feed at the same concurrency + feedparser, one process;
  (b) `opengovtech run` on a fresh warehouse;
  (c) the same command again, nothing changed.

Per stage it reports the Dagster step times of (b) (harvest = fetch + parse + write for all
kinds, normalise = hub_items, index = search_index, site = hub_site), entries and items, peak
RSS of the run's process tree, the DuckDB file size, and (c)/(b). Every figure is printed with
its ratio to the floor measured in the same run.

    python bench/scale.py --sizes 1000 3000 10000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harvest import build_feeds, measure_floors, start_origins  # noqa: E402
from measure import memory_breakdown, normalise_steps, run_with_memory, stage_spans  # noqa: E402


def one_size(work: Path, sources_count: int, origins: int, concurrency: int) -> dict:
    feeds_dir = work / "feeds"
    feeds_dir.mkdir(parents=True)
    names = build_feeds(feeds_dir, sources_count)
    feed_mb = sum(f.stat().st_size for f in feeds_dir.iterdir()) / 1e6
    servers, ports = start_origins(feeds_dir, origins)
    try:
        urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/{name}" for i, name in enumerate(names)]
        (work / "sources.yaml").write_text(yaml.safe_dump({
            "defaults": {"allow_private_networks": True, "global_concurrency": concurrency,
                         "per_origin_concurrency": max(2, concurrency // origins), "run_deadline_s": 86400},
            "sources": [{"id": f"feed-{i:05d}", "kind": "feed", "url": url, "tagged_only": False}
                        for i, url in enumerate(urls)]}), encoding="utf-8")
        warehouse = work / "warehouse" / "hub.duckdb"
        home = work / "warehouse" / "dagster"
        env = {**os.environ, "DAGSTER_HOME": str(home)}
        command = [sys.executable, "-m", "pipelines.app.cli", "run", "--sources", str(work / "sources.yaml"),
                   "--warehouse", str(warehouse)]
        floors = measure_floors(urls, concurrency)
        floor_s, floor_entries = floors.with_feedparser, floors.entries
        first = run_with_memory(command, env)
        spans = stage_spans(home)
        stages = {stage: end - start for stage, (start, end) in spans.items()}
        stage_memory = {stage: first.peaks_between(start, end) for stage, (start, end) in spans.items()}
        steps = normalise_steps(home)
        again = run_with_memory(command, env)
        rerun_stages = {f"re_{k}": end - start for k, (start, end) in stage_spans(home).items()}
        con = duckdb.connect(str(warehouse), read_only=True)
        entries = con.execute("SELECT count(*) FROM raw_entries").fetchone()[0]
        items = con.execute("SELECT count(*) FROM hub_items").fetchone()[0]
        con.close()
        return {"sources": sources_count, "feed_mb": feed_mb, "floor_s": floor_s, "floor_entries": floor_entries,
                "run_s": first.seconds, "rerun_s": again.seconds, "peak_mb": max(first.tree_mb, again.tree_mb),
                "main_mb": max(first.main_mb, again.main_mb),
                "pss_mb": max(first.tree_pss_mb, again.tree_pss_mb),
                "children_mb": {k: max(first.by_process.get(k, 0), again.by_process.get(k, 0))
                                for k in first.by_process.keys() | again.by_process.keys()},
                "codes": (first.returncode, again.returncode),
                "entries": entries, "items": items, "db_mb": warehouse.stat().st_size / 1e6,
                "stage_memory": stage_memory, "normalise_steps": steps, **stages, **rerun_stages}
    finally:
        for server in servers:
            server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--origins", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"bench-scale-{size}-"))
        try:
            rows.append(one_size(work, size, args.origins, args.concurrency))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r = rows[-1]
        print(f"[{size} sources done in {r['run_s']:.0f} s]", flush=True)

    print(f"\n{os.cpu_count()} cores; {args.origins} loopback origins; concurrency {args.concurrency}")
    header = ("sources", "feed MB", "entries", "items", "floor s", "run s", "run/floor", "harvest s", "normalise s",
              "index s", "site s", "re-run s", "re-run/run", "peak RSS MB", "main RSS MB", "DuckDB MB")
    print(" | ".join(header))
    for r in rows:
        print(" | ".join([
            f"{r['sources']}", f"{r['feed_mb']:.0f}", f"{r['entries']}", f"{r['items']}", f"{r['floor_s']:.1f}",
            f"{r['run_s']:.1f}", f"{r['run_s'] / r['floor_s']:.2f}", f"{r['harvest']:.1f}", f"{r['normalise']:.1f}",
            f"{r['index']:.1f}", f"{r['site']:.1f}", f"{r['rerun_s']:.1f}", f"{r['rerun_s'] / r['run_s']:.3f}",
            f"{r['peak_mb']:.0f}", f"{r['main_mb']:.0f}", f"{r['db_mb']:.0f}"]))
        print(f"   re-run stages: harvest {r['re_harvest']:.1f} s, normalise {r['re_normalise']:.1f} s, "
              f"index {r['re_index']:.1f} s, site {r['re_site']:.1f} s")
        print("   normalise steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["normalise_steps"].items()))
        for line in memory_breakdown(r["children_mb"], r["stage_memory"]):
            print("   " + line)
        print(f"   process tree sum of PSS {r['pss_mb']:.0f} MB")
        if r["codes"] != (0, 0):
            print(f"   exit codes {r['codes']}")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        grow = b["sources"] / a["sources"]
        print(f"\nfrom {a['sources']} to {b['sources']} sources (x{grow:.0f}): run time x{b['run_s'] / a['run_s']:.1f}, "
              f"peak RSS x{b['peak_mb'] / a['peak_mb']:.2f} (flat means streamed, not held)")
    if rows:
        b = rows[-1]
        per_entry = {stage: b[stage] / max(b["entries"], 1) * 1e3 for stage in ("harvest", "normalise", "index", "site")}
        print("ms per entry at the largest size: " + ", ".join(f"{k} {v:.2f}" for k, v in per_entry.items()))
        day_entries = 1_000_000
        total_ms = sum(per_entry.values())
        print(f"projected for 1,000,000 entries at that rate: {total_ms * day_entries / 3.6e6:.1f} hours")


if __name__ == "__main__":
    main()
