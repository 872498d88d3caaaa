"""Per-entry facts: whether each raw record belongs in the hub under its source's current tags, and
each that does cleaned, classified and its links read.

Computed only for records that changed since their facts were made (or whose source
config, aliases or these rules changed), so an unchanged re-run costs one query; the
whole table is recomputed by `opengovtech rebuild`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.code_version import code_version
from pipelines.store.connection import insert_rows, lower_memory_limit
from pipelines.tuning import BUILD_MEMORY_LIMIT, STREAM_MEMORY_LIMIT

from pipelines.normalise.aliases import Aliases
from pipelines.entry import Column, json_object
from pipelines.normalise.classify import KIND_MODEL, ClassifyInput, classify
from pipelines.normalise import kind_features
from pipelines.normalise.clean import detect_language, fix_text, has_mojibake, primary_language
from pipelines.sanitize import UNTITLED, summarise, title_from_text
from pipelines.parse.tags import match_stored_entry
from pipelines.parse.urls import canonical_url, github_repo, item_id, permalink, url_identity
from pipelines.store.warehouse import arrow_schema, ensure_columns

# Rows per batch: each row's texts are held three times at once (Arrow, Python, the facts), so
# larger batches raised the peak for no speed gained (docs/scaling.md).
BATCH = 500
MAX_LINKS = 60
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.I)
_BARE_URL = re.compile(r"""https?://[^\s<>()\[\]"']+""")

# Stale entries are read in chunks of consecutive raw_entries row ids, one short query each,
# not in one stream: a large first build ran out of the stream's limit part way, most
# likely because DuckDB does not checkpoint while the stream's read transaction is open, so
# every fact written during it stayed in memory with its primary-key index. A row-id range is
# pushed down to the scan, so each chunk reads only its own row groups and the whole pass still
# reads raw_entries once.
CHUNK = 2000

# What an entry's facts take from its source, one narrow row per source, made once per refresh:
# each chunk's query joins it, so a source's configuration is hashed once, not once per entry.
# (Joining `sources` whole was suspected when a 54,000-source build ran out of the facts' 64MB;
# measured, it made no difference to a chunk's need: see _refresh_chunk for what does.)
SOURCE_FACTS_SQL = """
CREATE OR REPLACE TEMP TABLE source_facts AS
SELECT source_id, org AS source_org, kind AS source_kind, tagged_only,
       json_extract_string(config_json, '$.item_kind') AS source_hint,
       coalesce(json_extract_string(config_json, '$.tags[*]'), []) AS wanted_tags,
       md5(concat(coalesce(config_json, ''), $suffix)) AS config_hash
FROM sources
"""

STALE_SQL = """
CREATE OR REPLACE TEMP TABLE stale_entries AS
SELECT r.rowid AS raw_row
FROM raw_entries r
LEFT JOIN source_facts s USING (source_id)
LEFT JOIN entry_facts f USING (source_id, entry_key)
WHERE (f.source_id IS NULL OR f.raw_changed_at <> r.changed_at
       OR f.config_hash <> coalesce(s.config_hash, md5($suffix)))
"""

LAYOUT_SQL = "SELECT count(*), max(rowid) FROM raw_entries"

CHUNKS_SQL = """
SELECT min(raw_row), max(raw_row)
FROM (SELECT raw_row, (row_number() OVER (ORDER BY raw_row) - 1) // $chunk AS chunk FROM stale_entries)
GROUP BY chunk ORDER BY chunk
"""

ROWS_SQL = """
SELECT r.source_id, r.entry_key, r.changed_at, r.item_id, r.url, r.canonical_url, r.title, r.summary,
       r.content_html, r.content_text, r.author, r.organisation AS record_org, s.source_org,
       s.source_kind, s.source_hint, r.language, r.tags, r.kind_hint, r.asset_type, r.details, r.mention,
       r.matched AS harvest_matched, r.match_reasons AS harvest_reasons, s.wanted_tags, s.tagged_only,
       coalesce(s.config_hash, md5($suffix)) AS config_hash
FROM raw_entries r
LEFT JOIN source_facts s USING (source_id)
WHERE r.rowid BETWEEN $first AND $last
  AND r.rowid IN (SELECT raw_row FROM stale_entries WHERE raw_row BETWEEN $first AND $last)
"""

