"""Indexing the built site with Pagefind (the binary from the `pagefind[bin]` PyPI package).

Pagefind holds everything it indexes in memory until it writes the bundle, so one index over a
large hub grows without bound (docs/scaling.md). Item pages are
therefore split into bundles of at most `SiteConfig.search_bundle_items` pages, by the first two
hex digits of the item id (ids are hashes, so the groups are even), and each bundle is indexed by
its own Pagefind process. The search page loads the first bundle and merges the others in the
browser (Pagefind's `mergeIndex`), so a search still covers every item.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pipelines.errors import HubError

PAGEFIND_TIMEOUT_S = 600
PREFIX_DIGITS = 2   # 256 groups of item ids: the finest split a bundle can have


class SiteIndexError(HubError):
    pass


@dataclass(frozen=True)
class SearchBundle:
    """One Pagefind bundle: the directory it is written to (relative to the site) and the item-id
    prefixes whose pages it indexes (empty: the whole site)."""
    subdir: str
    prefixes: tuple[str, ...] = ()

    @property
    def glob(self) -> str:
        if not self.prefixes:
            # Pagefind's default: every page, of which only item pages carry data-pagefind-body. A hub
            # with no items yet still gets an (empty) index, so its search page loads.
            return "**/*.{html}"
        return "items/{" + ",".join(f"{p}*" for p in self.prefixes) + "}/index.html"

    def covers_item_page(self, path: str) -> bool:
        """Whether the site file `path` is an item page this bundle indexes (the pages that carry
        data-pagefind-body; other pages count only in a hub with no items)."""
        if not (path.startswith("items/") and path.endswith("/index.html")):
            return False
        return not self.prefixes or path[len("items/"):].startswith(self.prefixes)


def plan_search_bundles(item_ids: Iterable[str], bundle_items: int) -> list[SearchBundle]:
    """Split item pages into bundles of at most `bundle_items` pages (as near as whole prefix groups
    allow); the first is always `pagefind/`, where the search page and Pagefind's UI files live."""
    counts = Counter(item_id[:PREFIX_DIGITS] for item_id in item_ids)
    total = sum(counts.values())
    if total <= bundle_items:
        return [SearchBundle("pagefind")]
    wanted = min(-(-total // bundle_items), 16 ** PREFIX_DIGITS)
    target = total / wanted
    groups: list[list[str]] = [[]]
    filled = 0
    for prefix in sorted(counts):
        # Close a group once it holds its share, so the bundles come out even.
        if groups[-1] and filled + counts[prefix] > target * len(groups) and len(groups) < wanted:
            groups.append([])
        groups[-1].append(prefix)
        filled += counts[prefix]
    return [SearchBundle("pagefind" if n == 0 else f"pagefind-{n}", tuple(group)) for n, group in enumerate(groups)]


def combined_summary(summaries: list[str]) -> str:
    """One summary for the bundles' Pagefind summaries."""
    if len(summaries) == 1:
        return summaries[0]
    pages = sum(int(m.group(1)) for s in summaries if (m := re.search(r"Indexed (\d+) pages?", s)))
    return f"Indexed {pages} pages in {len(summaries)} bundles"


def index_bundle(site_dir: Path, bundle: SearchBundle) -> str:
    """Index one bundle into a fresh directory: what was there may be links to a served site's files,
    which Pagefind would otherwise write through, and files it would not write again."""
    shutil.rmtree(site_dir / bundle.subdir, ignore_errors=True)
    command = [sys.executable, "-m", "pagefind", "--site", str(site_dir), "--output-subdir", bundle.subdir,
               "--glob", bundle.glob]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PAGEFIND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SiteIndexError(f"pagefind did not finish indexing {site_dir} ({bundle.subdir}) "
                             f"within {PAGEFIND_TIMEOUT_S} s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SiteIndexError(f"pagefind failed on {site_dir} ({bundle.subdir}, exit {done.returncode}): "
                             + " / ".join(detail) + "\n(is the `pagefind[bin]` package installed?)")
    # e.g. "Indexed 1 language; Indexed 10 pages; Indexed 277 words; Indexed 4 filters; Indexed 0 sorts"
    return "; ".join(line.strip() for line in done.stdout.splitlines() if line.strip().startswith("Indexed"))
