"""Which item an entry belongs to: the one SQL definition the item and link steps share.

Canonical URLs decide identity across sources, never between entries of one source: entries
of a source that share one (permalinks differing only by #fragment, empty links that take the
feed's own URL) are each their own item, under their own URL. Social posts sharing a story are
mentions of it rather than entries of their own, so they still join it.
"""

from __future__ import annotations

SHARED_KEYS_SQL = """
CREATE OR REPLACE TEMP TABLE shared_item_keys AS
SELECT f.source_id, f.item_key
FROM entry_facts f JOIN raw_entries r USING (source_id, entry_key)
WHERE f.matched AND r.mention IS NULL
GROUP BY f.source_id, f.item_key HAVING count(*) > 1
"""

# An entry's item id and URL, over entry_facts `f` and raw_entries `r` with ENTRY_ITEM_JOINS.
ENTRY_ITEM_ID = "CASE WHEN s.item_key IS NULL THEN coalesce(m.into_key, f.item_key) ELSE f.own_key END"
ENTRY_ITEM_URL = "CASE WHEN s.item_key IS NULL THEN f.canonical_url ELSE coalesce(f.own_url, f.canonical_url) END"
ENTRY_ITEM_JOINS = """
LEFT JOIN item_merges m ON m.item_key = f.item_key
LEFT JOIN shared_item_keys s ON s.source_id = f.source_id AND s.item_key = f.item_key AND r.mention IS NULL
"""