# entry_facts' columns, declared once in the table's order (facts are inserted by position): the
# Arrow schema facts are written in follows, and a column declared here since the shipped
# migrations is added to the table when facts are next refreshed.
FACT_COLUMNS = tuple(Column(name, sql_type) for name, sql_type in (
    ("source_id", "VARCHAR"), ("entry_key", "VARCHAR"), ("raw_changed_at", "TIMESTAMPTZ"), ("config_hash", "VARCHAR"),
    ("item_key", "VARCHAR"), ("canonical_url", "VARCHAR"), ("title", "VARCHAR"), ("summary", "VARCHAR"),
    ("content_text", "VARCHAR"), ("content_html", "VARCHAR"), ("author", "VARCHAR"), ("organisation", "VARCHAR"),
    ("language", "VARCHAR"), ("kind", "VARCHAR"), ("asset_type", "VARCHAR"), ("kind_score", "DOUBLE"),
    ("kind_reasons", "VARCHAR[]"), ("merge_note", "VARCHAR"), ("link_keys", "VARCHAR[]"), ("repo_links", "VARCHAR[]"),
    ("own_key", "VARCHAR"), ("own_url", "VARCHAR"), ("matched", "BOOLEAN"), ("match_reasons", "VARCHAR[]"),
    ("kind_stated", "BOOLEAN"),
))
FACTS_SCHEMA = arrow_schema(FACT_COLUMNS)


def facts_suffix(aliases: Aliases) -> str:
    """What every entry's facts depend on besides its record and its source: aliases and rules."""
    return f"|{aliases.digest}|{FACTS_VERSION}"


@dataclass
class FactsRefresh:
    computed: int
    removed: int


def refresh_entry_facts(con, aliases: Aliases, *, force: bool = False) -> FactsRefresh:
    """Bring entry_facts up to date with raw_entries; returns how many were (re)computed."""
    suffix = facts_suffix(aliases)
    ensure_columns(con, "entry_facts", FACT_COLUMNS)
    if force:
        con.execute("DELETE FROM entry_facts")
    removed = con.execute("""
        DELETE FROM entry_facts f WHERE NOT EXISTS (
            SELECT 1 FROM raw_entries r WHERE r.source_id = f.source_id AND r.entry_key = f.entry_key)""").fetchone()[0]
    computed = 0
    with lower_memory_limit(con, STREAM_MEMORY_LIMIT):
        # Row ids stay put unless a checkpoint compacts deleted rows out of raw_entries, which
        # moves every later row down (and so lowers the highest row id): then another pass
        # takes whatever is still stale.
        con.execute(SOURCE_FACTS_SQL, {"suffix": suffix})
        for _ in range(3):
            layout = con.execute(LAYOUT_SQL).fetchone()
            con.execute(STALE_SQL, {"suffix": suffix})
            for first, last in con.execute(CHUNKS_SQL, {"chunk": CHUNK}).fetchall():
                computed += _refresh_chunk(con, aliases, suffix, first, last)
            if con.execute(LAYOUT_SQL).fetchone() == layout:
                break
    con.execute("DROP TABLE stale_entries")
    con.execute("DROP TABLE source_facts")
    return FactsRefresh(computed=computed, removed=removed)


def _refresh_chunk(con, aliases: Aliases, suffix: str, first: int, last: int) -> int:
    """Facts for the stale entries with row ids first..last; returns how many rows were read.

    DuckDB reads a column 2,048 rows at a time, whatever the row-id range, so what a chunk's
    query needs is set by the texts of the entries stored around it as much as by the chunk's
    size (figures in docs/scaling.md), and inserting a batch's facts grows with their texts too.
    A chunk that does not fit the facts' limit is done again under the build's own limit, which
    the item step needs anyway: facts replace their earlier rows by key, so a batch written
    before the failure is written again, not twice. The build's limit then stays for the rest
    of the refresh (the step around it puts the build's back at the end): going down again
    failed on a large rebuild, DuckDB by then holding more than the facts' limit pinned."""
    try:
        return _compute_chunk(con, aliases, suffix, first, last)
    except duckdb.OutOfMemoryException:
        con.execute(f"SET memory_limit = '{BUILD_MEMORY_LIMIT}'")
        return _compute_chunk(con, aliases, suffix, first, last)


def _compute_chunk(con, aliases: Aliases, suffix: str, first: int, last: int) -> int:
    rows = con.execute(ROWS_SQL, {"suffix": suffix, "first": first, "last": last}).fetch_arrow_table()
    for batch in rows.to_batches(BATCH):
        facts = [entry_facts(row, aliases) for row in batch.to_pylist()]
        insert_rows(con, "entry_facts", pa.Table.from_pylist(facts, schema=FACTS_SCHEMA), replace=True)
    return rows.num_rows


