"""Near-duplicate benchmark: syndicated copies that each carry their own links.

An author's posts, each published in C places within a few days, every copy with its own URLs
in its text (as the scale bench's copies, and as a post syndicated with per-site links), so no
two copies are the same text. Built from a real corpus feed's words. For each C it times, in
the same run:

  (a) baseline: each entry compared with every distinct text of its author's week (the
      method before pivots; its comparisons grow with the square of the copies);
  (b) `merge_near_duplicates`: each entry compared with each group's pivot, and a text of a
      group only when the pivot cannot rule it out;

and checks both give the same merges. Prints seconds, comparisons per entry and (b)/(a).

    python bench/near_duplicates.py --copies 25 50 100 200
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.normalise import dedupe  # noqa: E402

CORPUS = Path(os.environ.get("OPENGOVTECH_SHARED", REPO.parent / "shared")) / "corpus" / "feeds"
POSTS_PER_AUTHOR = 20
WEEKS = 3


def syndicated_rows(copies: int, authors: int = 2, seed: int = 1) -> list[tuple]:
    """(key, url, author, published, text) rows in (author, date) order."""
    rng = random.Random(seed)
    words = (CORPUS / "feedburner_thoughtbot_robots.atom").read_text(encoding="utf-8").split()
    rows = []
    for author in (f"author{n}" for n in range(authors)):
        for post in range(POSTS_PER_AUTHOR):
            start = rng.randrange(0, len(words) - 600)
            text = " ".join(words[start:start + 450])
            day = datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(hours=rng.randrange(0, WEEKS * 7 * 24))
            for copy_number in range(copies):
                link = f" https://site{copy_number}.example/{author}/{post} "
                middle = len(text) // 2
                body = (link + text[:middle] + link + text[middle:] + link)[:dedupe.TEXT_CHARS]
                rows.append((f"{author}-{post}-{copy_number}", f"https://site{copy_number}.example/{author}/{post}",
                             author, day + timedelta(hours=rng.randrange(0, 5 * 24)), body))
    return sorted(rows, key=lambda r: (r[2], r[3], r[0]))


def every_distinct_text(rows: list[tuple]) -> tuple[list[tuple[str, str]], int]:
    """The baseline: each entry compared with the oldest copy of every distinct text in its
    author's window. Returns the merges and the number of comparisons."""
    forest = dedupe.MergeForest()
    window: deque[tuple] = deque()
    copies: dict[str, deque[tuple]] = {}
    current_author, comparisons = None, 0
    for position, (key, url, author, published, text) in enumerate(rows):
        if author != current_author:
            window.clear()
            copies.clear()
            current_author = author
        while window and published - window[0][3] > dedupe.WINDOW:
            oldest = window.popleft()
            copies[oldest[4]].popleft()
            if not copies[oldest[4]]:
                del copies[oldest[4]]
        processed = default_process(text)
        for _, other_key, other_url, other_published, other_text in sorted(q[0] for q in copies.values()):
            if forest.root(other_key) == forest.root(key):
                continue
            comparisons += 1
            score = fuzz.ratio(processed, other_text, score_cutoff=dedupe.THRESHOLD)
            if score:
                forest.merge((key, url, published), (other_key, other_url, other_published), author, score)
        entry = (position, key, url, published, processed)
        window.append(entry)
        copies.setdefault(processed, deque()).append(entry)
    return sorted((m.item_key, m.into_key) for m in forest.merges()), comparisons


def with_pivots(rows: list[tuple]) -> tuple[list[tuple[str, str]], int]:
    """`merge_near_duplicates`, counting its comparisons (ratios and pivot distances)."""
    counted = [0]
    ratio, distance = dedupe.fuzz.ratio, dedupe.Indel.distance

    def counting(function):
        def call(*args, **kwargs):
            counted[0] += 1
            return function(*args, **kwargs)
        return call

    dedupe.fuzz.ratio, dedupe.Indel.distance = counting(ratio), counting(distance)
    try:
        merges = sorted((m.item_key, m.into_key) for m in dedupe.merge_near_duplicates(iter(rows), set()))
    finally:
        dedupe.fuzz.ratio, dedupe.Indel.distance = ratio, distance
    return merges, counted[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, nargs="+", default=[25, 50, 100, 200])
    args = parser.parse_args()
    print("copies | entries | merges | baseline s | pivots s | pivots / baseline | "
          "comparisons per entry (baseline / pivots)")
    for copies in args.copies:
        rows = syndicated_rows(copies)
        started = time.perf_counter()
        expected, baseline_comparisons = every_distinct_text(rows)
        baseline_s = time.perf_counter() - started
        started = time.perf_counter()
        merges, pivot_comparisons = with_pivots(rows)
        pivots_s = time.perf_counter() - started
        if merges != expected:
            raise SystemExit(f"{copies} copies: the merges differ from the baseline's")
        print(f"{copies} | {len(rows)} | {len(merges)} | {baseline_s:.2f} | {pivots_s:.2f} | "
              f"{pivots_s / baseline_s:.3f} | {baseline_comparisons / len(rows):.1f} / "
              f"{pivot_comparisons / len(rows):.1f}", flush=True)


if __name__ == "__main__":
    main()
