"""The sharded harvest under Dagster's multiprocess executor materialises the same assets, hub_items and
site as one process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.sources.harvester import HARVESTERS
from tests.conftest import CORPUS, REPO, corpus_files, run_cli, serve_file

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database

FEEDS = ["data_blog_gov_uk_trimmed.atom", "news_gov_scot_trimmed.rss", "feedburner_thoughtbot_robots.atom",
         "wordpress_natasha_the_robot.xml", "jsonfeed_inessential.json", "hugo_rubenerd.rss",
         "pelican_dustri_large.rss", "monkeydom_cocoa_dom.rss", "feedburner_blogger.atom", "heise_developer.atom"]
# Compared as the public contract shows them, less what records when (times of the two runs differ).
COMPARED = ("id, kind, title, url, summary, content_text, author, organisation, published_at, updated_at, tags, "
            "source_ids, match_reasons, date_missing, language, asset_type, details, mentions, kind_reasons, "
            "merge_reasons, project_id, related_ids")


def hub_items(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT {COMPARED} FROM hub_items ORDER BY id").fetchall()
    finally:
        con.close()


def run_record(home: Path) -> tuple[set[str], set[str], dict[str, int]]:
    """The last run on the Dagster instance at `home`: the assets it materialised, the checks it
    evaluated, and the process id of each step."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            run_id = instance.get_runs(limit=1)[0].run_id
            events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event is not None]
    finally:
        os.environ.pop("DAGSTER_HOME", None)
    assets = {e.event_specific_data.materialization.asset_key.to_user_string()
              for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION}
    checks = {e.event_specific_data.asset_check_key.name
              for e in events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    pids = {e.step_key: e.pid for e in events if e.event_type == dg.DagsterEventType.STEP_START}
    return assets, checks, pids


# A time of day in the pages, feeds and data export (built at, last run at, first seen at; ISO or RFC 822).
TIME = re.compile(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?| UTC)?"
                  rb"|[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (GMT|[+-]\d{4})")


def site_files(directory: Path) -> dict[str, bytes]:
    """The built site's files with the times of its run masked. Pagefind's index (its file names are
    hashes of what it indexed) and the Parquet export hold the same pages and rows in binary."""
    files = {str(p.relative_to(directory)): TIME.sub(b"<time>", p.read_bytes())
             for p in sorted(directory.rglob("*")) if p.is_file()}
    assert "pagefind/pagefind-entry.json" in files and "data/items.parquet" in files
    return {path: body for path, body in files.items() if not path.startswith("pagefind/") and
            not path.endswith(".parquet")}


def test_two_shards_in_separate_processes_materialise_what_one_process_does(loopback, tmp_path):
    assert set(FEEDS) <= {p.name for p in corpus_files("feeds")}
    sources = [{"id": f"feed-{n:02d}", "kind": "feed", "url": serve_file(loopback, f"/f/{name}", CORPUS / "feeds" / name),
                "tagged_only": False} for n, name in enumerate(FEEDS)]
    from pipelines.defs.sharded import shard_of   # imports Dagster: not when collecting the fast tier

    assert {shard_of(s["id"], 2) for s in sources} == {0, 1}   # both shards have work
    sources_path = tmp_path / "sources.yaml"
    sources_path.write_text(yaml.safe_dump({"defaults": {"allow_private_networks": True, "retries": 0},
                                            "sources": sources}), encoding="utf-8")

    single = tmp_path / "single" / "hub.duckdb"
    result = run_cli("run", "--sources", str(sources_path), "--warehouse", str(single), env={"DAGSTER_HOME": ""})
    assert result.returncode == 0, result.stdout + result.stderr

    sharded = tmp_path / "sharded" / "hub.duckdb"
    sharded.parent.mkdir()
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    config = tmp_path / "run_config.yaml"
    config.write_text(yaml.safe_dump({
        "resources": {"sources": {"config": {"path": str(sources_path)}},
                      "warehouse": {"config": {"path": str(sharded), "lock_wait_s": 60}}},
        "ops": {"harvest": {"ops": {"plan_shards": {"config": {"shards": 2}}}}},
    }), encoding="utf-8")
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    job = subprocess.run([str(dagster), "job", "execute", "-m", "pipelines.definitions", "-j", "sharded_harvest_job",
                          "-c", str(config)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]

    one, two = hub_items(single), hub_items(sharded)
    assert len(one) > 100
    assert one == two
    assert not (sharded.parent / "landing").exists()   # loaded, then cleared

    # The same assets materialised and checks evaluated, and the same site built.
    single_assets, single_checks, _ = run_record(single.parent / "dagster")
    sharded_assets, sharded_checks, pids = run_record(home)
    assert {"source_registry", "raw_feed_entries", "hub_items", "linked_repositories", "search_index",
            "hub_site"} <= single_assets
    # `opengovtech run` selects the kinds it has sources of; the sharded job, run whole, records
    # empty materialisations for the others.
    kinds_without_sources = {f"raw_{kind}_entries" for kind in HARVESTERS if kind != "feed"}
    assert not single_assets & kinds_without_sources
    assert sharded_assets - kinds_without_sources == single_assets
    assert sharded_checks == single_checks and len(single_checks) == 4
    assert site_files(sharded.parent / "site") == site_files(single.parent / "site")

    # The shard steps ran in processes of their own (the multiprocess executor), not the writer's.
    shard_pids = {pids["harvest.harvest_shard[shard_0]"], pids["harvest.harvest_shard[shard_1]"]}
    assert len(shard_pids) == 2 and pids["harvest.load_shards"] not in shard_pids