def entry_facts(row: dict, aliases: Aliases) -> dict:
    canonical = canonical_url(row["canonical_url"] or row["url"] or "")
    key = item_id(canonical, row["source_id"], None) if canonical else row["item_id"]
    matched, reasons = _match(row)
    if not matched:  # kept so that it is not read again until the entry or its source's config changes
        return {"source_id": row["source_id"], "entry_key": row["entry_key"], "raw_changed_at": row["changed_at"],
                "config_hash": row["config_hash"], "item_key": key, "canonical_url": canonical, "kind": "",
                "matched": False, "match_reasons": []}
    title, text, html, summary = row["title"] or "", row["content_text"] or "", row["content_html"] or "", row["summary"]
    if has_mojibake(title, text[:20000]):  # one check decides for every field of the entry
        title, text, html, summary = fix_text(title), fix_text(text), fix_text(html), fix_text(summary)
    if not title.strip() or title == UNTITLED:  # records stored before titles were derived from text
        title = title_from_text(text) or canonical or UNTITLED
    details = json_object(row["details"])
    verdict = classify(ClassifyInput(
        title=title, summary=summary or "", content_text=text, content_html=html, url=canonical,
        tags=list(row["tags"] or []), kind_hint=row["kind_hint"], asset_type=row["asset_type"], details=details,
        source_kind=row["source_kind"], source_hint=row["source_hint"]))
    # A README excerpt is plain text: its links are bare URLs.
    bare = _BARE_URL.findall(text) if row["source_kind"] == "github" else []
    link_keys, repos = _links(html, details, canonical, bare)
    return {
        "source_id": row["source_id"], "entry_key": row["entry_key"], "raw_changed_at": row["changed_at"],
        "config_hash": row["config_hash"], "item_key": key, "canonical_url": canonical, "title": title,
        "summary": summary or summarise(text), "content_text": text, "content_html": html,
        "author": aliases.author(row["author"]),
        "organisation": aliases.organisation(_organisation(row)),
        "language": primary_language(row["language"]) or detect_language(f"{title}. {text}"),
        "kind": verdict.kind, "asset_type": verdict.asset_type, "kind_score": verdict.score,
        "kind_stated": verdict.stated,
        "kind_reasons": verdict.reasons, "merge_note": _merge_note(row, canonical),
        "link_keys": link_keys, "repo_links": repos,
        "own_key": item_id(None, row["source_id"], row["entry_key"]), "own_url": _own_url(row, canonical),
        "matched": True, "match_reasons": reasons,
    }


def _match(row: dict) -> tuple[bool, list[str]]:
    """The tag rule over the stored entry and its source as sources.yaml now describes it."""
    if row["tagged_only"] is None:  # a source no longer listed: as its last harvest decided
        return bool(row["harvest_matched"]), list(row["harvest_reasons"] or [])
    return match_stored_entry(row["wanted_tags"] or [], row["tagged_only"], tags=row["tags"] or [],
                              reasons=row["harvest_reasons"] or [])


def _own_url(row: dict, canonical: str | None) -> str | None:
    """The entry's own address when its canonical URL may be shared with other posts of its source:
    its link with the #fragment kept, else its guid when that is a URL (an empty href takes the
    feed's own URL)."""
    for candidate in (row["url"], row["entry_key"]):
        url = permalink(candidate)
        if url and url != canonical:
            return url
    return None


def _organisation(row: dict) -> str | None:
    # A profile names its own organisation, whoever's catalogue lists it.
    if row["kind_hint"] == "community" and row["record_org"]:
        return row["record_org"]
    return row["source_org"] or row["record_org"]


def _links(html: str, details: dict, own: str | None, bare: list[str] = ()) -> tuple[list[str], list[str]]:
    """Item ids of the pages an entry links to, and the GitHub repositories among them."""
    own_identity = url_identity(own) if own else None
    hrefs = _HREF.findall(html or "") + [u.rstrip(".,;:") for u in bare]
    for key in ("homepage", "external_url", "website"):
        if isinstance(details.get(key), str):
            hrefs.append(details[key])
    keys: dict[str, None] = {}
    repos: dict[str, None] = {}
    for href in hrefs:
        url = canonical_url(href.replace("&amp;", "&"))
        if not url or url_identity(url) == own_identity:
            continue
        repo = github_repo(url)
        if repo:
            repos[repo] = None
            url = canonical_url(f"https://github.com/{repo}")
        keys[item_id(url, "", None)] = None
        if len(keys) >= MAX_LINKS:
            break
    return list(keys), list(repos)


def _merge_note(row: dict, canonical: str | None) -> str | None:
    mention = json_object(row["mention"])
    if mention:
        return f"shared by {mention.get('platform', 'a')} post {mention.get('url')} ({mention.get('author')})"
    # The record's own URL: every source stores what its raw entry calls `url` there, so the raw
    # JSON is not read (scanning it took more memory than the rest of the stream together).
    raw_url = canonical_url(row["url"] or "")
    if canonical and raw_url and url_identity(raw_url) != url_identity(canonical):
        return f"cross-post {raw_url} names {canonical} as its original (canonical URL)"
    return None


# The rules' version, never bumped by hand: a digest of the modules whose code decides an entry's
# facts (this one and those its rules call) and of the libraries that repair and read text, so a
# change to any of them recomputes every entry's facts on the next run or rebuild.
FACTS_RULE_FILES = tuple(sorted({Path(sys.modules[rule.__module__].__file__) for rule in (
    entry_facts, classify, kind_features.features, detect_language, summarise, match_stored_entry, canonical_url, json_object)}
    | {KIND_MODEL}))
FACTS_RULE_LIBRARIES = ("ftfy", "pycld2", "nh3", "url-normalize")
FACTS_VERSION = code_version(FACTS_RULE_FILES, FACTS_RULE_LIBRARIES)
