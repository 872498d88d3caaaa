"""Near-duplicates: the same post cross-posted under another URL, without a canonical link back.

Entries by the same author, published within a few days of each other, whose text is
near-identical (rapidfuzz's normalised Indel similarity) are one item. The item keeps the
original publisher's URL: the entry not on a syndication platform, else the earliest.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel
from rapidfuzz.utils import default_process

from pipelines.normalise.union_find import UnionFind

WINDOW = timedelta(days=7)
THRESHOLD = 90.0          # percent similarity of the first TEXT_CHARS of the text
TEXT_CHARS = 3000
MIN_TEXT = 200            # shorter texts (a toot, a one-line summary) are too alike by chance
SYNDICATION_HOSTS = ("dev.to", "medium.com", "linkedin.com", "hashnode.com", "hashnode.dev", "substack.com")

CANDIDATES_FROM = """
FROM entry_facts f JOIN raw_entries r USING (source_id, entry_key)
WHERE f.matched AND f.author IS NOT NULL AND r.published_at IS NOT NULL AND length(f.content_text) >= $min_text
  AND r.mention IS NULL
"""
AUTHORS_SQL = f"SELECT lower(f.author) AS candidate_author, count(*) {CANDIDATES_FROM} GROUP BY 1 ORDER BY 1"
# Read a range of authors at a time: DuckDB holds a sort's rows in memory when they carry long
# text, so sorting every candidate at once outgrew the build's limit (docs/scaling.md).
CANDIDATES_SQL = f"""
SELECT f.item_key, f.canonical_url, lower(f.author) AS author, r.published_at, left(f.content_text, $chars)
{CANDIDATES_FROM}
  AND lower(f.author) BETWEEN $first AND $last
-- the key and entry break ties in date, so the same entries always give the same merges and reasons
ORDER BY author, r.published_at, f.item_key, f.source_id, f.entry_key
"""
# Item keys that more than one author's entries carry (the same URL under two bylines): a merge
# made under one author can grow under another only through such a key.
SHARED_KEYS_SQL = f"""
SELECT f.item_key {CANDIDATES_FROM} GROUP BY f.item_key HAVING count(DISTINCT lower(f.author)) > 1
"""
ROWS_PER_QUERY = 20_000
FETCH_ROWS = 5000
SPOOL_ROWS = 10_000
SPOOL_SCHEMA = pa.schema([("item_key", pa.string()), ("into_key", pa.string()), ("reason", pa.string())])


@dataclass
class Merge:
    item_key: str
    into_key: str
    reason: str


def author_ranges(con, rows_per_query: int = ROWS_PER_QUERY) -> list[tuple[str, str]]:
    """Consecutive ranges of candidate authors, in order, each with about `rows_per_query`
    candidates (an author with more has a range of their own)."""
    ranges: list[tuple[str, str]] = []
    first = last = None
    rows = 0
    for author, count in con.execute(AUTHORS_SQL, {"min_text": MIN_TEXT}).fetchall():
        if first is not None and rows + count > rows_per_query:
            ranges.append((first, last))
            first, rows = None, 0
        if first is None:
            first = author
        last, rows = author, rows + count
    if first is not None:
        ranges.append((first, last))
    return ranges


def keys_under_several_authors(con) -> set[str]:
    return {key for (key,) in con.execute(SHARED_KEYS_SQL, {"min_text": MIN_TEXT}).fetchall()}


def candidates(con, rows_per_query: int = ROWS_PER_QUERY) -> Iterator[tuple]:
    """Candidate entries in (author, date) order, read one range of authors at a time."""
    for first, last in author_ranges(con, rows_per_query):
        cursor = con.execute(CANDIDATES_SQL, {"min_text": MIN_TEXT, "chars": TEXT_CHARS,
                                              "first": first, "last": last})
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from rows


class MergeForest(UnionFind):
    """The merges found so far: each merged key's parent (its root is the item kept), the
    (url, published) of every key in a merge, and why each dropped key was merged."""

    def __init__(self) -> None:
        super().__init__()
        self.info: dict[str, tuple] = {}
        # (score, author, days apart, the key it was merged into): the sentence is written only
        # when the merges are read, since a hub of syndicated copies has a merge for most entries.
        self.reasons: dict[str, tuple[float, str, float, str]] = {}

    def merge(self, entry: tuple, other: tuple, author: str, score: float) -> None:
        """Merge the items of two (key, url, published) entries found `score`% similar: the one
        that looks like the original is kept."""
        (key, url, published), (other_key, other_url, other_published) = entry, other
        self.info.setdefault(key, (url, published))
        self.info.setdefault(other_key, (other_url, other_published))
        a, b = self.root(key), self.root(other_key)
        keep, drop = (a, b) if _original_first(self.info[a], self.info[b]) else (b, a)
        self.join(keep, drop)
        days = abs((published - other_published).total_seconds()) / 86400
        self.reasons[drop] = (score, author, days, keep)

    def merges(self) -> Iterator[Merge]:
        for key in self:
            root = self.root(key)
            if root != key:
                yield Merge(key, root, self.reason(key))

    def take_finished(self, shared: set[str]) -> list[Merge]:
        """The merges of every group of keys that holds none of `shared`, each group then
        forgotten: once its author's entries are all read, only a shared key can join it again."""
        groups: dict[str, list[str]] = defaultdict(list)
        for key in self.info:
            groups[self.root(key)].append(key)
        finished = []
        for root, keys in groups.items():
            if shared.isdisjoint(keys):
                finished += [Merge(key, root, self.reason(key)) for key in keys if key != root]
                for key in keys:
                    del self.info[key]
                    self.forget(key)
                    self.reasons.pop(key, None)
        return finished

    def reason(self, key: str) -> str:
        score, author, days, into = self.reasons[key]
        return (f"near-identical text ({score:.0f}% similar) by the same author ({author}) "
                f"{days:.1f} days apart: {self.info[key][0]} merged into {self.info[into][0]}")


