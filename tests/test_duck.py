"""DuckDB memory limits per step: nested limits restore what was there, a released cache is given back."""

from __future__ import annotations

import pytest

from pipelines.store.connection import build_memory, connect, memory_limit, release_cache, transaction
from pipelines.tuning import STREAM_MEMORY_LIMIT


def limit(con) -> float:
    """The limit in MiB (DuckDB shows it rounded to 0.1 MiB, so a restored limit may differ by that)."""
    value, unit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0].split()
    return float(value) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def used_mb(con) -> float:
    return con.execute("SELECT sum(memory_usage_bytes) / 1e6 FROM duckdb_memory()").fetchone()[0]


def test_a_step_limit_inside_a_build_limit_restores_the_build_limit(tmp_path):
    con = connect(tmp_path / "hub.duckdb", memory_limit="32MB")
    harvest = limit(con)
    with build_memory(con):
        build = limit(con)
        with memory_limit(con, STREAM_MEMORY_LIMIT):
            stream = limit(con)
        assert abs(limit(con) - build) <= 0.2
    assert abs(limit(con) - harvest) <= 0.2
    assert harvest < stream < build  # 32MB < 64MB < 256MB (the stream and build defaults)


def test_release_cache_gives_blocks_back_and_keeps_the_data_and_the_limit(tmp_path):
    con = connect(tmp_path / "hub.duckdb", memory_limit="256MB")
    con.execute("CREATE TABLE t AS SELECT range AS n, repeat('x', 200) AS body FROM range(400000)")
    con.execute("CREATE TEMP TABLE staged AS SELECT * FROM t")
    assert used_mb(con) > 60
    before = limit(con)
    release_cache(con)
    assert used_mb(con) <= 16.8
    assert abs(limit(con) - before) <= 0.2
    assert con.execute("SELECT count(*), sum(length(body)) FROM staged").fetchone() == (400000, 80_000_000)


def test_a_limit_duckdb_cannot_evict_down_to_leaves_the_previous_limit(tmp_path):
    # Large strings updated since the last checkpoint cannot be evicted: lowering the limit below
    # them fails, and DuckDB keeps the lower limit all the same. A 54,000-source build's
    # release_cache hit this and the next step ran under 16MB.
    con = connect(tmp_path / "hub.duckdb", memory_limit="1GB")
    con.execute("CREATE TABLE t AS SELECT range AS n, 'a' AS body FROM range(60)")
    con.execute("UPDATE t SET body = body || repeat('<p>padding</p>', 35000)")
    before = limit(con)
    with pytest.raises(Exception, match="could not free up enough memory"), memory_limit(con, "16MB"):
        pass
    assert abs(limit(con) - before) <= 0.2
    release_cache(con)
    assert abs(limit(con) - before) <= 0.2
    assert con.execute("SELECT count(*), min(length(body)) FROM t").fetchone() == (60, 1 + 14 * 35000)


def test_a_lower_limit_is_used_where_duckdb_can_reach_it_and_skipped_where_it_cannot(tmp_path):
    # The facts lower the build's limit to their own; at 1,000,000 entries DuckDB held more than
    # that pinned, the lowering failed, and so did the build.
    from pipelines.store.connection import lower_memory_limit

    con = connect(tmp_path / "hub.duckdb", memory_limit="1GB")
    before = limit(con)
    with lower_memory_limit(con, "64MB"):
        assert 60 < limit(con) < 62   # 64MB is 61.0 MiB
    assert abs(limit(con) - before) <= 0.2
    con.execute("CREATE TABLE t AS SELECT range AS n, 'a' AS body FROM range(60)")
    con.execute("UPDATE t SET body = body || repeat('<p>padding</p>', 35000)")   # ~30 MB pinned
    with lower_memory_limit(con, "16MB"):
        assert abs(limit(con) - before) <= 0.2
        assert con.execute("SELECT count(*), min(length(body)) FROM t").fetchone() == (60, 1 + 14 * 35000)
    assert abs(limit(con) - before) <= 0.2


def test_builds_checkpoint_by_a_larger_log_and_put_the_default_back(tmp_path):
    # The default 16MB made large builds checkpoint (and rewrite their indexes) every few batches;
    # the harvest keeps it, since index changes not yet checkpointed stay in memory.
    import duckdb

    from pipelines.tuning import BUILD_CHECKPOINT_THRESHOLD

    def threshold(con) -> str:
        return con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0]

    con = connect(tmp_path / "hub.duckdb")
    try:
        harvesting = threshold(con)
        with build_memory(con):
            building = threshold(con)
        expected = duckdb.connect().execute(f"SET checkpoint_threshold = '{BUILD_CHECKPOINT_THRESHOLD}'; "
                                            "SELECT current_setting('checkpoint_threshold')").fetchone()[0]
        assert harvesting == "16.0 MiB" and building == expected != harvesting
        assert threshold(con) == harvesting
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0] is True
    finally:
        con.close()


def test_a_transaction_commits_a_block_that_ends_and_rolls_back_one_that_raises(tmp_path):
    con = connect(tmp_path / "hub.duckdb")
    con.execute("CREATE TABLE t (n INTEGER)")
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
        con.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(ValueError), transaction(con):
        con.execute("INSERT INTO t VALUES (3)")
        raise ValueError("part way")
    assert con.execute("SELECT list(n ORDER BY n) FROM t").fetchone()[0] == [1, 2]
    con.execute("INSERT INTO t VALUES (4)")  # no transaction left open
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 3

