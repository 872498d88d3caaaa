"""The sharded harvest under Dagster's multiprocess executor gives the same hub_items as one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

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


def test_two_shards_in_separate_processes_give_the_same_hub_items_as_one_process(loopback, tmp_path):
    assert set(FEEDS) <= {p.name for p in corpus_files("feeds")}
    sources = [{"id": f"feed-{n:02d}", "kind": "feed", "url": serve_file(loopback, f"/f/{name}", CORPUS / "feeds" / name),
                "tagged_only": False} for n, name in enumerate(FEEDS)]
    from pipelines.defs.sharded import shard_of   # imports Dagster: not when collecting the fast tier

    assert {shard_of(s["id"], 2) for s in sources} == {0, 1}   # both shards have work
    sources_path = tmp_path / "sources.yaml"
    sources_path.write_text(yaml.safe_dump({"defaults": {"allow_private_networks": True, "retries": 0},
                                            "sources": sources}), encoding="utf-8")

    single = tmp_path / "single" / "hub.duckdb"
    result = run_cli("run", "--sources", str(sources_path), "--warehouse", str(single))
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
        "ops": {"plan_shards": {"config": {"shards": 2}}},
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

    # The shard steps ran in processes of their own (the multiprocess executor), not the run's.
    import dagster as dg
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            run = instance.get_runs(limit=1)[0]
            starts = [e for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)]
            pids = {e.step_key: e.dagster_event.pid for e in starts}
    finally:
        os.environ.pop("DAGSTER_HOME", None)
    shard_pids = {pids["harvest_shard[shard_0]"], pids["harvest_shard[shard_1]"]}
    assert len(shard_pids) == 2 and pids["load_shards"] not in shard_pids
