"""What the hub site shows, read from the warehouse's public views.

Only `hub_items`, `hub_projects`, `sources` and `source_health` are read: the site depends on
the warehouse's contract, not on how items were built.

Items are never all held in memory: `read_hub` keeps what every page needs (counts, the
organisations, tags and sources, which grow with the sources, not the items) and stages the
item cards in DuckDB temporary tables; listings and item pages are then streamed from there a
batch at a time, in the order they are written. DuckDB spills those tables to disk under its
memory limit, so the site build's memory does not grow with the number of items.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from itertools import groupby
from typing import Iterator

import duckdb
import pyarrow as pa

from pipelines.store.connection import insert_rows
from pipelines.tuning import return_freed_memory
from pipelines.parse.slugs import slugify
from pipelines.parse.tags import normalise_tag

KIND_ORDER = ("story", "technique", "asset", "event", "community")
KIND_PLURALS = {"story": "Stories", "technique": "Techniques", "asset": "Assets", "event": "Events",
                "community": "Community"}
RELATED_LIMIT = 6
LATEST_PER_KIND = 6
BATCH = 2_000
PAGES_PER_QUERY = 4_000
# Listings are read this many cards per query: one query sorting every card with its texts, by
# group, outgrew the site's limit as the hub grew; its ids alone sort cheaply.
LISTING_ROWS_PER_QUERY = 50_000

CARD_COLUMNS = ("id", "kind", "title", "url", "summary", "author", "organisation", "published_at", "sort_date",
                "updated_at", "language", "tags", "source_ids", "match_reasons", "date_missing", "related_ids",
                "project_id", "kind_reasons", "link_ok")
_CARDS = ", ".join(f"c.{column}" for column in CARD_COLUMNS)

# A card's fields as read from hub_items.
CARD_SELECT = """
id, kind, title, url, coalesce(summary, '') AS summary, author, organisation, published_at,
coalesce(published_at, first_seen_at) AS sort_date, updated_at, language, coalesce(tags, []) AS tags,
coalesce(source_ids, []) AS source_ids, coalesce(match_reasons, []) AS match_reasons,
coalesce(date_missing, false) AS date_missing, coalesce(related_ids, []) AS related_ids, project_id,
coalesce(kind_reasons, []) AS kind_reasons, link_ok
"""

# The hub's order, newest first: of site_cards (every listing is that order within its group) and
# of the data export.
HUB_ORDER = "coalesce(published_at, first_seen_at) DESC NULLS LAST, id"

# rn is the position in the hub's order; every listing is that order within its group.
# Only ids and dates are sorted: a window over the cards themselves sorted every card's texts at
# once, needing memory that grew with the hub.
SITE_CARDS_SQL = f"""
CREATE OR REPLACE TEMP TABLE site_cards AS
WITH hub_order AS (
    SELECT id, row_number() OVER (ORDER BY {HUB_ORDER}) AS rn
    FROM hub_items
)
SELECT hub_order.rn, {CARD_SELECT}
FROM hub_items JOIN hub_order USING (id)
"""

# One row per (item, tag key): an item tagged both "OpenGovTech" and "open-gov-tech" is listed once.
SITE_ITEM_TAGS_SQL = """
CREATE OR REPLACE TEMP TABLE site_item_tags AS
SELECT k.key, t.id, min(t.rn) AS rn
FROM (SELECT id, rn, unnest(tags) AS label FROM site_cards) t
JOIN site_tag_keys k USING (label)
GROUP BY k.key, t.id
"""

# Each tag is shown in the spelling most items use; a tie goes to the spelling seen first.
TAGS_SQL = """
WITH spellings AS (
    SELECT key, label, count(DISTINCT id) AS items, min((rn, position)) AS first_seen
    FROM (SELECT id, rn, unnest(tags) AS label, generate_subscripts(tags, 1) AS position FROM site_cards)
    JOIN site_tag_keys USING (label)
    GROUP BY key, label
)
SELECT s.key, arg_min(s.label, (-s.items, s.first_seen)) AS label, t.items
FROM spellings s
JOIN (SELECT key, count(*) AS items FROM site_item_tags GROUP BY key) t USING (key)
GROUP BY s.key, t.items
ORDER BY t.items DESC, s.key
"""

# Organisations in the order their newest item appears (that order decides which of two names that
# slugify alike keeps the plain slug), with how many items and distinct sources each has.
ORGANISATIONS_SQL = """
SELECT o.organisation, o.items, coalesce(s.sources, 0)
FROM (SELECT organisation, count(*) AS items, min(rn) AS first FROM site_cards
      WHERE organisation IS NOT NULL GROUP BY organisation) o
