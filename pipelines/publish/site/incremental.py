"""Writing only what changed, into the site's other copy.

The site is kept in two generation directories beside it, `<site>.gen-a` and `<site>.gen-b`, and
`<site>` is a symbolic link to the one served. A build brings the other generation up to date and
then points the link at it (one atomic rename): the served files are never written, so a failed
build leaves the site as it was, and no whole tree is copied or deleted, which on a small VM disk
cost as much as the build (docs/scaling.md). Beside each generation is its manifest (path → hash of
every file it holds, and its Pagefind bundles' state): a file is written only where its bytes differ
from that generation's, so a build writes what changed in it and in the build before.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ValidationError

MANIFEST_VERSION = 1
HASH_CHUNK = 1 << 20
GENERATIONS = ("gen-a", "gen-b")


class SearchBundleState(BaseModel):
    """What one Pagefind bundle was built over: its glob, whether the hub had items, Pagefind's summary."""
    glob: str
    had_items: bool
    summary: str


class SiteManifest(BaseModel):
    version: int = MANIFEST_VERSION
    files: dict[str, str] = {}                      # site-relative path → content hash
    search: dict[str, SearchBundleState] = {}       # bundle directory → its state


def generation_dirs(out_dir: Path) -> tuple[Path, ...]:
    return tuple(out_dir.with_name(f"{out_dir.name}.{name}") for name in GENERATIONS)


def served_generation(out_dir: Path) -> Path | None:
    """The generation `out_dir` links to; None if it is no link (no site yet, or one built before generations)."""
    if not out_dir.is_symlink():
        return None
    target = out_dir.parent / os.readlink(out_dir)
    return target if target in generation_dirs(out_dir) else None


def next_generation(out_dir: Path) -> Path:
    first, second = generation_dirs(out_dir)
    return second if served_generation(out_dir) == first else first


def manifest_path(generation: Path) -> Path:
    return generation.with_name(generation.name + ".manifest.json")


def load_manifest(generation: Path | None) -> SiteManifest:
    """What `generation` holds; an empty manifest (everything is written) if it has none this version reads."""
    if generation is None or not generation.is_dir() or not manifest_path(generation).exists():
        return SiteManifest()
    try:
        manifest = SiteManifest.model_validate_json(manifest_path(generation).read_bytes())
    except (ValidationError, OSError, ValueError):
        return SiteManifest()
    return manifest if manifest.version == MANIFEST_VERSION else SiteManifest()


def begin(generation: Path) -> None:
    """Open `generation` for writing: from here until `finish`, its manifest would not say what it holds."""
    manifest_path(generation).unlink(missing_ok=True)
    generation.mkdir(parents=True, exist_ok=True)


def finish(out_dir: Path, generation: Path, manifest: SiteManifest) -> None:
    """Record what `generation` holds and serve it at `out_dir`."""
    manifest_path(generation).write_text(manifest.model_dump_json(), encoding="utf-8")
    link = out_dir.with_name(out_dir.name + ".link")
    link.unlink(missing_ok=True)
    os.symlink(generation.name, link)
    if out_dir.is_dir() and not out_dir.is_symlink():
        # A site built before generations: moved aside for the link, then removed (once).
        legacy = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(legacy, ignore_errors=True)
        out_dir.rename(legacy)
        os.replace(link, out_dir)
        shutil.rmtree(legacy, ignore_errors=True)
    else:
        os.replace(link, out_dir)


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def link_tree(source: Path, target: Path) -> None:
    """`target` as hard links to `source`'s files (their writers never write a file in place)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:   # a file system without hard links: a copy, slower
        shutil.copy2(source, target)


@dataclass
class SiteFiles:
    """The files of one build in `generation`. `held` is what the generation held (what is written
    there is what differs from it); `served` is the site served until now (what the build reports
    as written and removed is what differs from it)."""
    generation: Path
    held: SiteManifest
    served: SiteManifest
    produced: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)       # differ from the served site
    rewritten: list[str] = field(default_factory=list)     # written into the generation
    deleted: list[str] = field(default_factory=list)       # deleted from the generation

    def write(self, path: str, data: bytes) -> None:
        self._place(path, content_hash(data), lambda target: target.write_bytes(data))

    def adopt(self, path: str, source: Path) -> None:
        """Take the finished file `source` (written elsewhere on the same disk) as `path`."""
        try:
            self._place(path, file_hash(source), lambda target: os.replace(source, target))
        finally:
            source.unlink(missing_ok=True)

    def _place(self, path: str, digest: str, put: Callable[[Path], object]) -> None:
        self.produced[path] = digest
        if self.served.files.get(path) != digest:
            self.written.append(path)
        target = self.generation / path
        if self.held.files.get(path) == digest and target.is_file():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        put(target)
        self.rewritten.append(path)

    @property
    def removed(self) -> list[str]:
        """Files the served site has and this build has not."""
        return sorted(self.served.files.keys() - self.produced.keys())

    @property
    def kept(self) -> int:
        return len(self.produced) - len(self.written)

    def remove_the_rest(self, search_dirs: set[str]) -> None:
        """Delete every file in the generation this build did not produce (pages that no longer
        exist, anything left by hand), but the Pagefind bundles in `search_dirs`; then empty directories."""
        directories = []
        for root, dirs, files in os.walk(self.generation):
            relative = Path(root).relative_to(self.generation).as_posix()
            if relative == ".":
                dirs[:] = [d for d in dirs if d not in search_dirs]
            directories.append(root)
            for name in files:
                path = name if relative == "." else f"{relative}/{name}"
                if path not in self.produced:
                    os.unlink(os.path.join(root, name))
                    self.deleted.append(path)
        for directory in reversed(directories[1:]):
            if not os.listdir(directory):
                os.rmdir(directory)

    def manifest(self, search: dict[str, SearchBundleState]) -> SiteManifest:
        return SiteManifest(files=self.produced, search=search)
