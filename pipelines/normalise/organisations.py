"""Organisations as first-class rows: who publishes, with homepage, logo, items and sources.

Three places name organisations: sources.yaml (`org:`), opengovtech.org-style `_contributors`
profiles (name, homepage, logo; assets point at them by slug in `originator`), and the
records themselves (a repository's owner). They are merged by name after aliases.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pyarrow as pa

from pipelines.store.connection import registered
from pipelines.normalise.aliases import Aliases, fold
from pipelines.entry import json_object
from pipelines.parse.slugs import slugify

CONTRIBUTORS_SQL = """
SELECT f.organisation, f.title, r.details, r.raw_json, r.source_id
FROM entry_facts f JOIN raw_entries r USING (source_id, entry_key)
WHERE f.matched AND json_extract_string(r.details, '$.collection') = '_contributors'
"""

# What Python knows of each organisation; the sources its items came from are added in DuckDB,
# and its items are gathered by hub_organisations when read, so the build never holds a row per item.
SCHEMA = pa.schema([
    ("name", pa.string()), ("slug", pa.string()), ("homepage", pa.string()), ("logo_url", pa.string()),
    ("aliases", pa.list_(pa.string())), ("source_ids", pa.list_(pa.string())), ("origins", pa.list_(pa.string())),
])

# The sources an organisation's items came from (each pair once, so no list is as long as its
# items), and (when nothing better is known) the GitHub owner page of its repositories; ordered by
# name. Its item ids are not stored: hub_organisations gathers them when read.
INSERT_SQL = """
INSERT INTO organisations
WITH item_sources AS (
    SELECT name, list(source_id) AS source_ids
    FROM (SELECT DISTINCT organisation AS name, unnest(source_ids) AS source_id
          FROM items WHERE organisation IS NOT NULL)
    GROUP BY name
)
-- the GitHub owner most of its repositories sit under (ties: the first by name)
, owners AS (
    SELECT organisation AS name, regexp_extract(url, '^(https://github\\.com/[^/]+)/', 1) AS owner, count(*) AS repos
    FROM items
    WHERE kind = 'asset' AND asset_type = 'repo' AND organisation IS NOT NULL
    GROUP BY ALL
), github AS (
    SELECT name, owner AS homepage FROM owners WHERE owner <> ''
    QUALIFY row_number() OVER (PARTITION BY name ORDER BY repos DESC, owner) = 1
)
SELECT o.name, o.slug, coalesce(o.homepage, g.homepage), o.logo_url, o.aliases,
       list_sort(list_distinct(list_concat(o.source_ids, coalesce(s.source_ids, [])))), o.origins
FROM _organisations o
LEFT JOIN item_sources s USING (name)
LEFT JOIN github g USING (name)
ORDER BY lower(o.name)
"""


def build_organisations(con, aliases: Aliases) -> int:
    orgs: dict[str, dict] = {}

    def org(name: str) -> dict:
        name = aliases.organisation(name) or name
        return orgs.setdefault(name, {"name": name, "slug": slugify(name), "homepage": None, "logo_url": None,
                                      "aliases": set(aliases.names.get(name, [])), "source_ids": set(),
                                      "origins": set()})

    # _contributors profiles: the catalogue's own record of who takes part.
    slugs: dict[str, str] = {}
    for organisation, title, details_json, raw_json, source_id in con.execute(CONTRIBUTORS_SQL).fetchall():
        details, raw = json_object(details_json), json_object(raw_json)
        front = raw.get("front_matter") or {}
        entry = org(organisation or title)
        entry["origins"].add("_contributors")
        entry["source_ids"].add(source_id)
        entry["homepage"] = entry["homepage"] or details.get("website")
        entry["logo_url"] = entry["logo_url"] or details.get("logo_url")
        for slug in {str(front.get("name") or ""), PurePosixPath(details.get("path") or "").stem} - {""}:
            if fold(slug) != fold(entry["name"]):
                entry["aliases"].add(slug)
            slugs[fold(slug)] = entry["name"]

    # Assets name their originators by contributor slug: the item belongs to that organisation.
    for item_id, details_json in con.execute(
            "SELECT id, details FROM items WHERE json_extract(details, '$.originator') IS NOT NULL").fetchall():
        originators = json_object(details_json).get("originator") or []
        names = [slugs[fold(str(o))] for o in originators if fold(str(o)) in slugs]
        if names:
            con.execute("UPDATE items SET organisation = ? WHERE id = ?", [names[0], item_id])

    for name, source_id in con.execute(
            "SELECT org, source_id FROM sources WHERE org IS NOT NULL AND active").fetchall():
        entry = org(name)
        entry["origins"].add("sources.yaml")
        entry["source_ids"].add(source_id)

    # Organisations items name (a repository's owner, too): the names, not the items, come to Python.
    for (name,) in con.execute("SELECT DISTINCT organisation FROM items WHERE organisation IS NOT NULL").fetchall():
        org(name)["origins"].add("items")

    rows = [{**o, **{k: sorted(o[k]) for k in ("aliases", "source_ids", "origins")}} for o in orgs.values()]
    con.execute("DELETE FROM organisations")
    with registered(con, "_organisations", pa.Table.from_pylist(rows, schema=SCHEMA)):
        con.execute(INSERT_SQL)
    return len(rows)
