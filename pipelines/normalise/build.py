"""Build `items` (behind the `hub_items` view) from the raw records already stored.

One item per stable id: records from several sources with the same canonical URL
become one item listing every source. Runs over raw_entries only, never the network,
so it can be re-run at any time.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.duck import build_memory
from pipelines.warehouse import Warehouse

STATE_KEY = "items_built_from"

BUILD_ITEMS_SQL = """
CREATE OR REPLACE TABLE items AS
WITH kept AS (
    SELECT r.*, s.org
    FROM raw_entries r LEFT JOIN sources s USING (source_id)
    WHERE r.matched
),
-- The representative record of an item is the earliest published one: the original, not a re-share.
-- A record read from the page or feed itself beats one made from a social post sharing it.
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY item_id
                                 ORDER BY mention IS NOT NULL, published_at NULLS LAST, first_seen_at,
                                          source_id, entry_key) AS rank
    FROM kept
),
merged AS (
    SELECT item_id,
           list_distinct(flatten(list(tags))) AS tags,
           list_sort(list_distinct(list(source_id))) AS source_ids,
           list_distinct(flatten(list(match_reasons))) AS match_reasons,
           min(first_seen_at) AS first_seen_at,
           max(last_seen_at) AS last_seen_at,
           list(mention ORDER BY json_extract_string(mention, '$.posted_at'), mention)
               FILTER (WHERE mention IS NOT NULL) AS mentions
    FROM kept GROUP BY item_id
)
SELECT k.item_id AS id,
       coalesce(k.kind_hint, 'story') AS kind,
       k.title,
       coalesce(k.canonical_url, k.url) AS url,
       k.summary, k.content_html, k.content_text, k.author,
       coalesce(k.org, k.organisation) AS organisation,
       k.published_at, k.date_missing, k.updated_at, k.language,
       m.tags, m.source_ids, m.match_reasons, m.first_seen_at, m.last_seen_at,
       k.asset_type, k.details, coalesce(m.mentions, []) AS mentions
FROM ranked k JOIN merged m USING (item_id)
WHERE k.rank = 1
"""

FINGERPRINT_SQL = """
SELECT concat_ws('|',
    (SELECT concat(count(*), ':', max(changed_at)) FROM raw_entries),
    (SELECT md5(string_agg(concat(source_id, '=', coalesce(org, '')), ',' ORDER BY source_id)) FROM sources))
"""


@dataclass
class ItemsBuild:
    rebuilt: bool
    items: int


def build_items(warehouse: Warehouse, *, force: bool = False) -> ItemsBuild:
    """Rebuild items when raw records or source organisations changed since the last build."""
    con = warehouse.con
    fingerprint = con.execute(FINGERPRINT_SQL).fetchone()[0]
    if not force and warehouse.get_state(STATE_KEY) == fingerprint:
        return ItemsBuild(rebuilt=False, items=con.execute("SELECT count(*) FROM items").fetchone()[0])
    with build_memory(con):
        con.begin()
        try:
            con.execute(BUILD_ITEMS_SQL)
            warehouse.set_state(STATE_KEY, fingerprint)
            con.commit()
        except Exception:
            con.rollback()
            raise
    return ItemsBuild(rebuilt=True, items=con.execute("SELECT count(*) FROM items").fetchone()[0])
