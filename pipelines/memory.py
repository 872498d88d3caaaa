"""Giving freed memory back to the operating system between the steps of a run.

A run's stages share one process, and three allocators in it keep what a step frees, to reuse
later:

- glibc's malloc (Python's large objects, Arrow batches, parsed pages): a page with one live
  allocation left near the top of a heap keeps everything below it mapped, so each stage
  started where the previous one peaked. `malloc_trim(0)` hands every wholly free page back:
  after each stage, and after each chunk of the site's item pages and data export, whose RSS
  otherwise climbed chunk by chunk (the site at 114,000 items peaked at 570 and 587 MB in two
  runs, 483 and 447 MB with it). The parse workers do the same after each document.
- Arrow's bundled mimalloc: Arrow is made to allocate with malloc instead, so that what it
  frees is within `malloc_trim`'s reach too.
- The jemalloc that DuckDB's Linux builds carry for all of DuckDB's memory: it keeps freed
  pages until they are a second old and it is next used; it is set to return them at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


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
    """`fn(*args)`, then `return_freed_memory()`: for parse workers, whose heap grows to fit the
    largest document they have parsed and stays there (after a 9 MB feed and then a small one a
    worker stayed at 55 MB, against 33 MB when it gives the pages back after each document; the
    call costs about 26 us)."""
    try:
        return fn(*args)
    finally:
        return_freed_memory()


def arrow_allocates_with_malloc() -> None:
    """Make pyarrow allocate with malloc instead of its bundled mimalloc, which keeps what it
    frees for its own reuse, out of `malloc_trim`'s reach. Harvesting 1,000 sources in one
    process peaked at 306-314 MB with malloc against 319-325 MB with mimalloc. Buffers remember
    the pool they came from, so switching part way is safe."""
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
    """Make DuckDB's jemalloc hand pages it has freed back to the OS within `decay_ms` (DuckDB sets
    1,000 ms); True when its allocator could be reached.

    jemalloc purges pages older than the decay time only when the arena is used again, so what a
    query freed stays resident while the process does other work: after a GROUP BY over 3,000,000
    keys, 165 MB were still resident 3 s later, against 3 MB with a decay of 0. Harvesting 1,000
    sources in one process peaked at 253 MB instead of 302, in the same time."""
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
