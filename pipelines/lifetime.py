"""A one-shot command's process: objects made at start-up live until it exits.

Python's cyclic collector walks every tracked object in its full collections, and once more
when the interpreter shuts down. Dagster's modules and definitions are hundreds of thousands of
such objects, none of them ever garbage: in an unchanged re-run of 1,000 sources (5.0 s) the
collections during the run took ~0.25 s and the one at exit ~0.5 s.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