LEFT JOIN (SELECT organisation, count(DISTINCT source_id) AS sources
           FROM (SELECT organisation, unnest(source_ids) AS source_id FROM site_cards WHERE organisation IS NOT NULL)
           GROUP BY organisation) s USING (organisation)
ORDER BY o.first
"""

# An item page's related items: those it links to or is linked from (its project) first, in their
# order, then the newest of its organisation's other items, up to RELATED_LIMIT. Only the first
# RELATED_LIMIT + 1 + (most links any item has) of an organisation can be needed, so the
# organisation side is cut there before the join and the join stays linear in the items.
SITE_RELATED_SQL = """
CREATE OR REPLACE TEMP TABLE site_related AS
WITH linked AS (
    SELECT l.item_id, l.rel_id, 0 AS grp, l.position
    FROM (SELECT id AS item_id, unnest(related_ids) AS rel_id, generate_subscripts(related_ids, 1) AS position
          FROM site_cards WHERE len(related_ids) > 0) l
    SEMI JOIN site_cards c ON c.id = l.rel_id
),
organisation_top AS (
    SELECT * FROM (
        SELECT id, organisation, row_number() OVER (PARTITION BY organisation ORDER BY rn) AS org_rank
        FROM site_cards WHERE organisation IS NOT NULL)
    WHERE org_rank <= $limit + 1 + (SELECT coalesce(max(len(related_ids)), 0) FROM site_cards)
),
from_organisation AS (
    SELECT c.id AS item_id, o.id AS rel_id, 1 AS grp, o.org_rank AS position
    FROM site_cards c JOIN organisation_top o ON o.organisation = c.organisation
    WHERE o.id <> c.id AND NOT list_contains(c.related_ids, o.id) AND o.org_rank <= $limit + 1 + len(c.related_ids)
),
ranked AS (
    SELECT item_id, rel_id, row_number() OVER (PARTITION BY item_id ORDER BY grp, position) AS n
    FROM (SELECT * FROM linked UNION ALL SELECT * FROM from_organisation)
)
SELECT item_id, rel_id, n FROM ranked WHERE n <= $limit
"""

# One sorted stream per range of item ids: each item's page row (slot 0) followed by its related
# cards (slots 1…). Lists of related cards built per item by an aggregate would be held in memory
# whole, and one sort of every page's body does not fit DuckDB's memory limit at 30,000 items;
# ids are hashes, so ranges of them hold even shares of the items.
ITEM_PAGES_SQL = f"""
WITH projects AS (
    SELECT project_id, title AS project_title, coalesce(story_ids[1], technique_ids[1]) AS lead_id FROM hub_projects
),
pages AS (
    SELECT {CARD_SELECT}, 0 AS slot, content_html, asset_type, details, mentions, project_title,
           CASE WHEN lead_id <> id AND lead_id IN (SELECT id FROM site_cards) THEN lead_id END AS project_lead_id
    FROM hub_items LEFT JOIN projects USING (project_id)
    WHERE ($low IS NULL OR id >= $low) AND ($high IS NULL OR id < $high)
),
related AS (
    -- A card shows at most 220 characters of a summary (macros.html): 240 keep every cut the same.
    SELECT r.item_id AS id, r.n AS slot, c.id AS related_id, c.kind AS related_kind, c.title AS related_title,
           c.organisation AS related_organisation, c.sort_date AS related_sort_date,
           left(c.summary, 240) AS related_summary
    FROM site_related r JOIN site_cards c ON c.id = r.rel_id
    WHERE ($low IS NULL OR r.item_id >= $low) AND ($high IS NULL OR r.item_id < $high)
)
SELECT * FROM pages UNION ALL BY NAME SELECT * FROM related
ORDER BY id, slot
"""

SITE_TABLES = ("site_cards", "site_tag_keys", "site_item_tags", "site_related", "site_listing")


# File systems allow 255 bytes for one name: a directory named from data is cut well short of that.
SEGMENT_BYTES = 100
SEGMENT_KEPT_BYTES = 60
_NOT_IN_SEGMENT = re.compile(r"[^\w-]+")


def path_segment(value: str) -> str:
    """`value` (a tag's key, an organisation's slug, an item id, a kind) as one directory name of the
    site: word characters and hyphens, at most SEGMENT_BYTES bytes of UTF-8. A longer one keeps its
    first SEGMENT_KEPT_BYTES and gains 8 hex digits of a hash of the whole value, so every path that
    fitted before is unchanged and two long values with the same beginning still differ."""
    if value.isalnum() and len(value) <= SEGMENT_BYTES // 4:   # item ids and most tags: nothing to do
        return value
    segment = _NOT_IN_SEGMENT.sub("-", value).strip("-") or "unnamed"
    if len(segment.encode("utf-8")) <= SEGMENT_BYTES:
        return segment
    kept = segment.encode("utf-8")[:SEGMENT_KEPT_BYTES].decode("utf-8", "ignore").rstrip("-")
    return f"{kept}-{hashlib.sha1(value.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def item_path(item_id: str) -> str:
    return f"items/{path_segment(item_id)}/"


def kind_path(kind: str) -> str:
    return f"kinds/{path_segment(kind)}/"


@dataclass
class ItemCard:
    """One item as listings, feeds and the item page show it (content is read separately)."""
    id: str
    kind: str
    title: str
    url: str | None
    summary: str
    author: str | None
    organisation: str | None
    published_at: datetime | None
    sort_date: datetime | None
    updated_at: datetime | None
    language: str | None
    tags: list[str]
    source_ids: list[str]
    match_reasons: list[str]
    date_missing: bool
    related_ids: list[str] = field(default_factory=list)   # items it links to or is linked from, its project
    project_id: str | None = None
    kind_reasons: list[str] = field(default_factory=list)
    link_ok: bool | None = None                             # the last link check (None: not checked)

    @classmethod
    def from_row(cls, row: dict) -> "ItemCard":
        card = cls(**{column: row[column] for column in CARD_COLUMNS})
        card.published_at, card.sort_date, card.updated_at = (_utc(card.published_at), _utc(card.sort_date),
                                                               _utc(card.updated_at))
        return card

    @property
    def path(self) -> str:
        return item_path(self.id)

    @property
    def year(self) -> str | None:
        return str(self.sort_date.year) if self.sort_date else None


@dataclass
class RelatedCard:
    """The few fields a card in an item page's "Related" list shows."""
    id: str
    kind: str
    title: str
    organisation: str | None
    sort_date: datetime | None
    summary: str

    @property
    def path(self) -> str:
        return item_path(self.id)


