"""What the hub site shows, read from the warehouse's public views into plain dataclasses.

Only `hub_items`, `sources` and `source_health` are read: the site depends on the warehouse's
contract, not on how items were built.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timezone
from typing import Iterator

import duckdb

from pipelines.tags import normalise_tag

KIND_ORDER = ("story", "technique", "asset", "event", "community")
KIND_PLURALS = {"story": "Stories", "technique": "Techniques", "asset": "Assets", "event": "Events",
                "community": "Community"}

CARD_SQL = """
SELECT id, kind, title, url, summary, author, organisation, published_at,
       coalesce(published_at, first_seen_at) AS sort_date, updated_at, language, tags, source_ids,
       match_reasons, date_missing, related_ids, project_id, kind_reasons, link_ok
FROM hub_items
ORDER BY sort_date DESC NULLS LAST, id
"""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "unnamed"


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

    @property
    def path(self) -> str:
        return f"items/{self.id}/"

    @property
    def year(self) -> str | None:
        return str(self.sort_date.year) if self.sort_date else None


@dataclass
class Organisation:
    name: str
    slug: str
    items: list[ItemCard] = field(default_factory=list)
    source_ids: set[str] = field(default_factory=set)
    homepage: str | None = None

    @property
    def path(self) -> str:
        return f"organisations/{self.slug}/"


@dataclass
class Tag:
    key: str
    label: str
    items: list[ItemCard] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"tags/{self.key}/"


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
    items: list[ItemCard]
    organisations: list[Organisation]
    tags: list[Tag]
    sources: list[SourceStatus]
    generated_at: datetime

    @cached_property
    def by_kind(self) -> dict[str, list[ItemCard]]:
        grouped: dict[str, list[ItemCard]] = defaultdict(list)
        for item in self.items:
            grouped[item.kind].append(item)
        return {kind: grouped[kind] for kind in sorted(grouped, key=_kind_position)}

    def organisation_of(self, item: ItemCard) -> Organisation | None:
        return self._orgs_by_name.get(item.organisation) if item.organisation else None

    def tag(self, label: str) -> Tag | None:
        return self._tags_by_key.get(normalise_tag(label))

    def source(self, source_id: str) -> SourceStatus | None:
        return self._sources_by_id.get(source_id)

    def __post_init__(self) -> None:
        self._orgs_by_name = {org.name: org for org in self.organisations}
        self._tags_by_key = {tag.key: tag for tag in self.tags}
        self._sources_by_id = {source.source_id: source for source in self.sources}


def _kind_position(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def read_hub(con: duckdb.DuckDBPyConnection) -> HubContent:
    con.execute("SET TimeZone = 'UTC'")
    items = [ItemCard(id=r[0], kind=r[1], title=r[2], url=r[3], summary=r[4] or "", author=r[5], organisation=r[6],
                      published_at=_utc(r[7]), sort_date=_utc(r[8]), updated_at=_utc(r[9]), language=r[10],
                      tags=list(r[11] or []), source_ids=list(r[12] or []), match_reasons=list(r[13] or []),
                      date_missing=bool(r[14]), related_ids=list(r[15] or []), project_id=r[16],
                      kind_reasons=list(r[17] or []), link_ok=r[18])
             for r in con.execute(CARD_SQL).fetchall()]
    sources = _read_sources(con, items)
    return HubContent(items=items, organisations=_organisations(items, sources), tags=_tags(items), sources=sources,
                      generated_at=datetime.now(timezone.utc))


def iter_item_content(con: duckdb.DuckDBPyConnection,
                      batch_size: int = 2_000) -> Iterator[tuple[str, str | None, dict, list[dict]]]:
    """(id, content_html, facts, mentions) for every item, streamed so 10,000s of bodies never sit in memory."""
    reader = con.execute("SELECT id, content_html, asset_type, details, mentions FROM hub_items") \
        .fetch_record_batch(batch_size)
    for batch in reader:
        for item_id, content_html, asset_type, details, mentions in zip(*(batch.column(i).to_pylist()
                                                                          for i in range(5))):
            yield item_id, content_html, item_facts(asset_type, details), item_mentions(mentions)


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


def _organisations(items: list[ItemCard], sources: list[SourceStatus]) -> list[Organisation]:
    by_name: dict[str, Organisation] = {}
    slugs: Counter[str] = Counter()
    for item in items:
        if not item.organisation:
            continue
        org = by_name.get(item.organisation)
        if org is None:
            slug = slugify(item.organisation)
            slugs[slug] += 1
            if slugs[slug] > 1:  # two names that slugify alike ("Leeds City Council" / "Leeds city-council")
                slug = f"{slug}-{slugs[slug]}"
            org = by_name[item.organisation] = Organisation(name=item.organisation, slug=slug)
        org.items.append(item)
        org.source_ids.update(item.source_ids)
    for source in sources:
        if source.org in by_name and source.url and not by_name[source.org].homepage:
            by_name[source.org].homepage = source.url
    return sorted(by_name.values(), key=lambda o: o.name.casefold())


def _tags(items: list[ItemCard]) -> list[Tag]:
    tags: dict[str, Tag] = {}
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        for label in dict.fromkeys(item.tags):
            key = normalise_tag(label)
            if not key:
                continue
            labels[key][label] += 1
            tags.setdefault(key, Tag(key=key, label=label)).items.append(item)
    for key, tag in tags.items():
        tag.label = labels[key].most_common(1)[0][0]  # the spelling most items use
    return sorted(tags.values(), key=lambda t: (-len(t.items), t.key))


def _read_sources(con: duckdb.DuckDBPyConnection, items: list[ItemCard]) -> list[SourceStatus]:
    rows = con.execute("""
        SELECT s.source_id, s.kind, s.url, s.org, s.active, h.status, h.http_status, h.error, h.warning,
               h.items_seen, coalesce(h.consecutive_failures, 0), h.last_run_at, h.last_success_at, h.feed_url,
               h.next_attempt_at
        FROM sources s LEFT JOIN source_health h USING (source_id)
        ORDER BY s.source_id""").fetchall()
    counts = Counter(source_id for item in items for source_id in item.source_ids)
    return [SourceStatus(source_id=r[0], kind=r[1], url=r[2], org=r[3], active=bool(r[4]), status=r[5],
                         http_status=r[6], error=r[7], warning=r[8], items_seen=r[9], consecutive_failures=r[10],
                         last_run_at=_utc(r[11]), last_success_at=_utc(r[12]), feed_url=r[13],
                         next_attempt_at=_utc(r[14]), items_in_hub=counts.get(r[0], 0))
            for r in rows]
