"""Which GitHub repositories the hub's stories link to, for the next harvest to fetch as assets."""

from __future__ import annotations

from pipelines.store.connection import transaction
from pipelines.store.warehouse import Warehouse

LINKED_REPOSITORIES_MAX = 100_000   # a bound on the table, far above defaults.linked_repos_max per run


def record_linked_repositories(warehouse: Warehouse) -> int:
    """Replace `linked_repositories` with the repositories linked from matched items other than
    repositories, that no github source of its own reads; return how many there are."""
    with transaction(warehouse.con):
        warehouse.con.execute("DELETE FROM linked_repositories")
        warehouse.con.execute("""
            INSERT INTO linked_repositories
            WITH linked AS (
                SELECT lower(t.repo) AS key, t.repo AS name, f.canonical_url AS page
                FROM entry_facts f, unnest(f.repo_links) AS t(repo)
                WHERE f.matched AND (f.kind <> 'asset' OR f.asset_type IS DISTINCT FROM 'repo')
            ),
            own AS (
                SELECT DISTINCT lower(regexp_extract(r.canonical_url, '^https://github\\.com/([^/]+/[^/]+)', 1)) AS key
                FROM raw_entries r JOIN sources s USING (source_id)
                WHERE s.kind = 'github' AND NOT coalesce(json_extract(s.config_json, '$.linked')::BOOLEAN, false)
            )
            SELECT min(name), min(page) FROM linked WHERE key NOT IN (SELECT key FROM own WHERE key IS NOT NULL)
            GROUP BY key ORDER BY key LIMIT $limit""", {"limit": LINKED_REPOSITORIES_MAX})
        return warehouse.con.execute("SELECT count(*) FROM linked_repositories").fetchone()[0]