def find_near_duplicates(con, rows_per_query: int = ROWS_PER_QUERY) -> Iterator[Merge]:
    """The near-duplicate merges among the warehouse's candidate entries (see `merge_near_duplicates`)."""
    return merge_near_duplicates(candidates(con, rows_per_query), keys_under_several_authors(con),
                                 _spool_directory(con))


def merge_near_duplicates(rows: Iterable[tuple], shared: set[str],
                          spool_directory: Path | None = None) -> Iterator[Merge]:
    """Streams (key, url, author, published, text) rows in (author, date) order, holding only the
    current author's last WINDOW and the merges not yet finished. Every row is read before this
    returns; the merges are then read back from where they were written as each author's were
    finished. `shared` holds the keys that more than one author's rows carry."""
    forest = MergeForest()
    window: deque[tuple] = deque()   # (position, key, url, published, processed text), oldest first
    # The window's entries by text, oldest first. Copies of one text score the same against any
    # entry, and were merged with each other when the later one came in, so only the oldest copy
    # of each text is compared: an author whose posts are syndicated to hundreds of places made
    # every pair in the window a comparison (figures in docs/scaling.md).
    copies: dict[str, deque[tuple]] = {}
    pivots = TextPivots()
    current_author = None
    # A hub of syndicated copies has a merge for most of its entries (about 600 bytes each in
    # the forest), so each author's finished merges go to a file, not to memory.
    spool = _MergeSpool(spool_directory)
    try:
        for position, (key, url, author, published, text) in enumerate(rows):
            if author != current_author:
                spool.write(forest.take_finished(shared))
                window.clear()
                copies.clear()
                pivots = TextPivots()
                current_author = author
            while window and published - window[0][3] > WINDOW:
                oldest = window.popleft()
                same_text = copies[oldest[4]]
                same_text.popleft()
                if not same_text:
                    del copies[oldest[4]]
                    pivots.remove(oldest[4])
            processed = default_process(text)
            distances = pivots.distances_from(processed)
            # In window order, as comparing every text would meet them (the order decides which
            # copy is kept and what each merge says); the texts certainly too far are left out.
            for _, other_key, other_url, other_published, other_text in sorted(
                    copies[other][0] for other in distances.texts_within_reach()):
                if forest.root(other_key) == forest.root(key):
                    continue
                score = fuzz.ratio(processed, other_text, score_cutoff=THRESHOLD)
                if score:
                    forest.merge((key, url, published), (other_key, other_url, other_published), author, score)
            entry = (position, key, url, published, processed)
            window.append(entry)
            if processed not in copies:
                copies[processed] = deque()
                pivots.add(processed, distances.nearest_match())
            copies[processed].append(entry)
        spool.write(forest.take_finished(set()))
    except BaseException:
        spool.discard()
        raise
    return spool.read_back()


def _allowed_distance(length: int, other_length: int) -> float:
    """The largest Indel distance at which `fuzz.ratio` of two texts of these lengths still
    reaches THRESHOLD, plus a character to spare: a text is passed over only where the ratio
    would be below it."""
    return (length + other_length) * (100 - THRESHOLD) / 100 + 1


