"""Fault benchmark: `opengovtech run` on 1,000 loopback sources of which 20% misbehave.

The faults are those of tests/fault_server.py (hangs, slow answers, 429/503 with
Retry-After, fail-then-ok, redirect loops, redirects to a private address, a 60 MB body, a
gzip bomb, truncated bodies, a wrong charset, HTML instead of a feed, entity bombs, an
external entity pointing at a local file, an empty 200) and hostile content (a 9 MB title,
180,000 entries, 500,000 tags, 40,000 categories, 100,000 nested <div>s, a 300-character
category, control characters, a JSON Feed field of the wrong type). Prints, against the targets:

  - the share of the healthy sources' entries ingested (target 100%);
  - faulty sources whose status is what the fault calls for, each with a reason (target all);
  - wall time against the configured run deadline (target: within it);
  - peak RSS of the run's main process and of its process tree (target 400 MB);
  - whether the private address or the local file was ever read (target never).

    python bench/faults.py --sources 1000 --faulty-share 0.2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb
import feedparser
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from measure import memory_breakdown, run_with_memory, stage_spans  # noqa: E402
from tests.fault_server import CANARY, FAULTS, fault_sources, start_fault_server  # noqa: E402

CORPUS = Path(os.environ.get("OPENGOVTECH_SHARED", REPO.parent / "shared")) / "corpus" / "feeds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--faulty-share", type=float, default=0.2)
    parser.add_argument("--deadline", type=float, default=600.0, help="run_deadline_s for the run")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (sources.yaml, warehouse)")
    args = parser.parse_args()

    feeds = [p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.suffix != ".json"]
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    server = start_fault_server(feeds, work / "canary.txt")
    try:
        faulty = int(args.sources * args.faulty_share)
        sources = fault_sources(server, healthy=args.sources - faulty, faulty=faulty)
        config = {"defaults": {"timeout_s": 5, "retries": 2, "retry_after_cap_s": 30,
                               "run_deadline_s": args.deadline}, "sources": sources}
        (work / "sources.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        warehouse = work / "warehouse" / "hub.duckdb"
        command = [sys.executable, "-m", "pipelines.app.cli", "run", "--sources", str(work / "sources.yaml"),
                   "--warehouse", str(warehouse)]
        env = {**os.environ, "DAGSTER_HOME": str(work / "warehouse" / "dagster")}
        run = run_with_memory(command, env, ok_codes=(0, 3))
        elapsed, main_mb, tree_mb, code = run.seconds, run.main_mb, run.tree_mb, run.returncode
        stage_memory = {stage: run.peaks_between(start, end)
                        for stage, (start, end) in stage_spans(work / "warehouse" / "dagster").items()}

        con = duckdb.connect(str(warehouse), read_only=True)
        health = {sid: (status, error) for sid, status, error in
                  con.execute("SELECT source_id, status, error FROM source_health").fetchall()}
        stored = dict(con.execute("SELECT source_id, count(*) FROM raw_entries GROUP BY 1").fetchall())
        read = dict(con.execute("SELECT source_id, entries_read FROM source_runs").fetchall())
        canary_rows = con.execute(f"SELECT count(*) FROM raw_entries WHERE raw_json LIKE '%{CANARY}%'").fetchone()[0]
        con.close()

        expected_entries = {i: len(feedparser.parse(body).entries) for i, body in enumerate(feeds)}
        healthy = [s for s in sources if s["id"].startswith("healthy-")]
        want = sum(expected_entries[int(s["id"].split("-")[1]) % len(feeds)] for s in healthy)
        got = sum(read.get(s["id"], 0) for s in healthy if health.get(s["id"], ("",))[0] == "ok")
        wrong = []
        for s in sources:
            if s["id"].startswith("fault-"):
                route = s["id"].split("-", 2)[2]
                status, error = health.get(s["id"], (None, None))
                if status != FAULTS[route] or (status != "ok" and not error):
                    wrong.append((s["id"], status, error))
        canary_in_files = any(CANARY.encode() in p.read_bytes() for p in warehouse.parent.glob("*.duckdb"))

        print(f"sources: {args.sources} ({faulty} faulty: {len(FAULTS)} kinds of fault), {os.cpu_count()} cores, "
              f"exit {code}")
        print(f"healthy entries ingested: {got} of {want} ({100 * got / max(want, 1):.1f}%)   target 100%; "
              f"stored after in-feed dedupe: {sum(stored.get(s['id'], 0) for s in healthy)}")
        print(f"faulty sources with the expected status and a reason: {faulty - len(wrong)} of {faulty}   target all")
        for item in wrong[:10]:
            print(f"    unexpected: {item}")
        print(f"wall time {elapsed:.1f} s, run deadline {args.deadline:.0f} s   target: within it")
        print(f"peak RSS: main process {main_mb:.0f} MB, process tree {tree_mb:.0f} MB (sum of RSS), "
              f"{run.tree_pss_mb:.0f} MB (sum of PSS: shared pages counted once)   target 400 MB")
        for line in memory_breakdown(run.by_process, stage_memory):
            print("    " + line)
        print(f"private address requested: {server.requested['/secret']} times; local file content stored: "
              f"{canary_rows} rows, in files: {canary_in_files}   target: never")
    finally:
        server.stop()
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
