"""Organisations as first-class rows: who publishes, with homepage, logo, items and sources.

Three places name organisations: sources.yaml (`org:`), opengovtech.org-style `_contributors`
profiles (name, homepage, logo; assets point at them by slug in `originator`), and the
records themselves (a repository's owner). They are merged by name after aliases.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pyarrow as pa

from pipelines.duck import insert_rows

from pipelines.normalise.aliases import Aliases, fold
from pipelines.records import json_object

CONTRIBUTORS_SQL = """
SELECT f.organisation, f.title, r.details, r.raw_json, r.source_id
FROM entry_facts f JOIN raw_entries r USING (source_id, entry_key)
WHERE json_extract_string(r.details, '$.collection') = '_contributors'
"""

SCHEMA = pa.schema([
    ("name", pa.string()), ("slug", pa.string()), ("homepage", pa.string()), ("logo_url", pa.string()),
    ("aliases", pa.list_(pa.string())), ("item_ids", pa.list_(pa.string())), ("source_ids", pa.list_(pa.string())),
    ("origins", pa.list_(pa.string())),
])


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def build_organisations(con, aliases: Aliases) -> int:
    orgs: dict[str, dict] = {}

    def org(name: str) -> dict:
        name = aliases.organisation(name) or name
        return orgs.setdefault(name, {"name": name, "slug": slugify(name), "homepage": None, "logo_url": None,
                                      "aliases": set(aliases.names.get(name, [])), "item_ids": set(),
                                      "source_ids": set(), "origins": set()})

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

    for item_id, name, source_ids in con.execute(
            "SELECT id, organisation, source_ids FROM items WHERE organisation IS NOT NULL").fetchall():
        entry = org(name)
        entry["origins"].add("items")
        entry["item_ids"].add(item_id)
        entry["source_ids"].update(source_ids or [])

    # A GitHub owner's page is its homepage when nothing better is known.
    for name, url in con.execute("""SELECT organisation, regexp_extract(url, '^(https://github\\.com/[^/]+)/', 1)
                                    FROM items WHERE kind = 'asset' AND asset_type = 'repo'
                                      AND organisation IS NOT NULL""").fetchall():
        if url and name in orgs and not orgs[name]["homepage"]:
            orgs[name]["homepage"] = url

    rows = [{**o, **{k: sorted(o[k]) for k in ("aliases", "item_ids", "source_ids", "origins")}}
            for o in sorted(orgs.values(), key=lambda o: o["name"].lower())]
    batch = pa.Table.from_pylist(rows, schema=SCHEMA)
    con.execute("DELETE FROM organisations")
    insert_rows(con, "organisations", batch)
    return len(rows)
