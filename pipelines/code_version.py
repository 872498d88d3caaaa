"""Versions derived from code: what a stored result was computed by, never a number bumped by hand."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def code_version(files: Iterable[Path], libraries: Iterable[str] = ()) -> str:
    """A digest of the code in `files` and of the installed versions of `libraries`."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    if libraries:
        from importlib import metadata

        for library in libraries:
            digest.update(f"{library}=={metadata.version(library)}\0".encode())
    return digest.hexdigest()[:16]
