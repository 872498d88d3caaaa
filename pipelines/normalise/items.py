"""Build `items` (behind the `hub_items` view) from the raw records already stored.

Steps, each its own module: per-entry facts (clean, classify, read links) → near-duplicate
merges → one item per real thing → links and projects → organisations. Runs over
raw_entries only, never the network, so it can be re-run at any time (`opengovtech rebuild`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from pipelines.store.connection import build_memory, insert_rows, release_cache, transaction
from pipelines.normalise.aliases import Aliases
from pipelines.normalise.dedupe import find_near_duplicates
from pipelines.code_version import code_version
from pipelines.normalise.facts import facts_suffix, refresh_entry_facts
from pipelines.normalise.identity import ENTRY_ITEM_ID, ENTRY_ITEM_JOINS, ENTRY_ITEM_URL, SHARED_KEYS_SQL
from pipelines.normalise.organisations import build_organisations
from pipelines.sanitize import UNTITLED
from pipelines.normalise.projects import build_next_links, build_projects
from pipelines.store.warehouse import Warehouse

STATE_KEY = "items_built_from"
# The item steps' version, never bumped by hand: a digest of this package's code (merging, item
# identity, links, projects, organisations), so a change to how items are made rebuilds them.
ITEMS_VERSION = code_version(sorted(Path(__file__).parent.glob("*.py")))
RECONNECT_AFTER_FACTS = 100_000   # facts recomputed in one build past which the rest gets a new connection

# Ranking and grouping read narrow columns only, into a temp table of one head row per item;
# the wide columns (texts, HTML) are then joined from entry_facts past that table. Both are done a
# share of the items at a time (by a hash of the item id, then of the head entry's key), and
# before the transaction that swaps the new items in: DuckDB holds a window's partitions, list
# aggregates and a transaction's new rows in memory, and each outgrew the build's limit when
# done over every entry of a large hub at once (docs/scaling.md).
KEPT_SQL = f"""
CREATE OR REPLACE TEMP TABLE kept_entries AS
SELECT f.source_id, f.entry_key, {ENTRY_ITEM_ID} AS id, {ENTRY_ITEM_URL} AS url,
       CASE WHEN s.item_key IS NULL THEN m.reason END AS near_duplicate,
       f.merge_note, f.kind_stated, r.mention, r.published_at, r.date_missing, r.updated_at, r.details,
       r.first_seen_at, r.last_seen_at, r.tags, f.match_reasons
FROM raw_entries r
JOIN entry_facts f USING (source_id, entry_key)
{ENTRY_ITEM_JOINS}
WHERE f.matched
  -- an entry with no title, link or text (stored before such entries were skipped) is no item
  AND (f.canonical_url IS NOT NULL OR f.content_text <> '' OR f.title <> '{UNTITLED}')
