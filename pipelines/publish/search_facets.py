"""Facet counts for `opengovtech search --facets`: matches by kind, tag, organisation and year.

Counting used to group every match's `docs` row (and its `doc_tags` rows) in SQL, which for a common
word meant sorting most of the index on each search. The index now also holds, per facet, every
(document, value) pair as two packed integer arrays, written once when the index is built; a search
asks FTS5 for its matching rowids in one string and counts the pairs of the matched documents with
numpy. Counts are exact: every match is counted.

numpy is imported only when facets are counted: `opengovtech search` without --facets starts cold.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

FACET_LIMIT = 15  # values shown per facet, most matches first

SCHEMA = """
-- A facet's values. Values sharing a `value_group` are counted as one (a tag's spellings share its
-- key), shown as the least spelling among the matches, as SQL's min() would.
CREATE TABLE facet_values (facet TEXT NOT NULL, id INTEGER NOT NULL, value_group TEXT NOT NULL,
                           value TEXT NOT NULL, PRIMARY KEY (facet, id));
-- Every (document rowid, value id) pair of a facet, as two arrays of little-endian int32.
CREATE TABLE facet_pairs (facet TEXT PRIMARY KEY, rowids BLOB NOT NULL, value_ids BLOB NOT NULL);
"""

# Each facet's (rowid, value group, value) rows over the index's own tables: the one definition of
# what a facet counts. A document with two spellings of one tag is counted twice for it, as before.
FACET_ROWS = {
    "kind": "SELECT rowid, kind, kind FROM docs",
    "tag": "SELECT rowid, tag_key, tag FROM doc_tags",
    "organisation": "SELECT rowid, organisation, organisation FROM docs WHERE organisation IS NOT NULL",
    "year": "SELECT rowid, CAST(year AS TEXT), CAST(year AS TEXT) FROM docs WHERE year IS NOT NULL",
}
PAIR_TYPE = "<i4"


def write_facets(con: sqlite3.Connection) -> None:
    """Fill the facet tables from `docs` and `doc_tags`, which must be complete."""
    import numpy as np

    con.executescript(SCHEMA)
    for facet, sql in FACET_ROWS.items():
        rows = con.execute(sql).fetchall()
        values = sorted({(group, value) for _, group, value in rows})
        value_id = {pair: n for n, pair in enumerate(values)}
        con.executemany("INSERT INTO facet_values VALUES (?, ?, ?, ?)",
                        ((facet, n, group, value) for (group, value), n in value_id.items()))
        rowids = np.array([rowid for rowid, _, _ in rows], dtype=PAIR_TYPE)
        ids = np.array([value_id[(group, value)] for _, group, value in rows], dtype=PAIR_TYPE)
        con.execute("INSERT INTO facet_pairs VALUES (?, ?, ?)", (facet, rowids.tobytes(), ids.tobytes()))


@dataclass
class FacetPairs:
    """One facet as read from the index: its values in id order, and its (rowid, value id) pairs."""
    groups: list[str]
    values: list[str]
    rowids: "np.ndarray"
    value_ids: "np.ndarray"

    def counts(self, matched: "np.ndarray") -> list[tuple[str, int]]:
        """The FACET_LIMIT largest counts over the documents `matched` (a mask by rowid), ties by value."""
        import numpy as np

        per_value = np.bincount(self.value_ids[matched[self.rowids]], minlength=len(self.values))
        by_group: dict[str, tuple[str, int]] = {}
        for n in np.flatnonzero(per_value).tolist():
            group, value = self.groups[n], self.values[n]
            shown, count = by_group.get(group, (value, 0))
            by_group[group] = (min(shown, value), count + int(per_value[n]))
        return sorted(by_group.values(), key=lambda vc: (-vc[1], vc[0]))[:FACET_LIMIT]


class FacetCounter:
    """An index's facets, read once per open index."""

    def __init__(self, con: sqlite3.Connection):
        import numpy as np

        self.max_rowid = con.execute("SELECT coalesce(max(rowid), 0) FROM docs").fetchone()[0]
        self.facets: dict[str, FacetPairs] = {}
        for facet in FACET_ROWS:
            values = con.execute("SELECT value_group, value FROM facet_values WHERE facet = ? ORDER BY id",
                                 (facet,)).fetchall()
            rowids, ids = con.execute("SELECT rowids, value_ids FROM facet_pairs WHERE facet = ?", (facet,)).fetchone()
            self.facets[facet] = FacetPairs(groups=[g for g, _ in values], values=[v for _, v in values],
                                            rowids=np.frombuffer(rowids, dtype=PAIR_TYPE),
                                            value_ids=np.frombuffer(ids, dtype=PAIR_TYPE))

    def count(self, matched_rowids: str | None) -> tuple[int, dict[str, list[tuple[str, int]]]]:
        """The number of matches and each facet's counts, from the matched rowids as SQL's
        group_concat gives them (comma-separated, None for no match): one string crosses from
        SQLite to Python instead of a row per match."""
        import numpy as np

        rowids = np.fromstring(matched_rowids, dtype=np.int64, sep=",") if matched_rowids \
            else np.zeros(0, dtype=np.int64)
        matched = np.zeros(self.max_rowid + 1, dtype=bool)
        matched[rowids] = True
        return len(rowids), {facet: pairs.counts(matched) for facet, pairs in self.facets.items()}