@dataclass
class ItemPage:
    """Everything one item's page shows."""
    card: ItemCard
    content_html: str | None
    asset: dict
    mentions: list[dict]
    related: list[RelatedCard]
    project_title: str | None
    project_lead_path: str | None


@dataclass
class Organisation:
    name: str
    slug: str
    item_count: int = 0
    source_count: int = 0
    homepage: str | None = None

    @property
    def path(self) -> str:
        return f"organisations/{self.slug}/"


@dataclass
class Tag:
    key: str
    label: str
    item_count: int = 0

    @cached_property
    def path(self) -> str:
        return f"tags/{path_segment(self.key)}/"


@dataclass
class SourceStatus:
    source_id: str
    kind: str
    url: str | None
    org: str | None
    active: bool
    status: str | None
    http_status: int | None
    error: str | None
    warning: str | None
    items_seen: int | None
    consecutive_failures: int
    last_run_at: datetime | None
    last_success_at: datetime | None
    feed_url: str | None
    next_attempt_at: datetime | None = None
    items_in_hub: int = 0

    @property
    def backing_off(self) -> bool:
        return bool(self.next_attempt_at and self.next_attempt_at > datetime.now(timezone.utc))

    @property
    def healthy(self) -> bool:
        return self.status in ("ok", "not_modified")