class TextPivots:
    """The window's texts in groups, each around a pivot, so that a new text is compared with
    a group's pivot rather than with each of its texts.

    An author whose posts are copied to hundreds of places, each copy a little different (its
    own links), has hundreds of distinct texts per post in a week, and each new entry was
    compared with all of them, most of a large build's time. The Indel distance
    behind `fuzz.ratio` is a metric, so a text T near a pivot P (d(P, T) <= u) is at least
    d(E, P) - u from a new text E: once E is known to be far from P, it is far from all of P's
    group without comparing. A text joins the group of the nearest pivot it matched, or starts
    its own; merges stay exactly those of comparing every pair (tested against that reference)."""

    def __init__(self) -> None:
        self.pivot_of: dict[str, tuple[str, int]] = {}   # member -> (its pivot, their distance)
        self.members: dict[str, set[str]] = {}           # pivot -> its members (not itself)
        self.spread: dict[str, int] = {}                 # pivot -> the largest distance of a member
        self.longest: dict[str, int] = {}                # pivot -> the length of its group's longest text
        self.departed: set[str] = set()                  # pivots out of the window, kept for their members

    def distances_from(self, text: str) -> "PivotDistances":
        return PivotDistances(self, text)

    def add(self, text: str, nearest: tuple[str, int] | None) -> None:
        """A text entering the window: a member of the `nearest` (pivot, distance) it matched, or
        a pivot itself."""
        if text in self.members:      # a pivot that had left, back with a copy of its text
            self.departed.discard(text)
        elif nearest is None:
            self.members[text] = set()
            self.spread[text] = 0
            self.longest[text] = len(text)
        else:
            pivot, distance = nearest
            self.pivot_of[text] = (pivot, distance)
            self.members[pivot].add(text)
            self.spread[pivot] = max(self.spread[pivot], distance)
            self.longest[pivot] = max(self.longest[pivot], len(text))

    def remove(self, text: str) -> None:
        """A text leaving the window. A pivot that still has members stays their pivot (its text
        kept, no longer a text of the window): pointing them at one another instead would add
        their distances up (doubling at each pivot that leaves) or cost comparisons."""
        if text in self.pivot_of:
            pivot, _ = self.pivot_of.pop(text)
            self.members[pivot].discard(text)
            if pivot in self.departed and not self.members[pivot]:
                self._forget(pivot)
        elif self.members[text]:
            self.departed.add(text)
        else:
            self._forget(text)

    def _forget(self, pivot: str) -> None:
        del self.members[pivot], self.spread[pivot], self.longest[pivot]
        self.departed.discard(pivot)


class PivotDistances:
    """One new text's distances to the pivots, each computed up to the largest distance at
    which it could still decide something about the pivot's group."""

    def __init__(self, pivots: TextPivots, text: str) -> None:
        self.pivots, self.text = pivots, text
        self.known: dict[str, tuple[int, int]] = {}   # pivot -> (distance, or cutoff + 1 if beyond; cutoff)

    def texts_within_reach(self) -> Iterator[str]:
        """The window's texts that may be within THRESHOLD of the text: every other one is
        certainly below it (by length, or through its pivot)."""
        pivots, text = self.pivots, self.text
        for pivot, members in pivots.members.items():
            spread, longest = pivots.spread[pivot], pivots.longest[pivot]
            # Far enough to decide the group's longest text at the group's largest distance.
            cutoff = int((len(text) + longest) * (100 - THRESHOLD) / 100) + 2 + spread
            distance = Indel.distance(text, pivot, score_cutoff=cutoff)
            self.known[pivot] = (distance, cutoff)
            if distance - spread > _allowed_distance(len(text), longest):
                continue   # the whole group
            if pivot not in pivots.departed and distance <= _allowed_distance(len(text), len(pivot)):
                yield pivot
            for member in members:
                allowed = _allowed_distance(len(text), len(member))
                if abs(len(text) - len(member)) <= allowed and distance - pivots.pivot_of[member][1] <= allowed:
                    yield member

    def nearest_match(self) -> tuple[str, int] | None:
        """The nearest pivot the text matched (within THRESHOLD), with its distance."""
        matched = [(distance, pivot) for pivot, (distance, cutoff) in self.known.items()
                   if distance <= cutoff and distance <= _allowed_distance(len(self.text), len(pivot)) - 1]
        if not matched:
            return None
        distance, pivot = min(matched)
        return pivot, distance


def _spool_directory(con) -> Path | None:
    """DuckDB's own spill directory (beside the warehouse), or None for the system's."""
    directory = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    if not directory:
        return None
    Path(directory).mkdir(parents=True, exist_ok=True)
    return Path(directory)


class _MergeSpool:
    """Merges written to a Parquet file as they are found, read back once, then deleted."""

    def __init__(self, directory: Path | None):
        handle, name = tempfile.mkstemp(prefix="near-duplicates-", suffix=".parquet", dir=directory)
        os.close(handle)
        self.path = Path(name)
        self._writer = pq.ParquetWriter(self.path, SPOOL_SCHEMA)

    def write(self, merges: list[Merge]) -> None:
        for start in range(0, len(merges), SPOOL_ROWS):
            part = merges[start:start + SPOOL_ROWS]
            self._writer.write_table(pa.table({"item_key": [m.item_key for m in part],
                                               "into_key": [m.into_key for m in part],
                                               "reason": [m.reason for m in part]}, schema=SPOOL_SCHEMA))

    def read_back(self) -> Iterator[Merge]:
        self._writer.close()
        try:
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=SPOOL_ROWS):
                for row in batch.to_pylist():
                    yield Merge(row["item_key"], row["into_key"], row["reason"])
        finally:
            self.path.unlink(missing_ok=True)

    def discard(self) -> None:
        self._writer.close()
        self.path.unlink(missing_ok=True)


def _original_first(a: tuple, b: tuple) -> bool:
    """True when a (url, published) looks like the original of b."""
    return (_syndicated(a[0]), a[1], a[0] or "") <= (_syndicated(b[0]), b[1], b[0] or "")


def _syndicated(url: str | None) -> bool:
    host = (urlsplit(url or "").hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in SYNDICATION_HOSTS)
