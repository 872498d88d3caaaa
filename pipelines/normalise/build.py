"""Build `items` (behind the `hub_items` view) from the raw records already stored.

Steps, each its own module: per-entry facts (clean, classify, read links) → near-duplicate
merges → one item per real thing → links and projects → organisations. Runs over
raw_entries only, never the network, so it can be re-run at any time (`opengovtech rebuild`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pipelines.duck import build_memory, insert_rows
from pipelines.normalise.aliases import Aliases
from pipelines.normalise.dedupe import find_near_duplicates
from pipelines.normalise.facts import FACTS_VERSION, refresh_entry_facts
from pipelines.normalise.organisations import build_organisations
from pipelines.normalise.projects import build_projects
from pipelines.warehouse import Warehouse

STATE_KEY = "items_built_from"

BUILD_ITEMS_SQL = """
CREATE OR REPLACE TABLE items AS
WITH kept AS (
    SELECT r.source_id, r.entry_key, r.published_at, r.updated_at, r.date_missing, r.first_seen_at,
           r.last_seen_at, r.tags, r.match_reasons, r.details, r.mention, f.*,
           coalesce(m.into_key, f.item_key) AS id, m.reason AS near_duplicate
    FROM raw_entries r
    JOIN entry_facts f USING (source_id, entry_key)
    LEFT JOIN item_merges m ON m.item_key = f.item_key
    WHERE r.matched
),
-- The representative record of an item is the original, not a re-share: a record read from
-- the page or feed itself beats one made from a social post sharing it, a record under the
-- item's own URL beats a merged near-duplicate, and the earliest published wins.
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY id
                                 ORDER BY mention IS NOT NULL, near_duplicate IS NOT NULL,
                                          merge_note IS NOT NULL, kind_score DESC,
                                          published_at NULLS LAST, first_seen_at, source_id, entry_key) AS rank
    FROM kept
),
merged AS (
    SELECT id,
           list_distinct(flatten(list(tags))) AS tags,
           list_sort(list_distinct(list(source_id))) AS source_ids,
           list_distinct(flatten(list(match_reasons))) AS match_reasons,
           min(first_seen_at) AS first_seen_at,
           max(last_seen_at) AS last_seen_at,
           list(mention ORDER BY json_extract_string(mention, '$.posted_at'), mention)
               FILTER (WHERE mention IS NOT NULL) AS mentions,
           list_sort(list_distinct(list(merge_note) FILTER (WHERE merge_note IS NOT NULL))) AS notes,
           list_sort(list_distinct(list(near_duplicate) FILTER (WHERE near_duplicate IS NOT NULL))) AS near,
           count(DISTINCT source_id) AS sources,
           count(DISTINCT canonical_url) AS urls
    FROM kept GROUP BY id
)
SELECT k.id, k.kind, k.title, k.canonical_url AS url, k.summary, k.content_html, k.content_text, k.author,
       k.organisation, k.published_at, k.date_missing, k.updated_at, k.language,
       m.tags, m.source_ids, m.match_reasons, m.first_seen_at, m.last_seen_at,
       k.asset_type, k.details, coalesce(m.mentions, []) AS mentions, k.kind_reasons,
       list_concat(
           CASE WHEN m.sources > 1 THEN [concat('same canonical URL in ', m.sources, ' sources: ',
                                                array_to_string(m.source_ids, ', '))] ELSE [] END,
           coalesce(m.notes, []), coalesce(m.near, [])) AS merge_reasons
FROM ranked k JOIN merged m USING (id)
WHERE k.rank = 1
"""

FINGERPRINT_SQL = """
SELECT concat_ws('|',
    (SELECT concat(count(*), ':', max(changed_at)) FROM raw_entries),
    (SELECT md5(string_agg(concat(source_id, '=', coalesce(config_json, ''), active), ',' ORDER BY source_id))
     FROM sources),
    $suffix)
"""


@dataclass
class ItemsBuild:
    rebuilt: bool
    items: int
    facts_computed: int = 0
    near_duplicates: int = 0
    links: int = 0
    projects: int = 0
    organisations: int = 0


def build_items(warehouse: Warehouse, *, aliases: Aliases | None = None, force: bool = False) -> ItemsBuild:
    """Rebuild items when raw records, source configuration, aliases or the rules changed.

    `force` recomputes every entry's facts too (what `opengovtech rebuild` does)."""
    aliases = aliases or Aliases()
    con = warehouse.con
    fingerprint = con.execute(FINGERPRINT_SQL, {"suffix": f"{aliases.digest}:{FACTS_VERSION}"}).fetchone()[0]
    if not force and warehouse.get_state(STATE_KEY) == fingerprint:
        return ItemsBuild(rebuilt=False, items=con.execute("SELECT count(*) FROM items").fetchone()[0])
    with build_memory(con):
        con.begin()
        try:
            facts = refresh_entry_facts(con, aliases, force=force)
            merges = find_near_duplicates(con)
            merge_batch = pa.Table.from_pylist(
                [{"item_key": m.item_key, "into_key": m.into_key, "reason": m.reason} for m in merges],
                schema=pa.schema([("item_key", pa.string()), ("into_key", pa.string()), ("reason", pa.string())]))
            con.execute("DELETE FROM item_merges")
            insert_rows(con, "item_merges", merge_batch)
            con.execute(BUILD_ITEMS_SQL)
            organisations = build_organisations(con, aliases)
            projects = build_projects(con)
            warehouse.set_state(STATE_KEY, fingerprint)
            con.commit()
        except Exception:
            con.rollback()
            raise
    return ItemsBuild(rebuilt=True, items=con.execute("SELECT count(*) FROM items").fetchone()[0],
                      facts_computed=facts.computed, near_duplicates=len(merges), links=projects.links,
                      projects=projects.projects, organisations=organisations)