@dataclass
class HubContent:
    """What every page of the site needs; item cards stay in the warehouse (see the module doc)."""
    item_count: int
    kind_counts: dict[str, int]           # in the order the site lists kinds
    latest: dict[str, list[ItemCard]]     # the newest few of each kind, for the home page
    organisations: list[Organisation]
    tags: list[Tag]
    sources: list[SourceStatus]
    generated_at: datetime

    def organisation_of(self, item: ItemCard) -> Organisation | None:
        return self._orgs_by_name.get(item.organisation) if item.organisation else None

    def organisation(self, name: str) -> Organisation | None:
        return self._orgs_by_name.get(name)

    def tag(self, label: str) -> Tag | None:
        return self._tags_by_key.get(normalise_tag(label))

    def source(self, source_id: str) -> SourceStatus | None:
        return self._sources_by_id.get(source_id)

    def __post_init__(self) -> None:
        self._orgs_by_name = {org.name: org for org in self.organisations}
        self._tags_by_key = {tag.key: tag for tag in self.tags}
        self._sources_by_id = {source.source_id: source for source in self.sources}


def _kind_position(kind: str) -> tuple[int, str]:
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


def read_hub(con: duckdb.DuckDBPyConnection) -> HubContent:
    """Stage the item cards in temporary tables on `con` and read what every page needs.

    The listing and item-page streams below read those tables, so they take the same connection;
    `drop_site_tables` removes them."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(SITE_CARDS_SQL)
    _stage_tag_keys(con)
    con.execute(SITE_ITEM_TAGS_SQL)
    con.execute(SITE_RELATED_SQL, {"limit": RELATED_LIMIT})
    kind_counts = dict(sorted(con.execute("SELECT kind, count(*) FROM site_cards GROUP BY kind").fetchall(),
                              key=lambda pair: _kind_position(pair[0])))
    latest: dict[str, list[ItemCard]] = {kind: [] for kind in kind_counts}
    for kind, cards in _grouped_cards(con, f"""
            SELECT c.kind AS grp, {_CARDS} FROM site_cards c JOIN (
                SELECT id, row_number() OVER (PARTITION BY kind ORDER BY rn) AS kind_rank FROM site_cards) r USING (id)
            WHERE r.kind_rank <= {LATEST_PER_KIND} ORDER BY c.kind, c.rn"""):
        latest[kind] = list(cards)
    sources = _read_sources(con)
    tags = [Tag(key=key, label=label, item_count=count) for key, label, count in con.execute(TAGS_SQL).fetchall()]
    return HubContent(item_count=sum(kind_counts.values()), kind_counts=kind_counts, latest=latest,
                      organisations=_organisations(con, sources), tags=tags, sources=sources,
                      generated_at=datetime.now(timezone.utc))


def drop_site_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in SITE_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def newest_cards(con: duckdb.DuckDBPyConnection, limit: int) -> list[ItemCard]:
    """The newest `limit` item cards (the hub's own feeds)."""
    sql = f"SELECT {_CARDS} FROM site_cards c ORDER BY c.rn LIMIT {int(limit)}"
    return [ItemCard.from_row(row) for row in _rows(con, sql)]


def iter_item_ids(con: duckdb.DuckDBPyConnection) -> Iterator[str]:
    for row in _rows(con, "SELECT id FROM site_cards"):
        yield row["id"]


def iter_kind_listings(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, Iterator[ItemCard]]]:
    """(kind, its cards newest first) for every kind; each group's cards must be read before the next."""
    return _listing_cards(con, "SELECT kind AS grp, id, rn FROM site_cards")


def iter_tag_listings(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, Iterator[ItemCard]]]:
    """(tag key, its cards newest first) for every tag."""
    return _listing_cards(con, "SELECT key AS grp, id, rn FROM site_item_tags")


