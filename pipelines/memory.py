"""Giving freed memory back to the operating system between the steps of a run.

A run's stages share one process. glibc's malloc keeps the memory a step frees (DuckDB's
query state, Arrow batches, parsed pages) inside its heaps, to reuse later; a page with one
live allocation left near its top keeps everything below it mapped, so each stage started
where the previous one peaked. `malloc_trim(0)` hands every wholly free page back: after each
stage, and after each chunk of the site's item pages and data export, whose RSS otherwise
climbed chunk by chunk (the site at 114,000 items peaked at 570 and 587 MB in two runs, 483 and
447 MB with it, in the export; the other stages' peaks moved by less than the runs' spread).
The parse workers do the same after each document, and Arrow is made to allocate with malloc
so that what it frees is within reach too.
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
