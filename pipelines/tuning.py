"""Runtime tuning, in one place: the run's memory and CPU budget, and what gives freed memory back.

The budget (each figure overridable by the environment variable beside it):

- DuckDB's buffer pool, per stage (it spills to `<warehouse>.tmp/` beyond): harvesting 64MB
  (OPENGOVTECH_DUCKDB_MEMORY_LIMIT), reading entries for their facts 64MB
  (OPENGOVTECH_DUCKDB_STREAM_MEMORY_LIMIT), building items and the index 256MB
  (OPENGOVTECH_DUCKDB_BUILD_MEMORY_LIMIT), the site 128MB (OPENGOVTECH_DUCKDB_SITE_MEMORY_LIMIT).
- DuckDB threads: DuckDB's own, one per core (OPENGOVTECH_DUCKDB_THREADS); write-ahead log checkpointed every 256MB
  during builds (OPENGOVTECH_DUCKDB_BUILD_CHECKPOINT_THRESHOLD), DuckDB's default otherwise.
- Fetching: 32 requests at once, 2 per origin (GLOBAL_CONCURRENCY, PER_ORIGIN_CONCURRENCY; a
  sources.yaml's `defaults` overrides both), a connection pool of twice the former; parsing: one
  worker process per core (DEFAULT_PARSE_WORKERS; `defaults.parse_workers` overrides it).
- Freed memory: glibc's malloc is trimmed after each stage, build step, site chunk and parsed
  document; Arrow allocates with malloc so that the trim reaches what it frees; DuckDB's jemalloc
  returns freed pages at once.
- Start-up: the objects imported before a run are frozen out of the cyclic collector's reach.

What each device was measured to earn, with and without it in one session, is in
docs/scaling.md ("Runtime tuning"); devices that did not earn their place were removed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


# --- the budget --------------------------------------------------------------------------

# DuckDB's buffer pool defaults to 80% of RAM; the harvest must stay small beside its parse workers.
HARVEST_MEMORY_LIMIT = os.environ.get("OPENGOVTECH_DUCKDB_MEMORY_LIMIT", "64MB")
# Building items and the search index runs after the parse workers have exited, and its
# window functions and list aggregations need more room than the harvest writer.
BUILD_MEMORY_LIMIT = os.environ.get("OPENGOVTECH_DUCKDB_BUILD_MEMORY_LIMIT", "256MB")
# The site streams its pages from DuckDB a bounded share at a time (site/content.py): a higher
# limit only lets DuckDB keep its temporary tables resident.
SITE_MEMORY_LIMIT = os.environ.get("OPENGOVTECH_DUCKDB_SITE_MEMORY_LIMIT", "128MB")
# Reading raw entries into Python for their facts, a chunk at a time, needs little more than a
# chunk's room; a higher limit would only cache table blocks while Python works. A chunk whose
# texts do not fit is done again under the build's limit (facts.py).
STREAM_MEMORY_LIMIT = os.environ.get("OPENGOVTECH_DUCKDB_STREAM_MEMORY_LIMIT", "64MB")
# Every checkpoint rewrites the tables' primary-key indexes whole, so a build checkpointing at
# DuckDB's default 16MB of log made its inserts grow quadratically. Not while harvesting: index
# changes not yet checkpointed stay in memory, within the harvest's small limit. A run that dies
# before a checkpoint leaves the log, which the next open replays.
BUILD_CHECKPOINT_THRESHOLD = os.environ.get("OPENGOVTECH_DUCKDB_BUILD_CHECKPOINT_THRESHOLD", "256MB")
# None leaves DuckDB's own, a thread per core: forcing one did not lower the run's peak (docs/scaling.md).
DUCKDB_THREADS = int(os.environ["OPENGOVTECH_DUCKDB_THREADS"]) if os.environ.get("OPENGOVTECH_DUCKDB_THREADS") else None
# DuckDB's jemalloc keeps freed pages for a second by default and looks at the clock only when it
# next allocates, so a query's freed memory could stay resident for the rest of a stage; 0 returns them at once.
FREED_PAGES_DECAY_MS = int(os.environ.get("OPENGOVTECH_DUCKDB_DIRTY_DECAY_MS", "0"))
# Lowering the limit this far makes DuckDB evict its cached blocks (duck.release_cache).
RELEASE_CACHE_LIMIT = "16MB"

# Requests in flight at once, and per origin (sources.yaml `defaults` overrides both).
GLOBAL_CONCURRENCY = 32
PER_ORIGIN_CONCURRENCY = 2
# Parse worker processes when sources.yaml's `defaults.parse_workers` is 0: one per core.
DEFAULT_PARSE_WORKERS = os.cpu_count() or 1


# --- giving freed memory back ------------------------------------------------------------


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def return_freed_memory() -> bool:
    """Return the pages malloc holds free to the OS; True when the C library could be asked."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def call_then_return_freed_memory(fn, *args):
    """`fn(*args)`, then `return_freed_memory()`: for parse workers, whose heap otherwise grows to
    fit the largest document they have parsed and stays there."""
    try:
        return fn(*args)
    finally:
        return_freed_memory()


def arrow_allocates_with_malloc() -> None:
    """Make pyarrow allocate with malloc instead of its bundled mimalloc, which keeps what it
    frees for its own reuse, out of `malloc_trim`'s reach. Buffers remember the pool they came
    from, so switching part way is safe."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


@functools.cache
def _duckdb_mallctl():
    """`mallctl` of the jemalloc that DuckDB's Linux builds carry (exported as duckdb_je_mallctl),
    or None where DuckDB allocates otherwise (macOS, Windows, musl)."""
    try:
        import _duckdb

        mallctl = ctypes.CDLL(_duckdb.__file__).duckdb_je_mallctl
    except (ImportError, OSError, AttributeError):
        return None
    mallctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
                        ctypes.c_size_t]
    mallctl.restype = ctypes.c_int
    return mallctl


def duckdb_returns_freed_pages_after(decay_ms: int) -> bool:
    """Make DuckDB's jemalloc hand pages it has freed back to the OS within `decay_ms`; True when
    its allocator could be reached. jemalloc purges pages older than the decay time only when the
    arena is used again, so what a query freed would stay resident while the process does other work."""
    mallctl = _duckdb_mallctl()
    if mallctl is None:
        return False
    count = ctypes.c_uint(0)
    size = ctypes.c_size_t(ctypes.sizeof(count))
    if mallctl(b"arenas.narenas", ctypes.byref(count), ctypes.byref(size), None, 0) != 0:
        return False
    value = ctypes.c_ssize_t(decay_ms)
    # "arenas.*" is the default for arenas made later (DuckDB makes one per thread as they start);
    # "arena.<i>.*" changes those already made. Indexes of arenas never made answer EFAULT: skipped.
    names = ["arenas.dirty_decay_ms", "arenas.muzzy_decay_ms"]
    names += [f"arena.{i}.{kind}_decay_ms" for i in range(count.value) for kind in ("dirty", "muzzy")]
    for name in names:
        mallctl(name.encode(), None, None, ctypes.byref(value), ctypes.sizeof(value))
    return True


# --- start-up objects kept until exit ------------------------------------------------------

@contextmanager
def kept_until_exit() -> Iterator[None]:
    """Run imports and set-up with the collector paused, then move everything tracked so far out
    of its reach (`gc.freeze`): later collections walk only what the run itself makes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def skip_collection_at_exit() -> None:
    """Call as the process is about to end. Finalisers registered with atexit and weakref.finalize
    still run; objects in reference cycles are left to the operating system, so anything that
    must be flushed or closed is closed explicitly before this (the warehouse's connections are)."""
    gc.freeze()
