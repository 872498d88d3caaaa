"""Links between items, and projects: a story with the techniques and assets it links to.

An edge is a link from one item's content (or a repository's homepage) to another item.
A project is a connected group of items joined by such edges that holds at least one story
or technique and at least one other item; events and community profiles are linked as
related items but do not pull unrelated projects together.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from pipelines.store.connection import insert_rows
from pipelines.normalise.identity import ENTRY_ITEM_ID, ENTRY_ITEM_JOINS
from pipelines.normalise.union_find import UnionFind

# Made from the new items (items_next) before the transaction that swaps them in: inside it, with
# the transaction's changes held in memory, a large forced rebuild ran out of the build's limit here.
LINKS_SQL = f"""
CREATE OR REPLACE TABLE item_links_next AS
WITH final AS (SELECT {ENTRY_ITEM_ID} AS id, f.link_keys, f.repo_links
               FROM entry_facts f JOIN raw_entries r USING (source_id, entry_key)
               {ENTRY_ITEM_JOINS}
               WHERE f.matched),
edges AS (
    SELECT DISTINCT final.id AS from_id, coalesce(m.into_key, t.link) AS to_id
    FROM final, unnest(final.link_keys) AS t(link)
    LEFT JOIN item_merges m ON m.item_key = t.link
)
SELECT e.from_id, e.to_id,
       CASE WHEN b.kind = 'asset' AND b.asset_type = 'repo' THEN 'links to the repository ' || b.title
            ELSE 'links to ' || b.url END AS reason
FROM edges e
JOIN items_next a ON a.id = e.from_id
JOIN items_next b ON b.id = e.to_id
WHERE e.from_id <> e.to_id
"""

PROJECT_KINDS = {"story", "technique", "asset"}
MAX_PROJECT_ITEMS = 50   # a hub page linking everything is not a project


@dataclass
class ProjectsBuild:
    links: int
    projects: int


def build_next_links(con) -> None:
    """The table item_links_next: every link between two of the new items (items_next)."""
    con.execute(LINKS_SQL)


def build_projects(con) -> ProjectsBuild:
    """Projects and related items from item_links and items (the new ones, swapped in)."""
    # Only items at either end of a link can be in a project or related: the rest are not read,
    # so memory follows the number of linked items, not of all items.
    items = {row[0]: row[1:] for row in con.execute("""
        SELECT id, kind, title, url, organisation, published_at FROM items
        WHERE id IN (SELECT from_id FROM item_links UNION SELECT to_id FROM item_links)""").fetchall()}
    edges = con.execute("SELECT from_id, to_id, reason FROM item_links").fetchall()

    related: dict[str, set[str]] = defaultdict(set)
    project_groups = UnionFind()
    reasons: dict[str, list[str]] = defaultdict(list)
    for a, b, reason in edges:
        related[a].add(b)
        related[b].add(a)
        if items[a][0] in PROJECT_KINDS and items[b][0] in PROJECT_KINDS:
            project_groups.join(a, b)
            reasons[a].append(f"{items[a][1]} {reason}")

    groups: dict[str, list[str]] = defaultdict(list)
    for key in list(project_groups) + [k for k in related if k not in project_groups]:
        if items[key][0] in PROJECT_KINDS:
            groups[project_groups.root(key)].append(key)

    project_rows, project_of = [], {}
    for members in groups.values():
        members = sorted(set(members))
        kinds = {items[m][0] for m in members}
        if len(members) < 2 or len(members) > MAX_PROJECT_ITEMS or not kinds & {"story", "technique"}:
            continue
        by_kind = {k: sorted((m for m in members if items[m][0] == k), key=lambda m: (items[m][4] is None, items[m][4], m))
                   for k in PROJECT_KINDS}
        lead = (by_kind["story"] or by_kind["technique"])[0]
        project_id = hashlib.sha256(("project:" + lead).encode()).hexdigest()[:20]
        organisations = [items[m][3] for m in members if items[m][3]]
        project_rows.append({
            "project_id": project_id, "title": items[lead][1], "url": items[lead][2],
            "organisation": max(set(organisations), key=organisations.count) if organisations else None,
            "story_ids": by_kind["story"], "technique_ids": by_kind["technique"], "asset_ids": by_kind["asset"],
            "other_ids": [], "reasons": sorted({r for m in members for r in reasons[m]}),
        })
        for m in members:
            project_of[m] = project_id

    members_of = {row["project_id"]: set(row["story_ids"] + row["technique_ids"] + row["asset_ids"])
                  for row in project_rows}
    for row in project_rows:  # events and community profiles a project's items link to, or are linked from
        row["other_ids"] = sorted({n for m in members_of[row["project_id"]] for n in related[m]
                                   if items[n][0] not in PROJECT_KINDS})
    relation_rows = []
    for key in set(related) | set(project_of):
        siblings = members_of.get(project_of.get(key), set())
        relation_rows.append({"id": key, "project_id": project_of.get(key),
                              "related_ids": sorted((related[key] | siblings) - {key})})

    project_batch = pa.Table.from_pylist(project_rows, schema=pa.schema([
        ("project_id", pa.string()), ("title", pa.string()), ("url", pa.string()), ("organisation", pa.string()),
        ("story_ids", pa.list_(pa.string())), ("technique_ids", pa.list_(pa.string())),
        ("asset_ids", pa.list_(pa.string())), ("other_ids", pa.list_(pa.string())), ("reasons", pa.list_(pa.string()))]))
    relation_batch = pa.Table.from_pylist(relation_rows, schema=pa.schema([
        ("id", pa.string()), ("project_id", pa.string()), ("related_ids", pa.list_(pa.string()))]))
    con.execute("DELETE FROM projects")
    insert_rows(con, "projects", project_batch)
    con.execute("DELETE FROM item_relations")
    insert_rows(con, "item_relations", relation_batch)
    return ProjectsBuild(links=len(edges), projects=len(project_rows))
