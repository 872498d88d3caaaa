"""`opengovtech run` as a user runs it: the Dagster job in process, its summary and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.errors import WarehouseLockedError
from pipelines.sources.harvester import HARVESTERS
from pipelines.store.warehouse import open_for_writing, write_lock
from tests.conftest import CORPUS, REPO, run_cli, serve_file

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database


def write_sources(path: Path, sources: list[dict], **defaults) -> Path:
    defaults = {"allow_private_networks": True, "retries": 0, "timeout_s": 5, **defaults}
    path.write_text(yaml.safe_dump({"defaults": defaults, "schedule": {"cron": "30 5 * * 1-5", "timezone": "UTC"},
                                    "sources": sources}), encoding="utf-8")
    return path


def test_run_harvests_prints_a_summary_and_records_the_dagster_run(loopback, tmp_path):
    serve_file(loopback, "/a.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    serve_file(loopback, "/b.json", CORPUS / "feeds" / "jsonfeed_inessential.json")
    loopback.expect_request("/missing.xml").respond_with_data("no", status=404)
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "manton", "kind": "feed", "url": loopback.url_for("/a.rss"), "tagged_only": False, "org": "Manton"},
        {"id": "inessential", "kind": "feed", "url": loopback.url_for("/b.json"), "tagged_only": False},
        {"id": "missing", "kind": "feed", "url": loopback.url_for("/missing.xml")},
    ])
    warehouse = tmp_path / "wh" / "hub.duckdb"
    env = {"DAGSTER_HOME": ""}  # default: beside the warehouse
    result = run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse), env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "manton" in result.stdout and "inessential" in result.stdout
    assert "HTTP 404" in result.stdout
    assert "3 sources: 2 ok, 1 failed" in result.stdout
    assert (tmp_path / "wh" / "hub.search.sqlite").exists()

    search = run_cli("search", "Brent", "--warehouse", str(warehouse), "--json")
    assert search.returncode == 0 and '"inessential"' in search.stdout

    status = run_cli("sources", "status", "--warehouse", str(warehouse), "--json")
    assert status.returncode == 0
    assert '"consecutive_failures": 1' in status.stdout and '"status": "failed"' in status.stdout

    # run history is in the persistent instance that `dagster dev` would read
    import subprocess
    import sys
    probe = ("import dagster as dg; i = dg.DagsterInstance.get(); "
             "print([(r.job_name, r.status.value) for r in i.get_runs()]); "
             "m = i.get_latest_materialization_event(dg.AssetKey('raw_feed_entries')).asset_materialization.metadata; "
             "print({k: getattr(v, 'value', v) for k, v in m.items() if k != 'per_source'}); "
             "print(m['per_source'].value.splitlines()[0]); "
             "n = i.get_latest_materialization_event(dg.AssetKey('hub_items')).asset_materialization.metadata; "
             "print(sorted(k for k in n if k.startswith('seconds_')))")
    history = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             env={**os.environ, "DAGSTER_HOME": str(tmp_path / "wh" / "dagster")})
    runs, metrics, table_head, normalise_steps = history.stdout.strip().splitlines()[-4:]
    assert "('harvest_job', 'SUCCESS')" in runs, history.stderr
    # 2 feeds + robots.txt + the failing source's one request (retries: 0)
    assert "'sources': 3" in metrics and "'failed': 1" in metrics and "'requests': 4" in metrics
    assert "'bytes':" in metrics and "'duration_s':" in metrics and "'new': 30" in metrics
    assert table_head.startswith("| source | status | fetched | new | updated | unchanged | requests | bytes | seconds")
    assert normalise_steps == str(sorted(f"seconds_{step}" for step in
                                         ("facts", "near_duplicates", "items", "links", "organisations", "projects")))

    home_page = tmp_path / "wh" / "site" / "index.html"
    built_at = home_page.stat().st_mtime_ns
    again = run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse), env=env)
    assert again.returncode == 0
    assert "0 new, 0 updated" in again.stdout
    # the failing source is listed again; the two answering 304 with nothing new are only counted
    assert "HTTP 404" in again.stdout and "manton" not in again.stdout
    assert "2 ok sources not listed (2 with nothing new)" in again.stdout
    # Nothing the site shows changed (a 304 stands for the same as a 200): it was not rebuilt.
    assert home_page.stat().st_mtime_ns == built_at


def test_every_source_failing_exits_3(loopback, tmp_path):
    loopback.expect_request("/down.xml").respond_with_data("no", status=503)
    sources = write_sources(tmp_path / "sources.yaml", [{"id": "down", "kind": "feed", "url": loopback.url_for("/down.xml")}])
    result = run_cli("run", "--sources", str(sources), "--warehouse", str(tmp_path / "hub.duckdb"))
    assert result.returncode == 3, result.stderr
    assert "every source failed" in result.stderr
    assert "HTTP 503" in result.stdout


def test_second_run_is_turned_away_while_the_warehouse_is_locked(loopback, tmp_path):
    serve_file(loopback, "/a.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    sources = write_sources(tmp_path / "sources.yaml", [{"id": "a", "kind": "feed", "url": loopback.url_for("/a.rss")}])
    warehouse = tmp_path / "hub.duckdb"
    with write_lock(warehouse, "holder-run"):
        result = run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse), "--wait", "1")
    assert result.returncode == 4
    assert "locked by run holder-run" in result.stderr
    assert "after waiting 1s" in result.stderr
    assert loopback.log == []


def test_rebuild_is_turned_away_while_the_warehouse_is_locked(tmp_path):
    sources = write_sources(tmp_path / "sources.yaml", [])
    warehouse = tmp_path / "hub.duckdb"
    with open_for_writing(warehouse, "first-run"):
        pass
    with write_lock(warehouse, "holder-run"):
        result = run_cli("rebuild", "--sources", str(sources), "--warehouse", str(warehouse), "--wait", "1")
    assert result.returncode == 4, result.stderr
    assert "locked by run holder-run" in result.stderr and "after waiting 1s" in result.stderr


def test_unexpected_error_exits_1_with_a_log_file(loopback, tmp_path):
    serve_file(loopback, "/a.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    sources = write_sources(tmp_path / "sources.yaml", [{"id": "a", "kind": "feed", "url": loopback.url_for("/a.rss")}])
    warehouse = tmp_path / "wh" / "hub.duckdb"
    warehouse.mkdir(parents=True)  # a directory where the DuckDB file should be
    result = run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) <= 2
    logs = list((tmp_path / "wh" / "logs").glob("opengovtech-*.log"))
    assert len(logs) == 1 and logs[0].read_text().strip()
    assert str(logs[0]) in result.stderr.replace("\n", "")


def test_code_location_has_the_stage_assets_job_and_schedule(tmp_path):
    sources = write_sources(tmp_path / "sources.yaml", [])
    import subprocess
    import sys
    probe = ("from pipelines.definitions import defs; d = defs(); "
             "print(sorted(k.to_user_string() for k in d.resolve_all_asset_keys())); "
             "j = d.resolve_job_def('harvest_job'); print(j.name); "
             "s = d.resolve_schedule_def('daily_harvest'); print(s.cron_schedule, s.execution_timezone); "
             "w = d.resolve_schedule_def('weekly_link_check'); print(w.job.name, w.cron_schedule); "
             "print(sorted(c.name for c in d.resolve_asset_graph().asset_check_keys))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "OPENGOVTECH_SOURCES": str(sources)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == str(sorted(["hub_items", "hub_site", "link_check", "linked_repositories", "search_index",
                                   "source_registry",
                                   *(f"raw_{kind}_entries" for kind in HARVESTERS)]))
    assert lines[1] == "harvest_job"
    assert lines[2] == "30 5 * * 1-5 UTC"
    assert lines[3] == "link_check_job 0 7 * * 1"
    assert lines[4] == str(sorted(["canonical_urls_are_unique", "failed_sources_share", "items_have_title_and_url",
                                   "no_dates_in_the_future"]))


def test_a_run_in_process_uses_the_code_locations_definitions(tmp_path):
    """`opengovtech run` collects the defs/ modules without the code location's component metadata:
    the same assets, checks, jobs, schedules, sensors and resources either way."""
    sources = write_sources(tmp_path / "sources.yaml", [])
    probe = ("import json; from pipelines.definitions import defs; from pipelines.app.runner import run_definitions\n"
             "def described(d):\n"
             "    r = d.get_repository_def()\n"
             "    return {'assets': sorted(k.to_user_string() for k in r.asset_graph.get_all_asset_keys()),\n"
             "            'checks': sorted(k.name for k in r.asset_graph.asset_check_keys),\n"
             "            'jobs': sorted(j.name for j in r.get_all_jobs()),\n"
             "            'schedules': sorted(s.name for s in r.schedule_defs),\n"
             "            'sensors': sorted(s.name for s in r.sensor_defs),\n"
             "            'resources': sorted(r.get_top_level_resources())}\n"
             "print(json.dumps([described(defs()), described(run_definitions())]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "OPENGOVTECH_SOURCES": str(sources)})
    assert out.returncode == 0, out.stderr
    code_location, in_process = json.loads(out.stdout)
    assert in_process == code_location
    assert "harvest_job" in in_process["jobs"] and in_process["resources"] == ["sources", "warehouse"]
    assert "PreviewWarning" not in out.stderr


def test_status_lists_sources_that_have_never_run(tmp_path):
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "brand-new", "kind": "feed", "url": "https://council.example/feed.xml"}])
    result = run_cli("sources", "status", "--sources", str(sources), "--warehouse", str(tmp_path / "none.duckdb"),
                     "--json")
    assert result.returncode == 0, result.stderr
    assert '"status": "never run"' in result.stdout and '"brand-new"' in result.stdout


def test_removed_source_keeps_its_items_unless_pruned(loopback, tmp_path):
    serve_file(loopback, "/a.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    serve_file(loopback, "/b.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    both = [{"id": "manton", "kind": "feed", "url": loopback.url_for("/a.rss"), "tagged_only": False},
            {"id": "data-blog", "kind": "feed", "url": loopback.url_for("/b.atom"), "tagged_only": False}]
    sources = write_sources(tmp_path / "sources.yaml", both)
    warehouse = tmp_path / "hub.duckdb"
    assert run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse)).returncode == 0

    def sources_of_items() -> set:
        import duckdb
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return {s for (s,) in con.execute("SELECT DISTINCT unnest(source_ids) FROM hub_items").fetchall()}
        finally:
            con.close()

    write_sources(sources, both[:1])
    assert run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse)).returncode == 0
    assert sources_of_items() == {"manton", "data-blog"}
    status = run_cli("sources", "status", "--sources", str(sources), "--warehouse", str(warehouse))
    assert "data-blog (removed)" in status.stdout

    assert run_cli("run", "--prune", "--sources", str(sources), "--warehouse", str(warehouse)).returncode == 0
    assert sources_of_items() == {"manton"}


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    warehouse = tmp_path / "hub.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom pipelines.store.warehouse import write_lock\n"
         "with write_lock(Path(sys.argv[1]), 'crashed-run'):\n    print('held', flush=True)\n    time.sleep(60)",
         str(warehouse)], stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseLockedError, match="locked by run crashed-run"):
            with write_lock(warehouse, "next-run"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with write_lock(warehouse, "next-run"):  # no wait: the kernel let the lock go with the process
        with write_lock(warehouse, "next-run"):  # and it is re-entrant within this process
            pass


def test_second_run_waits_for_the_lock_then_proceeds(loopback, tmp_path):
    import threading

    serve_file(loopback, "/a.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    sources = write_sources(tmp_path / "sources.yaml",
                            [{"id": "a", "kind": "feed", "url": loopback.url_for("/a.rss"), "tagged_only": False}])
    warehouse = tmp_path / "hub.duckdb"
    held, release = threading.Event(), threading.Event()

    def first_run():
        with write_lock(warehouse, "first-run"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=first_run)
    holder.start()
    held.wait(10)
    threading.Timer(8, release.set).start()
    result = run_cli("run", "--wait", "60", "--sources", str(sources), "--warehouse", str(warehouse))
    assert release.is_set()   # it could only write once the first run let go
    holder.join()
    assert result.returncode == 0, result.stderr
    assert "1 sources: 1 ok" in result.stdout


def test_run_summary_lists_every_failing_source_and_at_most_50_changed_ones(tmp_path, monkeypatch):
    # At 10,000 sources a row per source took half of an unchanged re-run to draw.
    import io

    from rich.console import Console

    import pipelines.app.cli as cli

    def row(source_id, status, new=0, error=None):
        return {"source_id": source_id, "status": status, "fetched": new, "new": new, "updated": 0,
                "unchanged": 0, "http_status": None, "error": error}

    rows = ([row(f"broken-{i}", "failed", error="HTTP 500") for i in range(2)]
            + [row(f"changed-{i:02d}", "ok", new=1) for i in range(60)]
            + [row(f"same-{i}", "not_modified") for i in range(5)])
    buffer = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=buffer, width=200))
    cli._print_summary(rows, tmp_path / "hub.duckdb", "run-1")
    text = buffer.getvalue()
    listed = {line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")}
    assert listed == {"broken-0", "broken-1", *(f"changed-{i:02d}" for i in range(50))}
    assert "67 sources: 65 ok, 2 failed, 0 backing off; 60 new, 0 updated entries." in text
    assert "15 ok sources not listed (5 with nothing new)" in text


def test_start_up_objects_are_frozen_and_what_the_run_makes_is_still_collected():
    # In a child process: freezing is for the life of the process.
    code = """
import gc
from pipelines.tuning import kept_until_exit

class Node:
    pass

with kept_until_exit():
    assert not gc.isenabled()
    made_at_start_up = Node()
    made_at_start_up.self = made_at_start_up
assert gc.isenabled()
assert gc.get_freeze_count() > 0 and gc.is_tracked(made_at_start_up)
garbage = Node()
garbage.self = garbage
del garbage
assert gc.collect() >= 1, "a cycle made after start-up must still be collected"
try:
    with kept_until_exit():
        raise ValueError("set-up failed")
except ValueError:
    pass
assert gc.isenabled(), "the collector is back on after a failed set-up"
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