def iter_organisation_listings(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, Iterator[ItemCard]]]:
    """(organisation name, its cards newest first) for every organisation."""
    return _listing_cards(con, "SELECT organisation AS grp, id, rn FROM site_cards WHERE organisation IS NOT NULL")


def iter_item_pages(con: duckdb.DuckDBPyConnection, item_count: int) -> Iterator[ItemPage]:
    """What each item's page shows, streamed so 100,000s of bodies never sit in memory."""
    for low, high in id_ranges(item_count, PAGES_PER_QUERY):
        rows = _rows(con, ITEM_PAGES_SQL, {"low": low, "high": high})
        for _, item_rows in groupby(rows, key=lambda row: row["id"]):
            row = next(item_rows)
            yield ItemPage(
                card=ItemCard.from_row(row), content_html=row["content_html"],
                asset=item_facts(row["asset_type"], row["details"]), mentions=item_mentions(row["mentions"]),
                related=[RelatedCard(id=r["related_id"], kind=r["related_kind"], title=r["related_title"],
                                     organisation=r["related_organisation"], sort_date=_utc(r["related_sort_date"]),
                                     summary=r["related_summary"] or "") for r in item_rows],
                project_title=row["project_title"],
                project_lead_path=item_path(row["project_lead_id"]) if row["project_lead_id"] else None)
        return_freed_memory()


