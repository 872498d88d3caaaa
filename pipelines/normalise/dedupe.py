"""Near-duplicates: the same post cross-posted under another URL, without a canonical link back.

Entries by the same author, published within a few days of each other, whose text is
near-identical (rapidfuzz's normalised Indel similarity) are one item. The item keeps the
original publisher's URL: the entry not on a syndication platform, else the earliest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

WINDOW = timedelta(days=7)
THRESHOLD = 90.0          # percent similarity of the first TEXT_CHARS of the text
TEXT_CHARS = 3000
MIN_TEXT = 200            # shorter texts (a toot, a one-line summary) are too alike by chance
SYNDICATION_HOSTS = ("dev.to", "medium.com", "linkedin.com", "hashnode.com", "hashnode.dev", "substack.com")

CANDIDATES_SQL = """
SELECT f.item_key, f.canonical_url, lower(f.author) AS author, r.published_at, left(f.content_text, $chars)
FROM entry_facts f JOIN raw_entries r USING (source_id, entry_key)
WHERE f.author IS NOT NULL AND r.published_at IS NOT NULL AND length(f.content_text) >= $min_text
  AND r.mention IS NULL
-- the key and entry break ties in date, so the same entries always give the same merges and reasons
ORDER BY author, r.published_at, f.item_key, f.source_id, f.entry_key
"""
FETCH_ROWS = 5000


@dataclass
class Merge:
    item_key: str
    into_key: str
    reason: str


def find_near_duplicates(con) -> list[Merge]:
    """Streams entries in (author, date) order, holding only the current author's last WINDOW."""
    cursor = con.execute(CANDIDATES_SQL, {"min_text": MIN_TEXT, "chars": TEXT_CHARS})
    parent: dict[str, str] = {}
    info: dict[str, tuple] = {}      # only for keys that take part in a merge
    reasons: dict[str, str] = {}
    window: list[tuple] = []         # (key, url, author, published, processed text)

    def root(key: str) -> str:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    while rows := cursor.fetchmany(FETCH_ROWS):
        for key, url, author, published, text in rows:
            window = [w for w in window if w[2] == author and published - w[3] <= WINDOW]
            processed = default_process(text)
            for other_key, other_url, _, other_published, other_text in window:
                if root(other_key) == root(key):
                    continue
                score = fuzz.ratio(processed, other_text, score_cutoff=THRESHOLD)
                if not score:
                    continue
                info.setdefault(key, (url, published))
                info.setdefault(other_key, (other_url, other_published))
                a, b = root(key), root(other_key)
                keep, drop = (a, b) if _original_first(info[a], info[b]) else (b, a)
                parent[drop] = keep
                days = abs((published - other_published).total_seconds()) / 86400
                reasons[drop] = (f"near-identical text ({score:.0f}% similar) by the same author ({author}) "
                                 f"{days:.1f} days apart: {info[drop][0]} merged into {info[keep][0]}")
            window.append((key, url, author, published, processed))
    return [Merge(key, root(key), reasons[key]) for key in parent if root(key) != key]


def _original_first(a: tuple, b: tuple) -> bool:
    """True when a (url, published) looks like the original of b."""
    return (_syndicated(a[0]), a[1], a[0] or "") <= (_syndicated(b[0]), b[1], b[0] or "")


def _syndicated(url: str | None) -> bool:
    host = (urlsplit(url or "").hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in SYNDICATION_HOSTS)
