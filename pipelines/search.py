"""Full-text search over hub_items: BM25 through DuckDB's fts extension.

The index lives in its own DuckDB file next to the warehouse (`hub.search.duckdb`),
built into a temporary file and swapped in atomically, so searching never waits for
(or blocks) a harvest that holds the warehouse open for writing. This module must
not import dagster: `opengovtech search` starts cold.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.duck import BUILD_MEMORY_LIMIT, build_memory, connect, load_fts
from pipelines.errors import HubError
from pipelines.tags import normalise_tag

if TYPE_CHECKING:
    from pipelines.warehouse import Warehouse

INDEX_STATE_KEY = "search_index_built_from"
TITLE_WEIGHT = 1.0  # added BM25 of the title and tags fields on top of the all-fields score


class SearchIndexMissing(HubError):
    pass


def index_path_for(warehouse_path: Path) -> Path:
    return warehouse_path.with_name(warehouse_path.stem + ".search.duckdb")


@dataclass
class IndexRefresh:
    rebuilt: bool
    documents: int
    path: Path


def refresh_search_index(warehouse: "Warehouse") -> IndexRefresh:
    """Rebuild the index only when hub_items changed since it was last built (or it is missing)."""
    from pipelines.normalise import STATE_KEY as ITEMS_STATE_KEY

    target = index_path_for(warehouse.path)
    items_version = warehouse.get_state(ITEMS_STATE_KEY) or ""
    if target.exists() and warehouse.get_state(INDEX_STATE_KEY) == items_version:
        return IndexRefresh(rebuilt=False, path=target,
                            documents=warehouse.con.execute("SELECT count(*) FROM hub_items").fetchone()[0])
    documents = build_search_index(warehouse)
    warehouse.set_state(INDEX_STATE_KEY, items_version)
    return IndexRefresh(rebuilt=True, documents=documents, path=target)


def build_search_index(warehouse: "Warehouse") -> int:
    """Copy hub_items into a fresh index file, index it, and swap it in; returns the document count."""
    target = index_path_for(warehouse.path)
    staging = target.with_name(target.name + ".building")
    for leftover in (staging, Path(str(staging) + ".wal")):
        leftover.unlink(missing_ok=True)
    warehouse.con.execute(f"ATTACH '{staging}' AS search_build")
    try:
        with build_memory(warehouse.con):
            warehouse.con.execute(
                """CREATE TABLE search_build.docs AS
                   SELECT id, kind, title, url, summary, organisation, published_at, first_seen_at,
                          coalesce(published_at, first_seen_at) AS sort_date, tags, source_ids,
                          array_to_string(tags, ' ') AS tags_text,
                          list_transform(tags, t -> lower(regexp_replace(t, '[^[:alnum:]]', '', 'g'))) AS tag_keys,
                          content_text
                   FROM hub_items""")
        count = warehouse.con.execute("SELECT count(*) FROM search_build.docs").fetchone()[0]
    finally:
        warehouse.con.execute("DETACH search_build")
    con = connect(staging, memory_limit=BUILD_MEMORY_LIMIT)
    try:
        load_fts(con)
        con.execute("PRAGMA create_fts_index('docs', 'id', 'title', 'tags_text', 'summary', 'content_text', "
                    "stemmer = 'porter', stopwords = 'english', strip_accents = 1, lower = 1, overwrite = 1)")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(staging, target)
    return count


@dataclass
class SearchHit:
    id: str
    kind: str
    title: str
    url: str | None
    summary: str
    organisation: str | None
    published_at: str | None
    tags: list[str]
    source_ids: list[str]
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchFilters:
    kind: str | None = None
    tag: str | None = None
    source: str | None = None
    since: date | None = None
    until: date | None = None


def search(index_path: Path, query: str, filters: SearchFilters | None = None, limit: int = 20) -> list[SearchHit]:
    if not index_path.exists():
        raise SearchIndexMissing(f"no search index at {index_path}: run `opengovtech run` first")
    filters = filters or SearchFilters()
    where, params = ["score IS NOT NULL"], {"q": query, "limit": limit}
    if filters.kind:
        where.append("kind = $kind")
        params["kind"] = filters.kind
    if filters.tag:
        where.append("list_contains(tag_keys, $tag)")
        params["tag"] = normalise_tag(filters.tag)
    if filters.source:
        where.append("list_contains(source_ids, $source)")
        params["source"] = filters.source
    if filters.since:
        where.append("sort_date >= $since")
        params["since"] = datetime.combine(filters.since, datetime.min.time())
    if filters.until:
        where.append("sort_date < $until + INTERVAL 1 DAY")
        params["until"] = datetime.combine(filters.until, datetime.min.time())
    sql = f"""
        SELECT id, kind, title, url, summary, organisation, strftime(published_at, '%Y-%m-%dT%H:%M:%SZ'),
               tags, source_ids, score
        FROM (
            SELECT *,
                   fts_main_docs.match_bm25(id, $q)
                   + {TITLE_WEIGHT} * coalesce(fts_main_docs.match_bm25(id, $q, fields := 'title,tags_text'), 0)
                   AS score
            FROM docs
        )
        WHERE {' AND '.join(where)}
        ORDER BY score DESC, sort_date DESC NULLS LAST
        LIMIT $limit"""
    con = connect(index_path, read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        load_fts(con)
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    return [SearchHit(id=r[0], kind=r[1], title=r[2], url=r[3], summary=r[4] or "", organisation=r[5],
                      published_at=r[6], tags=list(r[7] or []), source_ids=list(r[8] or []), score=round(r[9], 4))
            for r in rows]
