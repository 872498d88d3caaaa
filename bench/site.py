"""Site benchmark: the hub site's build against its plain-write floor, and an incremental rebuild.

A real warehouse (migrations applied) is filled with N items made from real corpus text
(bench/search.py's generator: real titles, tags and sentences recombined, seeded), from 200
sources with real-looking health rows. Then it measures:

  (a) floor: writing the built site's files (every file, the same bytes) with plain Python, no templating;
  (b) `build_site` on the warehouse from nothing: every page, feeds, OPML, sitemap, data export and
      the Pagefind index, with its phases; target (b)/(a) <= 10;
  (b2) the same hub built again (which, since #33, fills the site's second copy as a run does);
  (c) the rebuild after --changed (a fraction, default 1 %) of the items were retitled in the
      warehouse: its time, its ratio to (a) and (b), and how many files it reports written.
--rounds repeats (a), (b), (c) on fresh directories and prints each round, so the spread shows on
a shared machine.

With --compare-single-bundle it builds the site a second time with the whole search index in one
Pagefind bundle (the baseline for the split index: its memory grows with the item count).

    python bench/site.py --items 10000
    python bench/site.py --items 40000 --compare-single-bundle
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from measure import TreeSampler  # noqa: E402  (bench/measure.py)
from search import make_documents  # noqa: E402  (bench/search.py)

from pipelines.config import SiteConfig  # noqa: E402
from pipelines.publish.site import build_site_from_file  # noqa: E402
from pipelines.store.warehouse import open_for_writing  # noqa: E402

SOURCES = 200


def fill_warehouse(path: Path, count: int) -> None:
    docs = make_documents(count, seed=3)
    rng = random.Random(5)
    now = datetime.now(timezone.utc)
    rows = []
    for doc in docs:
        published = datetime.fromisoformat(doc["published_at"].replace("Z", "+00:00"))
        paragraphs = "".join(f"<p>{s}</p>" for s in doc["content_text"].split(". "))
        # Real item ids are hashes (pipelines/parse/urls.py); the search bundles are split by their first digits.
        rows.append({"id": hashlib.sha256(doc["id"].encode()).hexdigest()[:20], "kind": doc["kind"],
                     "title": doc["title"], "url": doc["url"],
                     "summary": doc["summary"], "content_html": paragraphs, "content_text": doc["content_text"],
                     "author": None, "organisation": doc["organisation"], "published_at": published,
                     "date_missing": False, "updated_at": None, "language": "en", "tags": doc["tags"],
                     "source_ids": [f"source-{rng.randint(1, SOURCES)}"], "match_reasons": ["category"],
                     "first_seen_at": now, "last_seen_at": now})
    with open_for_writing(path, "bench-site") as warehouse:
        con = warehouse.con
        con.register("incoming", pa.Table.from_pylist(rows))
        con.execute("INSERT INTO items BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
        con.executemany("INSERT INTO sources (source_id, kind, url, org, tagged_only, active) "
                        "VALUES (?, 'feed', ?, ?, true, true)",
                        [(f"source-{n}", f"https://source{n}.example/feed", f"Organisation {n}")
                         for n in range(1, SOURCES + 1)])
        con.executemany("INSERT INTO source_health (source_id, last_run_at, status, http_status, error, "
                        "consecutive_failures) VALUES (?, ?, ?, ?, ?, ?)",
                        [(f"source-{n}", now, "ok" if n % 10 else "failed", 200 if n % 10 else 404,
                          None if n % 10 else "HTTP 404: feed not found", 0 if n % 10 else 3)
                         for n in range(1, SOURCES + 1)])


RATIO_TARGET = 10


def site_files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def floor(out: Path, files: dict[Path, bytes]) -> float:
    """Seconds to write `files` (relative path -> bytes) under `out` plainly."""
    started = time.perf_counter()
    for relative, data in files.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return time.perf_counter() - started


def retitle(warehouse: Path, fraction: float, seed: int) -> int:
    """Change the title of `fraction` of the items (a seeded sample); returns how many."""
    with open_for_writing(warehouse, "bench-site") as opened:
        con = opened.con
        ids = [item_id for (item_id,) in con.execute("SELECT id FROM items ORDER BY id").fetchall()]
        chosen = random.Random(seed).sample(ids, max(1, round(len(ids) * fraction)))
        con.executemany("UPDATE items SET title = title || ' (revised)' WHERE id = ?", [[i] for i in chosen])
    return len(chosen)


def verdict(ratio: float) -> str:
    return "pass" if ratio <= RATIO_TARGET else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--bundle-items", type=int, default=SiteConfig().search_bundle_items)
    parser.add_argument("--changed", type=float, default=0.01, help="fraction of items retitled before (c)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-search", action="store_true", help="leave Pagefind out of (b) and (c)")
    parser.add_argument("--compare-single-bundle", action="store_true")
    args = parser.parse_args()
    config = SiteConfig(search_bundle_items=args.bundle_items)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        tmp = Path(tmp)
        warehouse = tmp / "warehouse" / "hub.duckdb"
        started = time.perf_counter()
        fill_warehouse(warehouse, args.items)
        print(f"warehouse with {args.items:,} items from real corpus text filled in {time.perf_counter() - started:.1f} s")
        full_ratios, incremental_ratios = [], []
        for round_number in range(1, args.rounds + 1):
            site = tmp / f"site-{round_number}"
            with TreeSampler(psutil.Process(), count_self=False) as pagefind_memory:
                build = build_site_from_file(warehouse, site, config, search=not args.no_search)
            files = site_files(site)
            baseline = floor(tmp / f"floor-{round_number}", files)
            # The same hub again: what a run that changed nothing the site shows costs, and (since #33)
            # it fills the site's second copy, as every run after the first finds it.
            unchanged = build_site_from_file(warehouse, site, config, search=not args.no_search)
            changed = retitle(warehouse, args.changed, seed=round_number)
            rebuild = build_site_from_file(warehouse, site, config, search=not args.no_search)
            after = sum(1 for p in site.rglob("*") if p.is_file())
            # A build before issue #33 reports no changes: it wrote every file anew.
            written = len(rebuild.written) if hasattr(rebuild, "written") else after
            removed = len(rebuild.removed) if hasattr(rebuild, "removed") else 0
            full_ratios.append(build.seconds / baseline)
            incremental_ratios.append(rebuild.seconds / baseline)
            print(f"round {round_number}:")
            print(f"  (a) floor: {len(files):,} files, {sum(map(len, files.values())) / 1e6:.1f} MB written in "
                  f"{baseline:.2f} s")
            print(f"  (b) site build: {build.seconds:.1f} s for {build.items:,} items, {build.pages:,} pages, "
                  f"{build.bytes / 1e6:.1f} MB; (b)/(a) = {full_ratios[-1]:.1f} (target <= {RATIO_TARGET}: "
                  f"{verdict(full_ratios[-1])})")
            print("      phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in build.timings.items()))
            if build.search_index:
                print(f"      {build.search_index}; Pagefind peak RSS {pagefind_memory.tree_peak / 1e6:.0f} MB "
                      f"(bundles of <= {args.bundle_items:,} items)")
            print(f"  (b2) the same hub rebuilt: {unchanged.seconds:.1f} s; (b2)/(a) = {unchanged.seconds / baseline:.1f}")
            print(f"  (c) rebuild after {changed:,} items retitled: {rebuild.seconds:.1f} s, {written:,} files written, "
                  f"{removed:,} removed, {after - written:,} untouched; (c)/(a) = {incremental_ratios[-1]:.1f}, "
                  f"(c)/(b) = {rebuild.seconds / build.seconds:.2f}")
            print("      phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in rebuild.timings.items()))
            del files
        if args.compare_single_bundle:
            with TreeSampler(psutil.Process(), count_self=False) as single_memory:
                single = build_site_from_file(warehouse, tmp / "site-single",
                                              SiteConfig(search_bundle_items=max(args.items, 10)))
            print(f"single-bundle baseline: {single.seconds:.1f} s (pagefind {single.timings['pagefind']:.1f} s), "
                  f"Pagefind peak RSS {single_memory.tree_peak / 1e6:.0f} MB; split bundles' peak "
                  f"{pagefind_memory.tree_peak / 1e6:.0f} MB")
        print(f"RSS now {psutil.Process().memory_info().rss / 1e6:.0f} MB")
    print(f"(b)/(a) over {args.rounds} round(s): {min(full_ratios):.1f} .. {max(full_ratios):.1f} -> "
          f"target <= {RATIO_TARGET}: {verdict(max(full_ratios))}")
    print(f"(c)/(a) over {args.rounds} round(s): {min(incremental_ratios):.1f} .. {max(incremental_ratios):.1f}")


if __name__ == "__main__":
    main()
