"""Writing only what changed: the site's files against the manifest of the last good build.

The staging directory is seeded with hard links to the served site's files. A file whose bytes
are unchanged stays a link (the served inode, untouched); a changed file is unlinked first and
written anew, so the served site never sees a write and a failed build still leaves it as it was.
The manifest (path → hash of every file the build produced, and the Pagefind bundles' state) lives
beside the site, not in it, and is replaced only once the new site is swapped in.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

MANIFEST_VERSION = 1
HASH_CHUNK = 1 << 20


class SearchBundleState(BaseModel):
    """What one Pagefind bundle was built over: its glob, whether the hub had items, Pagefind's summary."""
    glob: str
    had_items: bool
    summary: str


class SiteManifest(BaseModel):
    version: int = MANIFEST_VERSION
    files: dict[str, str] = {}                      # site-relative path → content hash
    search: dict[str, SearchBundleState] = {}       # bundle directory → its state


def manifest_path(out_dir: Path) -> Path:
    return out_dir.with_name(out_dir.name + ".manifest.json")


def load_manifest(out_dir: Path) -> SiteManifest:
    """The last good build's manifest; an empty one (everything is written) if there is no site,
    no manifest, or one this version cannot read."""
    path = manifest_path(out_dir)
    if not (out_dir / "index.html").exists() or not path.exists():
        return SiteManifest()
    try:
        manifest = SiteManifest.model_validate_json(path.read_bytes())
    except (ValidationError, OSError, ValueError):
        return SiteManifest()
    return manifest if manifest.version == MANIFEST_VERSION else SiteManifest()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:   # a file system without hard links: a copy keeps the same guarantees, slower
        shutil.copy2(source, target)


def seed_staging(out_dir: Path, staging: Path, manifest: SiteManifest) -> None:
    """`staging` as a tree of links to the served site's files (empty when there is no manifest,
    so a first build, or one after a lost manifest, writes everything)."""
    if manifest.files or manifest.search:
        shutil.copytree(out_dir, staging, copy_function=_link_or_copy, symlinks=True, dirs_exist_ok=True)
    else:
        staging.mkdir(parents=True, exist_ok=True)


@dataclass
class SiteFiles:
    """The files of one build under `staging`: each written only if its bytes differ from the last build's."""
    staging: Path
    previous: SiteManifest
    produced: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def write(self, path: str, data: bytes) -> None:
        self._place(path, content_hash(data), lambda target: target.write_bytes(data))

    def adopt(self, path: str, source: Path) -> None:
        """Take the finished file `source` (written elsewhere) as `path`, unless its bytes are those already there."""
        try:
            self._place(path, file_hash(source), lambda target: os.replace(source, target))
        finally:
            source.unlink(missing_ok=True)

    def _place(self, path: str, digest: str, put) -> None:
        self.produced[path] = digest
        target = self.staging / path
        if self.previous.files.get(path) == digest and target.is_file():
            return
        target.unlink(missing_ok=True)   # a link to the served file: never written through
        target.parent.mkdir(parents=True, exist_ok=True)
        put(target)
        self.written.append(path)

    @property
    def kept(self) -> int:
        return len(self.produced) - len(self.written)

    def remove_the_rest(self, search_dirs: set[str]) -> None:
        """Delete every file under staging this build did not produce (pages that no longer exist,
        anything left by hand), except the Pagefind bundles in `search_dirs`; then empty directories."""
        directories = []
        for root, dirs, files in os.walk(self.staging):
            relative = os.path.relpath(root, self.staging)
            if relative == ".":
                dirs[:] = [d for d in dirs if d not in search_dirs]
                relative = ""
            directories.append(root)
            for name in files:
                path = f"{relative}/{name}" if relative else name
                path = path.replace(os.sep, "/")
                if path not in self.produced:
                    os.unlink(os.path.join(root, name))
                    self.removed.append(path)
        for directory in reversed(directories[1:]):
            if not os.listdir(directory):
                os.rmdir(directory)

    def manifest(self, search: dict[str, SearchBundleState]) -> SiteManifest:
        return SiteManifest(files=self.produced, search=search)


def write_manifest(manifest: SiteManifest, target: Path) -> None:
    target.write_text(manifest.model_dump_json(), encoding="utf-8")
