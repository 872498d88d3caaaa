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
SELECT f.item_key, f.canonical_url, lower(f.author) AS author, r.published_at, f.content_text
FROM entry_facts f JOIN raw_entries r USING (source_id, entry_key)
WHERE f.author IS NOT NULL AND r.published_at IS NOT NULL AND length(f.content_text) >= $min_text
  AND r.mention IS NULL
ORDER BY author, r.published_at
"""


@dataclass
class Merge:
    item_key: str
    into_key: str
    reason: str


def find_near_duplicates(con) -> list[Merge]:
    rows = con.execute(CANDIDATES_SQL, {"min_text": MIN_TEXT}).fetchall()
    parent: dict[str, str] = {}
    info: dict[str, tuple] = {}
    reasons: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    start = 0
    texts: list[str] = []
    for i, (key, url, author, published, text) in enumerate(rows):
        texts.append(default_process(text[:TEXT_CHARS]))
        info.setdefault(key, (url, published))
        while rows[start][2] != author or published - rows[start][3] > WINDOW:
            start += 1
        for j in range(start, i):
            other = rows[j][0]
            if root(other) == root(key):
                continue
            score = fuzz.ratio(texts[i], texts[j], score_cutoff=THRESHOLD)
            if score:
                a, b = root(key), root(other)
                keep, drop = (a, b) if _original_first(info[a], info[b]) else (b, a)
                parent[drop] = keep
                days = abs((published - rows[j][3]).total_seconds()) / 86400
                reasons[drop] = (f"near-identical text ({score:.0f}% similar) by the same author ({author}) "
                                 f"{days:.1f} days apart: {info[drop][0]} merged into {info[keep][0]}")
    return [Merge(key, root(key), reasons[key]) for key in parent if root(key) != key]


def _original_first(a: tuple, b: tuple) -> bool:
    """True when a (url, published) looks like the original of b."""
    return (_syndicated(a[0]), a[1], a[0] or "") <= (_syndicated(b[0]), b[1], b[0] or "")


def _syndicated(url: str | None) -> bool:
    host = (urlsplit(url or "").hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in SYNDICATION_HOSTS)
