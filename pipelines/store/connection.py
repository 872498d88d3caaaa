"""Opening DuckDB files the same way everywhere: no extension downloads, fts from its wheel."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines.errors import HubError, WarehouseLockedError
from pipelines.tuning import (
    BUILD_CHECKPOINT_THRESHOLD, BUILD_MEMORY_LIMIT, DUCKDB_THREADS, FREED_PAGES_DECAY_MS, HARVEST_MEMORY_LIMIT,
    RELEASE_CACHE_LIMIT, arrow_allocates_with_malloc, duckdb_returns_freed_pages_after, return_freed_memory,
)


def connect(path: Path, *, read_only: bool = False, memory_limit: str = HARVEST_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never tries to download extensions (these machines can't)."""
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
              "memory_limit": memory_limit}
    if DUCKDB_THREADS is not None:
        config["threads"] = DUCKDB_THREADS
    # Every stage that opens the warehouse moves rows through Arrow; what Arrow frees should go
    # back to the system with the rest (pipelines/tuning.py).
    arrow_allocates_with_malloc()
    duckdb_returns_freed_pages_after(FREED_PAGES_DECAY_MS)
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(f"{path} is open for writing by another process: {exc}") from None
        raise HubError(f"cannot open {path}: {exc}") from None


def fts_extension_path() -> Path:
    """The fts extension shipped in the duckdb-extension-fts wheel (it cannot be downloaded here)."""
    import duckdb_extension_fts

    root = Path(duckdb_extension_fts.__file__).parent / "extensions"
    wanted = root / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if wanted.exists():
        return wanted
    found = sorted(root.glob("*/fts.duckdb_extension"))
    if not found:
        raise HubError(f"fts extension not found under {root}: reinstall duckdb-extension-fts=={duckdb.__version__}")
    return found[-1]


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"LOAD '{fts_extension_path()}'")


@contextmanager
def setting(con: duckdb.DuckDBPyConnection, name: str, value: str) -> Iterator[None]:
    """Run a step with DuckDB setting `name` at `value`, then put the connection's previous value back."""
    previous = con.execute(f"SELECT current_setting('{name}')").fetchone()[0]
    try:
        # Inside the try: a memory limit DuckDB cannot evict down to raises, yet stays set, and
        # release_cache (which expects that failure) would leave the build at its lowered limit.
        con.execute(f"SET {name} = '{value}'")
        yield
    finally:
        con.execute(f"SET {name} = '{previous}'")


def memory_limit(con: duckdb.DuckDBPyConnection, limit: str):
    """Run a step under DuckDB memory limit `limit`, then put the connection's previous limit back."""
    return setting(con, "memory_limit", limit)


@contextmanager
def lower_memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """Run a step under the lower limit `limit` if DuckDB can evict down to it, else under the
    current one; then put the previous limit back (raising a limit never fails).

    DuckDB cannot go below what it holds pinned (rows changed since the last checkpoint, among
    others), which can exceed a lower limit once a larger step has run."""
    previous = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    try:
        con.execute(f"SET memory_limit = '{limit}'")
    except duckdb.OutOfMemoryException:
        con.execute(f"SET memory_limit = '{previous}'")   # DuckDB keeps a limit it failed to reach
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{previous}'")


def release_cache(con: duckdb.DuckDBPyConnection) -> None:
    """Give DuckDB's cached blocks back before another process does heavy work beside this one:
    lowering the limit makes DuckDB evict down to it; the previous limit is then restored."""
    # Data pinned by an open transaction cannot be evicted: then the cache stays, nothing else changes.
    with lower_memory_limit(con, RELEASE_CACHE_LIMIT):
        pass
    return_freed_memory()


@contextmanager
def build_memory(con: duckdb.DuckDBPyConnection, limit: str = BUILD_MEMORY_LIMIT) -> Iterator[None]:
    """Raise a harvest connection's memory limit (to `limit`) and checkpoint threshold for a build
    step, then put them back."""
    # Tables are rebuilt whole and read by key: their row order is not worth the memory it costs.
    with (setting(con, "preserve_insertion_order", "false"),
          setting(con, "checkpoint_threshold", BUILD_CHECKPOINT_THRESHOLD),
          memory_limit(con, limit)):
        yield


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block's statements in one transaction: committed if it ends normally, rolled back if it raises."""
    con.begin()
    try:
        yield
        con.commit()
    except Exception:
        con.rollback()
        raise


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, rows) -> Iterator[None]:
    """An Arrow table readable as view `name` on `con` for the duration of the block."""
    con.register(name, rows)
    try:
        yield
    finally:
        con.unregister(name)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows, *, replace: bool = False) -> None:
    """Append an Arrow table's rows to `table` (INSERT OR REPLACE on its primary key when `replace`)."""
    with registered(con, "_rows_to_insert", rows):
        con.execute(f"INSERT {'OR REPLACE ' if replace else ''}INTO {table} SELECT * FROM _rows_to_insert")