"""
ROWS_PER_SHARE = 50_000

ITEM_HEADS_SQL = """
{into}
WITH kept AS (SELECT * FROM kept_entries WHERE hash(id) % $shares = $share),
-- The representative record of an item is the original, not a re-share: a record read from
-- the page or feed itself beats one made from a social post sharing it, a record under the
-- item's own URL beats a merged near-duplicate, a record whose kind is stated (sources.yaml, a
-- repository, a collection, an #OpenGovTech<Kind> tag) beats a model's reading, and the earliest
-- published wins.
ranked AS (
    SELECT id, url, source_id, entry_key, published_at, date_missing, updated_at, details,
           row_number() OVER (PARTITION BY id
                              ORDER BY mention IS NOT NULL, near_duplicate IS NOT NULL,
                                       merge_note IS NOT NULL, kind_stated IS NOT TRUE,
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
           count(DISTINCT source_id) AS sources
    FROM kept GROUP BY id
)
SELECT k.id, k.url, k.source_id, k.entry_key, k.published_at, k.date_missing, k.updated_at, k.details,
       m.tags, m.source_ids, m.match_reasons, m.first_seen_at, m.last_seen_at,
       coalesce(m.mentions, []) AS mentions,
       list_concat(
           CASE WHEN m.sources > 1 THEN [concat('same canonical URL in ', m.sources, ' sources: ',
                                                array_to_string(m.source_ids, ', '))] ELSE [] END,
           coalesce(m.notes, []), coalesce(m.near, [])) AS merge_reasons
FROM ranked k
JOIN merged m USING (id)
WHERE k.rank = 1
"""

NEXT_ITEMS_SQL = """
{into}
SELECT h.id, f.kind, f.title, h.url, f.summary, f.content_html, f.content_text, f.author,
       f.organisation, h.published_at, h.date_missing, h.updated_at, f.language,
       h.tags, h.source_ids, h.match_reasons, h.first_seen_at, h.last_seen_at,
       f.asset_type, h.details, h.mentions, f.kind_reasons, h.merge_reasons
FROM entry_facts f
JOIN item_heads h ON f.source_id = h.source_id AND f.entry_key = h.entry_key
-- the share is named on both sides so that each scan is filtered, not only the join's result
WHERE hash(f.source_id, f.entry_key) % $shares = $share AND hash(h.source_id, h.entry_key) % $shares = $share
"""

# The sources' part is one hash per source, combined without sorting or joining them: the whole
# configuration as one string grows with the sources and ran a large `opengovtech rebuild` out of memory.
FINGERPRINT_SQL = """
SELECT concat_ws('|',
    (SELECT concat(count(*), ':', max(changed_at)) FROM raw_entries),
    (SELECT concat(count(*), ':', bit_xor(md5_number_lower(concat(source_id, '=', coalesce(config_json, ''), active))))
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
    # (start, end) unix times of each step of a rebuild, for run metadata and the benchmarks
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.time()
        try:
            yield
        finally:
            self.steps[name] = (started, time.time())


def build_items(warehouse: Warehouse, *, aliases: Aliases | None = None, force: bool = False) -> ItemsBuild:
    """Rebuild items when raw records, source configuration, aliases or the rules changed.

    `force` recomputes every entry's facts too (what `opengovtech rebuild` does)."""
    aliases = aliases or Aliases()
    con = warehouse.con
    fingerprint = con.execute(FINGERPRINT_SQL, {"suffix": f"{facts_suffix(aliases)}|{ITEMS_VERSION}"}).fetchone()[0]
    if not force and warehouse.get_state(STATE_KEY) == fingerprint:
        return ItemsBuild(rebuilt=False, items=con.execute("SELECT count(*) FROM items").fetchone()[0])
    build = ItemsBuild(rebuilt=True, items=0)
    with build_memory(con):
        # Facts are a cache keyed by the raw row they came from: each batch commits on its own,
        # so a large first build never holds every cleaned text in one transaction, and a build
        # that dies part way resumes from the batches already done.
        with build.step("facts"):
            build.facts_computed = refresh_entry_facts(con, aliases, force=force).computed
        # Facts written since the last checkpoint keep their index changes in memory (builds
        # checkpoint rarely, see tuning.py), which the item step then lacked on a large first build.
        con.execute("CHECKPOINT")
    if build.facts_computed >= RECONNECT_AFTER_FACTS:
        # A large refresh leaves the blocks it wrote cached, and release_cache can evict only what
        # is not pinned; a new connection lets go of all of it, for milliseconds (docs/scaling.md).
        warehouse.reconnect()
        con = warehouse.con
    with build_memory(con):
        # Each step's cached blocks are given back before the next: the next step reads other
        # tables, and blocks left cached stack up under the build's raised limit.
        release_cache(con)
        # Merges, item heads, the new items and their links are built before the transaction that
        # swaps them in with their organisations and projects: a build that dies before its commit
        # leaves the fingerprint unchanged, and the next one builds them again.
        with build.step("near_duplicates"):
            build.near_duplicates = replace_item_merges(con)
        release_cache(con)
        with build.step("items"):
            build_next_items(con)
        release_cache(con)
        with build.step("links"):
            build_next_links(con)
        con.execute("DROP TABLE shared_item_keys")
        release_cache(con)
        restore_items_key(con)
        with transaction(con):
            # items keeps its one definition (the migrations', with its primary key): refilled, not replaced.
            con.execute("DELETE FROM items")
            con.execute("INSERT INTO items BY NAME SELECT * FROM items_next")
            con.execute("DROP TABLE items_next")
            con.execute("DROP TABLE IF EXISTS item_links")
            con.execute("ALTER TABLE item_links_next RENAME TO item_links")
            with build.step("organisations"):
                build.organisations = build_organisations(con, aliases)
            with build.step("projects"):
                projects = build_projects(con)
                build.links, build.projects = projects.links, projects.projects
            warehouse.set_state(STATE_KEY, fingerprint)
    build.items = con.execute("SELECT count(*) FROM items").fetchone()[0]
    return build


MERGES_PER_INSERT = 10_000
MERGES_SCHEMA = pa.schema([("item_key", pa.string()), ("into_key", pa.string()), ("reason", pa.string())])


def replace_item_merges(con) -> int:
    """item_merges replaced by this build's near-duplicate merges; returns how many."""
    merges = find_near_duplicates(con)
    written = 0
    with transaction(con):
        con.execute("DELETE FROM item_merges")
        # In batches: a hub of syndicated copies has a merge for most of its entries, and each
        # merge's reason is a sentence.
        while batch := list(islice(merges, MERGES_PER_INSERT)):
            insert_rows(con, "item_merges", pa.Table.from_pylist(
                [{"item_key": m.item_key, "into_key": m.into_key, "reason": m.reason} for m in batch],
                schema=MERGES_SCHEMA))
            written += len(batch)
    return written


def restore_items_key(con) -> None:
    """Put back the primary key of items where an earlier build lost it (builds replaced the
    table with a CREATE TABLE AS): its ids are those of one build, so they are unique."""
    if not con.execute("""SELECT count(*) FROM duckdb_constraints()
                          WHERE database_name = current_database() AND schema_name = 'main'
                            AND table_name = 'items' AND constraint_type = 'PRIMARY KEY'""").fetchone()[0]:
        con.execute("ALTER TABLE items ADD PRIMARY KEY (id)")


def build_next_items(con) -> None:
    """The table items_next: every item, built a share of the items at a time (see KEPT_SQL),
    staged for the build's transaction to fill items with."""
    con.execute(SHARED_KEYS_SQL)
    con.execute(KEPT_SQL)
    rows = con.execute("SELECT count(*) FROM kept_entries").fetchone()[0]
    shares = max(1, -(-rows // ROWS_PER_SHARE))
    _fill_in_shares(con, ITEM_HEADS_SQL, "TEMP TABLE item_heads", shares)
    con.execute("DROP TABLE kept_entries")
    _fill_in_shares(con, NEXT_ITEMS_SQL, "TABLE items_next", shares)
    con.execute("DROP TABLE item_heads")


def _fill_in_shares(con, select_sql: str, table: str, shares: int) -> None:
    """Create `table` ("TABLE name" or "TEMP TABLE name") from share 0 of `select_sql`, then append the others."""
    name = table.split()[-1]
    for share in range(shares):
        into = f"CREATE OR REPLACE {table} AS" if share == 0 else f"INSERT INTO {name}"
        con.execute(select_sql.format(into=into), {"shares": shares, "share": share})
