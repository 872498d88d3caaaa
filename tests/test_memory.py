"""Freed memory goes back to the system: in the run's process between stages, and in the parse
workers after each document (pipelines/tuning.py)."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

from pipelines.tuning import call_then_return_freed_memory, return_freed_memory
from pipelines.parse import ParseOptions, parse_document
from tests.conftest import CORPUS

pytestmark = [pytest.mark.slow,  # subprocesses measuring their own memory
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS read from /proc; malloc_trim is glibc's")]


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_freed_memory_scattered_through_the_heap_goes_back_to_the_system():
    # 200 MB of 1 KB blocks (malloc's heap, not mmap), 1 in 100 kept: every freed page stays
    # mapped behind the survivors until malloc is asked to trim (what a run's stages left).
    blocks = [bytes(1000) + bytes([n % 256]) for n in range(200_000)]
    survivors = blocks[::100]
    del blocks
    before = rss_mb()
    assert return_freed_memory()
    assert before - rss_mb() > 100
    assert len(survivors) == 2000


def large_feed() -> bytes:
    """About 9 MB of RSS: the biggest corpus feed's items repeated (under the 10 MB body cap)."""
    biggest = max((p for p in (CORPUS / "feeds").iterdir() if p.suffix in (".rss", ".xml")),
                  key=lambda p: p.stat().st_size).read_bytes()
    head, _, rest = biggest.partition(b"<item>")
    items = b"<item>" + rest.rpartition(b"</channel>")[0]
    return head + items * (9_000_000 // len(items)) + b"</channel></rss>"


def worker_rss_after(large: bytes, give_back: bool) -> tuple[int, float]:
    """The RSS of a parse worker that parsed a large feed and then a small one (a run's feeds)."""
    # A forkserver preloading the parsers, so a worker starts small and what it keeps reads plainly
    # (the harvest spawns its workers); one worker, so that the RSS read afterwards is that of the
    # process that parsed. Everything sent is a pipelines function: the worker imports nothing of the tests.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipelines.parse", "pipelines.tuning"])
    small = (CORPUS / "feeds" / "news_gov_scot_trimmed.rss").read_bytes()
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        read = 0
        for body in (large, small):
            args = (parse_document, body, "http://127.0.0.1/feed", None, ParseOptions("big", (), False))
            if give_back:
                parsed = pool.submit(call_then_return_freed_memory, *args).result()
            else:
                parsed = pool.submit(*args).result()
            read += parsed.entries_read
        (worker,) = pool._processes  # the pids of its workers
        return read, rss_mb(worker)


def test_a_parse_worker_gives_back_what_parsing_a_large_feed_took():
    body = large_feed()
    kept_count, kept = worker_rss_after(body, give_back=False)
    given_count, given = worker_rss_after(body, give_back=True)
    assert kept_count == given_count > 500
    # Measured 55 MB kept against 33 MB given back (a worker starts at ~24 MB).
    assert kept - given > 15, (kept, given)
    assert given < 40, given


def test_the_wrapped_call_still_raises_what_the_call_raised():
    def fails():
        raise ValueError("not a feed")

    with pytest.raises(ValueError, match="not a feed"):
        call_then_return_freed_memory(fails)
    assert call_then_return_freed_memory(int, "42") == 42


def test_arrow_allocates_with_malloc_once_the_warehouse_is_opened(tmp_path):
    import pyarrow as pa

    from pipelines.store.connection import connect

    connect(tmp_path / "hub.duckdb").close()
    assert pa.default_memory_pool().backend_name == "system"
    # malloc's own pages, so malloc_trim reaches what Arrow frees.
    table = pa.table({"text": ["x" * 1000] * 50_000})
    assert pa.total_allocated_bytes() >= 50_000_000 and table.num_rows == 50_000


# A GROUP BY over 3,000,000 keys takes DuckDB about 165 MB, freed when the query ends; the RSS
# is read 2 s later, well past DuckDB's own 1 s decay.
DUCKDB_QUERY_THEN_RSS = """
import sys, time
from pathlib import Path
from pipelines.store.connection import connect

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

con = connect(Path(sys.argv[1]), memory_limit="1GB")
before = rss_mb()
con.execute("SELECT count(*) FROM (SELECT i % 3000000 AS k, count(*) FROM range(3000000) t(i) GROUP BY k)").fetchall()
time.sleep(2)
print(rss_mb() - before)
"""


def _rss_kept_after_a_duckdb_query(tmp_path, **env) -> float:
    import subprocess

    # One thread, as the figures above were taken: the query's memory then sits in one arena.
    done = subprocess.run([sys.executable, "-c", DUCKDB_QUERY_THEN_RSS, str(tmp_path / "hub.duckdb")],
                          env={**os.environ, "OPENGOVTECH_DUCKDB_THREADS": "1", **env}, capture_output=True,
                          text=True, timeout=120, check=True)
    # The last line: DuckDB draws a progress bar above it when the query runs long on a busy machine.
    return float(done.stdout.split()[-1])


def test_pages_duckdb_frees_go_back_to_the_system_at_once(tmp_path):
    from pipelines.tuning import _duckdb_mallctl

    assert _duckdb_mallctl() is not None, "DuckDB's Linux build carries jemalloc (duckdb_je_mallctl)"
    assert _rss_kept_after_a_duckdb_query(tmp_path) < 40
    # DuckDB's own setting, as the operator can choose it: the freed pages stay resident.
    (tmp_path / "other").mkdir()
    assert _rss_kept_after_a_duckdb_query(tmp_path / "other", OPENGOVTECH_DUCKDB_DIRTY_DECAY_MS="1000") > 100


def test_warehouse_connections_use_duckdbs_threads_unless_configured(tmp_path, monkeypatch):
    import duckdb

    import pipelines.store.connection
    from pipelines.store.connection import connect

    monkeypatch.setattr(pipelines.store.connection, "DUCKDB_THREADS", None)
    plain = duckdb.connect()
    con = connect(tmp_path / "hub.duckdb")
    assert con.execute("SELECT current_setting('threads')").fetchone() == plain.execute(
        "SELECT current_setting('threads')").fetchone()
    con.close()
    monkeypatch.setattr(pipelines.store.connection, "DUCKDB_THREADS", 1)
    con = connect(tmp_path / "hub.duckdb")
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    con.close()
