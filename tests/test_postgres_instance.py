"""The documented PostgreSQL-backed Dagster instance, against a real PostgreSQL server on loopback:
a run materialises, and its history and the schedule state are read back from PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import yaml

from tests.conftest import CORPUS, REPO, run_cli, serve_file
from tests.postgres_server import start_postgres

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database


@pytest.fixture(scope="module")
def postgres():
    server = start_postgres()
    yield server
    server.stop()


def test_run_history_and_schedule_state_live_in_postgres(postgres, loopback, tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(REPO / "docs" / "dagster.postgres.yaml", home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(postgres.port),
           "DAGSTER_PG_USER": postgres.user, "DAGSTER_PG_PASSWORD": postgres.password,
           "DAGSTER_PG_DB": postgres.database}

    serve_file(loopback, "/feed.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"defaults": {"allow_private_networks": True}, "sources": [
        {"id": "manton", "kind": "feed", "url": loopback.url_for("/feed.rss"), "tagged_only": False}]}))
    result = run_cli("run", "--sources", str(sources), "--warehouse", str(tmp_path / "hub.duckdb"), env=env)
    assert result.returncode == 0, result.stderr
    assert (home / "dagster.yaml").read_text() == (REPO / "docs" / "dagster.postgres.yaml").read_text()

    started = subprocess.run([str(Path(sys.executable).with_name("dagster")), "schedule", "start", "daily_harvest",
                              "-m", "pipelines.definitions"], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, **env, "OPENGOVTECH_SOURCES": str(sources)})
    assert started.returncode == 0, started.stderr

    con = psycopg2.connect(host="127.0.0.1", port=postgres.port, user=postgres.user, password=postgres.password,
                           dbname=postgres.database)
    try:
        cur = con.cursor()
        cur.execute("SELECT run_id, pipeline_name, status FROM runs")
        runs = cur.fetchall()
        assert [(name, status) for _, name, status in runs] == [("harvest_job", "SUCCESS")]
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
                    [runs[0][0]])
        # source_registry, raw_feed_entries (a run selects the kinds it has sources of), hub_items,
        # linked_repositories, search_index, hub_site
        assert cur.fetchone()[0] == 5 + 1
        cur.execute("SELECT status FROM instigators WHERE instigator_type = 'SCHEDULE' "
                    "AND instigator_body LIKE '%\"daily_harvest\"%'")
        assert cur.fetchall() == [("RUNNING",)]
    finally:
        con.close()
    assert not (home / "history").exists()  # nothing fell back to the local SQLite storage
