"""Site benchmark: build time and size of the hub site for N items (default 10,000), one run.

A real warehouse (migrations applied) is filled with N items made from real corpus text
(bench/search.py's generator: real titles, tags and sentences recombined, seeded), from 200
sources with real-looking health rows. Then it measures:

  (a) floor: writing the same number of HTML files of the same total size with plain Python;
  (b) `build_site` on the warehouse: every page, feeds, OPML, sitemap, data export and the
      Pagefind index, with its phases;
and prints (b)/(a), the site's size, peak RSS of this process and of its Pagefind processes.

With --compare-single-bundle it builds the site a second time with the whole search index in one
Pagefind bundle (the baseline for the split index: its memory grows with the item count).

Target: (b) <= 60 s for 10,000 items on these machines.

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


def floor(out: Path, files: int, total_bytes: int) -> float:
    body = b"x" * max(1, total_bytes // max(files, 1))
    started = time.perf_counter()
    for n in range(files):
        target = out / f"{n // 1000}" / f"{n}" / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--bundle-items", type=int, default=SiteConfig().search_bundle_items)
    parser.add_argument("--compare-single-bundle", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        tmp = Path(tmp)
        warehouse = tmp / "warehouse" / "hub.duckdb"
        started = time.perf_counter()
        fill_warehouse(warehouse, args.items)
        print(f"warehouse with {args.items:,} items from real corpus text filled in {time.perf_counter() - started:.1f} s")

        with TreeSampler(psutil.Process(), count_self=False) as pagefind_memory:
            build = build_site_from_file(warehouse, tmp / "site", SiteConfig(search_bundle_items=args.bundle_items))
        single = None
        if args.compare_single_bundle:
            with TreeSampler(psutil.Process(), count_self=False) as single_memory:
                single = build_site_from_file(warehouse, tmp / "site-single",
                                              SiteConfig(search_bundle_items=max(args.items, 10)))
        html = [p for p in build.path.rglob("*.html")]
        html_bytes = sum(p.stat().st_size for p in html)
        baseline = floor(tmp / "floor", len(html), html_bytes)
        pagefind_bytes = sum(p.stat().st_size for d in build.path.glob("pagefind*") for p in d.rglob("*")
                             if p.is_file())
        peak = psutil.Process().memory_info().rss / 1e6

    print(f"(a) floor: {len(html):,} HTML files, {html_bytes / 1e6:.1f} MB written in {baseline:.2f} s")
    print(f"(b) site build: {build.seconds:.1f} s for {build.items:,} items, {build.pages:,} pages, "
          f"{build.bytes / 1e6:.1f} MB in all (Pagefind bundle {pagefind_bytes / 1e6:.1f} MB)")
    print("    phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in build.timings.items()))
    print(f"    {build.search_index}")
    print(f"(b)/(a) = {build.seconds / baseline:.1f}; RSS now {peak:.0f} MB; "
          f"Pagefind peak RSS {pagefind_memory.tree_peak / 1e6:.0f} MB (bundles of <= {args.bundle_items:,} items)")
    if single is not None:
        print(f"single-bundle baseline: {single.seconds:.1f} s (pagefind {single.timings['pagefind']:.1f} s), "
              f"Pagefind peak RSS {single_memory.tree_peak / 1e6:.0f} MB; split/single: time "
              f"{build.seconds / single.seconds:.2f}, Pagefind memory {pagefind_memory.tree_peak / single_memory.tree_peak:.2f}")
    print(f"target: (b) <= 60 s -> {'met' if build.seconds <= 60 else 'MISSED'}")


if __name__ == "__main__":
    main()