def id_ranges(count: int, per_range: int) -> list[tuple[str | None, str | None]]:
    """[low, high) bounds splitting hex item ids into about count / per_range even ranges; the first
    is open below and the last open above, so every id falls in exactly one whatever its form."""
    ranges = max(1, min(-(-count // per_range), 16 ** 4))
    bounds = [format(n * 16 ** 4 // ranges, "04x") for n in range(1, ranges)]
    return list(zip([None, *bounds], [*bounds, None]))


def iter_sitemap_entries(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, datetime | None]]:
    """(item id, last modified) for every item, newest first."""
    for row in _rows(con, "SELECT id, coalesce(updated_at, sort_date) AS modified FROM site_cards ORDER BY rn"):
        yield row["id"], _utc(row["modified"])


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> Iterator[dict]:
    # Nothing else may run on `con` while a stream is read: a new query would end it.
    for batch in con.execute(sql, params).to_arrow_reader(BATCH):
        yield from batch.to_pylist()


def _grouped_cards(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple[str, Iterator[ItemCard]]]:
    return _cards_by_group(_rows(con, sql))


def _cards_by_group(rows: Iterator[dict]) -> Iterator[tuple[str, Iterator[ItemCard]]]:
    """(group, its cards) for card rows carrying their group as `grp`, already in group order."""
    for group, group_rows in groupby(rows, key=lambda row: row["grp"]):
        yield group, (ItemCard.from_row(row) for row in group_rows)


def _listing_cards(con: duckdb.DuckDBPyConnection, keys_sql: str) -> Iterator[tuple[str, Iterator[ItemCard]]]:
    """(group, its cards in rn order) for the rows `grp, id, rn` of `keys_sql`, groups in order.

    Only those narrow rows are sorted whole; the cards are joined to them and sorted
    LISTING_ROWS_PER_QUERY at a time, so no sort holds every card's texts."""
    con.execute("CREATE OR REPLACE TEMP TABLE site_listing AS "
                f"SELECT grp, id, row_number() OVER (ORDER BY grp, rn) AS pos FROM ({keys_sql})")
    (total,), = con.execute("SELECT count(*) FROM site_listing").fetchall()

    def rows() -> Iterator[dict]:
        for low in range(0, total, LISTING_ROWS_PER_QUERY):
            yield from _rows(con, f"SELECT l.grp, {_CARDS} FROM site_listing l JOIN site_cards c USING (id) "
                                  "WHERE l.pos > $low AND l.pos <= $high ORDER BY l.pos",
                             {"low": low, "high": low + LISTING_ROWS_PER_QUERY})
    yield from _cards_by_group(rows())


def _stage_tag_keys(con: duckdb.DuckDBPyConnection) -> None:
    # Tag keys are the harvest's own normalise_tag, not an SQL imitation of it; computed once per
    # distinct spelling, which are far fewer than the items' tags.
    labels = [label for (label,) in con.execute(
        "SELECT DISTINCT label FROM (SELECT unnest(tags) AS label FROM site_cards) WHERE label IS NOT NULL").fetchall()]
    keyed = [(label, key) for label in labels if (key := normalise_tag(label))]
    con.execute("CREATE OR REPLACE TEMP TABLE site_tag_keys (label VARCHAR, key VARCHAR)")
    insert_rows(con, "site_tag_keys", pa.table({"label": [label for label, _ in keyed], "key": [key for _, key in keyed]}))


def item_mentions(mentions: list[str] | None) -> list[dict]:
    """The social posts that shared an item: platform, post URL, author, date."""
    found = []
    for text in mentions or []:
        try:
            mention = json.loads(text)
        except ValueError:
            continue
        if isinstance(mention, dict) and mention.get("url"):
            found.append({"platform": str(mention.get("platform") or "").capitalize(), "url": mention["url"],
                          "author": str(mention.get("author") or ""),
                          "date": str(mention.get("posted_at") or "")[:10]})
    return found


def item_facts(asset_type: str | None, details: str | None) -> dict:
    """What the item page lists about an asset (a repository's licence, language, stars …)."""
    try:
        data = json.loads(details) if details else {}
    except ValueError:
        data = {}
    if asset_type != "repo" or not isinstance(data, dict):
        return {}
    publiccode = data.get("publiccode") or {}
    facts = {
        "Licence": data.get("license") if data.get("license") not in (None, "NOASSERTION") else None,
        "Language": data.get("language"),
        "Stars": data.get("stars"),
        "Forks": data.get("forks"),
        "Open issues": data.get("open_issues"),
        "Last pushed": (data.get("pushed_at") or "")[:10] or None,
        "Archived": "yes" if data.get("archived") else None,
        "Maintenance (publiccode.yml)": (publiccode.get("maintenance") or {}).get("type") or None,
    }
    return {"facts": {k: v for k, v in facts.items() if v not in (None, "")}, "homepage": data.get("homepage")}


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _organisations(con: duckdb.DuckDBPyConnection, sources: list[SourceStatus]) -> list[Organisation]:
    by_name: dict[str, Organisation] = {}
    taken: dict[str, int] = {}
    for name, items, source_count in con.execute(ORGANISATIONS_SQL).fetchall():
        slug = path_segment(slugify(name))
        taken[slug] = taken.get(slug, 0) + 1
        if taken[slug] > 1:  # two names that slugify alike ("Leeds City Council" / "Leeds city-council")
            slug = f"{slug}-{taken[slug]}"
        by_name[name] = Organisation(name=name, slug=slug, item_count=items, source_count=source_count)
    for source in sources:
        if source.org in by_name and source.url and not by_name[source.org].homepage:
            by_name[source.org].homepage = source.url
    return sorted(by_name.values(), key=lambda o: o.name.casefold())


def _read_sources(con: duckdb.DuckDBPyConnection) -> list[SourceStatus]:
    rows = con.execute("""
        SELECT s.source_id, s.kind, s.url, s.org, s.active, h.status, h.http_status, h.error, h.warning,
               h.items_seen, coalesce(h.consecutive_failures, 0), h.last_run_at, h.last_success_at, h.feed_url,
               h.next_attempt_at, coalesce(n.items, 0)
        FROM sources s
        LEFT JOIN source_health h USING (source_id)
        LEFT JOIN (SELECT source_id, count(*) AS items
                   FROM (SELECT unnest(source_ids) AS source_id FROM site_cards) GROUP BY source_id) n USING (source_id)
        ORDER BY s.source_id""").fetchall()
    return [SourceStatus(source_id=r[0], kind=r[1], url=r[2], org=r[3], active=bool(r[4]), status=r[5],
                         http_status=r[6], error=r[7], warning=r[8], items_seen=r[9], consecutive_failures=r[10],
                         last_run_at=_utc(r[11]), last_success_at=_utc(r[12]), feed_url=r[13],
                         next_attempt_at=_utc(r[14]), items_in_hub=r[15])
            for r in rows]
