"""Fault benchmark: `opengovtech run` on 1,000 loopback sources of which 20% misbehave.

The faults are those of tests/fault_server.py (hangs, slow answers, 429/503 with
Retry-After, fail-then-ok, redirect loops, redirects to a private address, a 60 MB body, a
gzip bomb, truncated bodies, a wrong charset, HTML instead of a feed, entity bombs, an
external entity pointing at a local file, an empty 200). Prints, against the targets:

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
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import feedparser
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fault_server import CANARY, FAULTS, fault_sources, start_fault_server  # noqa: E402

CORPUS = Path(os.environ.get("OPENGOVTECH_SHARED", REPO.parent / "shared")) / "corpus" / "feeds"


def run_with_memory(command: list[str], env: dict) -> tuple[float, float, float, int]:
    started = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main_peak = tree_peak = 0
    done = threading.Event()

    def sample():
        nonlocal main_peak, tree_peak
        while not done.is_set():
            try:
                main_peak = max(main_peak, process.memory_info().rss)
                tree = [process] + process.children(recursive=True)
                tree_peak = max(tree_peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode not in (0, 3):
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return time.perf_counter() - started, main_peak / 1e6, tree_peak / 1e6, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--faulty-share", type=float, default=0.2)
    parser.add_argument("--deadline", type=float, default=600.0, help="run_deadline_s for the run")
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
        command = [sys.executable, "-m", "pipelines.cli", "run", "--sources", str(work / "sources.yaml"),
                   "--warehouse", str(warehouse)]
        env = {**os.environ, "DAGSTER_HOME": str(work / "warehouse" / "dagster")}
        elapsed, main_mb, tree_mb, code = run_with_memory(command, env)

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
        print(f"peak RSS: main process {main_mb:.0f} MB, process tree {tree_mb:.0f} MB   target 400 MB")
        print(f"private address requested: {server.requested['/secret']} times; local file content stored: "
              f"{canary_rows} rows, in files: {canary_in_files}   target: never")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
