"""Normalise stage cost: building hub_items from N stored raw entries (real corpus feed entries,
replicated under distinct URLs), against a floor measured in the same run.

    .venv/bin/python bench/normalise.py [--entries 20000] [--first-only] [--raw-cache DIR]

Floor: DuckDB copying the same raw_entries table (CREATE TABLE AS SELECT), the least any
build over them costs. Reported: the first build (every entry cleaned, classified, linked),
an unchanged re-run (skipped by its fingerprint), a re-run after 1 % of entries changed (only
those recomputed), a forced rebuild (`opengovtech rebuild`), and the process's peak RSS during the
first build (sampled every 50 ms): run it at several sizes to see whether memory stays flat.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Iterator

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import TreeSampler  # noqa: E402
from pipelines.normalise import build_items  # noqa: E402
from pipelines.parse import parse_document  # noqa: E402
from pipelines.parse.entries import ParseOptions  # noqa: E402
from pipelines.parse.urls import canonical_url, item_id  # noqa: E402
from pipelines.outcomes import SourceOutcome  # noqa: E402
from pipelines.store.warehouse import open_for_writing  # noqa: E402

CORPUS = Path(os.environ.get("OPENGOVTECH_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "corpus" / "feeds"
SOURCES = 100


def corpus_records() -> list:
    records = []
    for path in sorted(CORPUS.iterdir()):
        doc = parse_document(path.read_bytes(), f"https://example.org/{path.name}", None,
                             ParseOptions("bench", (), False))
        records.extend(r for r in doc.records if r.url)
    return records


def replicated(records: list, n: int) -> Iterator:
    """n copies of the corpus records, made one at a time (never all held at once)."""
    for i in range(n):
        r = records[i % len(records)]
        copy = i // len(records)
        url = canonical_url(f"{r.url}{'&' if '?' in r.url else '?'}copy={copy}")
        source = f"s{i % SOURCES:03d}"
        # Each copy a month later: copies are distinct posts, not near-duplicates of each other.
        shift = timedelta(days=30 * copy)
        yield replace(r, source_id=source, entry_key=f"{r.entry_key}#{copy}", url=url, canonical_url=url,
                      item_id=item_id(url, source, None),
                      published_at=r.published_at + shift if r.published_at else None)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--first-only", action="store_true",
                        help="only the first build and an unchanged re-run (for large sizes)")
    parser.add_argument("--raw-cache", type=Path,
                        help="keep the written raw entries in this directory and reuse them next time "
                             "(writing 1,000,000 takes longer than building them)")
    args = parser.parse_args()
    entries = args.entries
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hub.duckdb"
        if args.raw_cache:
            cached = args.raw_cache / f"raw-{entries}.duckdb"
            if not cached.exists():
                args.raw_cache.mkdir(parents=True, exist_ok=True)
                partial = cached.with_suffix(".partial")
                write_raw_entries(partial, entries)
                partial.rename(cached)
                partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
            shutil.copyfile(cached, path)
        else:
            write_raw_entries(path, entries)
        with open_for_writing(path, "bench") as wh:
            gc.collect()
            con = wh.con
            floor = timed(lambda: con.execute("CREATE OR REPLACE TEMP TABLE floor_copy AS SELECT * FROM raw_entries"))
            con.execute("DROP TABLE floor_copy")
            before_mb = process.memory_info().rss / 1e6
            with TreeSampler(process) as sampler:
                started = time.perf_counter()
                first_build = build_items(wh)
                first = time.perf_counter() - started
            unchanged = timed(lambda: build_items(wh))
            changed = one_percent = forced = None
            if not args.first_only:
                changed, one_percent, forced = changed_and_forced(wh)
            items = con.execute("SELECT count(*) FROM items").fetchone()[0]
            kinds = dict(con.execute("SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind").fetchall())
    rss = process.memory_info().rss / 1e6
    print(f"entries {entries} → items {items} {kinds}")
    print(f"floor (copy raw_entries)       {floor:8.2f} s")
    print(f"first build                    {first:8.2f} s  {first / floor:7.1f}x floor  "
          f"{entries / first:8.0f} entries/s")
    print(f"unchanged re-run               {unchanged:8.3f} s  {unchanged / first:7.1%} of first build")
    if forced is not None:
        print(f"re-run, {changed} entries changed  {one_percent:8.2f} s  {one_percent / first:7.1%} of first build")
        print(f"forced rebuild                 {forced:8.2f} s  {forced / first:7.2f}x first build")
    print(f"peak RSS during the first build {sampler.main_peak / 1e6:7.0f} MB "
          f"({before_mb:.0f} MB before it: imports, raw entries written); {rss:.0f} MB at the end")
    print("first build by step (seconds, peak RSS MB): " + ", ".join(
        f"{step} {end - start:.1f} s {max((m for at, m, _ in sampler.timeline if start <= at <= end), default=0):.0f}"
        for step, (start, end) in first_build.steps.items()))


def write_raw_entries(path: Path, entries: int) -> None:
    records = replicated(corpus_records(), entries)
    with open_for_writing(path, "bench") as wh:
        wh.sync_sources([{"source_id": f"s{i:03d}", "kind": "feed", "url": f"https://example.org/{i}",
                          "org": f"Council {i % 7}", "tagged_only": False, "config_json": "{}", "line": i}
                         for i in range(SOURCES)])
        while chunk := list(islice(records, 1000)):
            by_source: dict[str, list] = {}
            for r in chunk:
                by_source.setdefault(r.source_id, []).append(r)
            wh.write_outcomes("bench", [SourceOutcome(source_id=s, status="ok", records=rs, entries_read=len(rs))
                                        for s, rs in by_source.items()])


def changed_and_forced(wh) -> tuple[int, float, float]:
    """A re-run after 1 % of raw entries changed, then a forced rebuild of every entry's facts."""
    con = wh.con
    touched = "hash(source_id || entry_key) % 100 = 0"
    changed = con.execute(f"SELECT count(*) FROM raw_entries WHERE {touched}").fetchone()[0]
    con.execute(f"UPDATE raw_entries SET changed_at = now() WHERE {touched}")
    one_percent = timed(lambda: build_items(wh))
    forced = timed(lambda: build_items(wh, force=True))
    return changed, one_percent, forced


if __name__ == "__main__":
    main()
