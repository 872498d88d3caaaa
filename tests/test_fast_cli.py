"""The command line in process through Typer's CliRunner: arguments, exit codes and messages.
The installed entry point run as a subprocess, end to end, is in the slow tier (run_cli)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.app.cli import app
from pipelines.publish.search import index_path_for, write_index
from tests.conftest import REPO

VALID_HEAD = """defaults:
  user_agent: "OpenGovTechHub/0.1 (+https://example.org/hub)"
  timeout_s: 20
  retries: 3
sources:
"""


def invoke(*args: str, **kwargs):
    return CliRunner().invoke(app, list(args), catch_exceptions=False, **kwargs)


def test_no_command_shows_the_commands():
    result = invoke()
    assert "Usage:" in result.output
    for command in ("run", "search", "rebuild", "check", "init", "sources", "site", "serve", "demo"):
        assert f" {command} " in result.output


def test_an_unknown_command_or_a_bad_option_value_is_a_usage_error():
    assert invoke("harvest").exit_code == 2
    limit = invoke("search", "data", "--limit", "0")
    assert limit.exit_code == 2 and "--limit" in limit.stderr
    since = invoke("search", "data", "--since", "last week")
    assert since.exit_code == 2 and "--since" in since.stderr


def test_validate_accepts_the_repositorys_sources_and_names_the_line_of_a_bad_key(tmp_path):
    good = invoke("sources", "validate", str(REPO / "sources.yaml"))
    assert good.exit_code == 0 and "sources OK" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID_HEAD + "  - id: x\n    kind: feed\n    url: https://x.example/\n    tagged: true\n")
    result = invoke("sources", "validate", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:9 source 'x': unknown key 'tagged' (did you mean 'tagged_only'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_reads_the_sources_file_named_by_the_environment(tmp_path):
    bad = tmp_path / "from-env.yaml"
    bad.write_text(VALID_HEAD + "  - id: x\n    kind: rss\n")
    result = invoke("sources", "validate", env={"OPENGOVTECH_SOURCES": str(bad)})
    assert result.exit_code == 2 and "unknown kind 'rss'" in result.stderr and str(bad) in result.stderr


def test_run_with_an_invalid_configuration_exits_2_before_any_work(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text(VALID_HEAD + "  - id: x\n    kind: rss\n")
    result = invoke("run", "--sources", str(bad), "--warehouse", str(tmp_path / "wh" / "hub.duckdb"))
    assert result.exit_code == 2
    assert "invalid configuration" in result.stderr and "unknown kind 'rss'" in result.stderr
    assert not (tmp_path / "wh").exists()


def test_run_refuses_a_bad_site_address_before_any_work(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(VALID_HEAD + "  - id: x\n    kind: feed\n    url: https://x.example/feed\n")
    result = invoke("run", "--sources", str(sources), "--warehouse", str(tmp_path / "wh" / "hub.duckdb"),
                    "--base-url", "javascript:alert(1)")
    assert result.exit_code == 2 and "invalid configuration" in result.stderr
    assert not (tmp_path / "wh").exists()


@pytest.fixture
def indexed(tmp_path) -> Path:
    """A warehouse path whose search index holds three items (no warehouse file is needed to search)."""
    warehouse = tmp_path / "hub.duckdb"
    write_index(index_path_for(warehouse), [
        {"id": "a", "kind": "story", "title": "Open data in Leeds", "url": "https://leeds.example/open-data",
         "organisation": "Leeds City Council", "published_at": "2024-03-01T09:00:00Z", "tags": ["opendata"],
         "source_ids": ["leeds"], "content_text": "The council publishes open data on bins."},
        {"id": "b", "kind": "technique", "title": "How we publish data", "url": "https://gds.example/how",
         "organisation": "GDS", "published_at": "2023-05-01T09:00:00Z", "tags": ["howto"],
         "source_ids": ["gds"], "content_text": "Publishing data step by step."},
        {"id": "c", "kind": "story", "title": "Parking", "source_ids": ["leeds"], "tags": [],
         "content_text": "Nothing relevant."},
    ])
    return warehouse


def test_search_prints_json_hits_with_every_field(indexed):
    result = invoke("search", "data", "--json", "--warehouse", str(indexed))
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert {h["id"] for h in hits} == {"a", "b"}
    for key in ("id", "kind", "title", "url", "summary", "organisation", "published_at", "tags", "score"):
        assert key in hits[0]


def test_search_filters_and_limits(indexed):
    def ids(*args: str) -> list[str]:
        result = invoke("search", "data", "--json", "--warehouse", str(indexed), *args)
        assert result.exit_code == 0, result.output
        return [h["id"] for h in json.loads(result.stdout)]

    assert ids("--kind", "technique") == ["b"]
    assert ids("--source", "leeds") == ["a"]
    assert ids("--org", "leeds city council") == ["a"]
    assert ids("--tag", "howto") == ["b"]
    assert ids("--since", "2024-01-01") == ["a"]
    assert ids("--until", "2023-12-31") == ["b"]
    assert len(ids("--limit", "1")) == 1


def test_search_text_output_marks_matches_and_facets_count_them(indexed):
    text = invoke("search", "leeds", "--warehouse", str(indexed))
    assert text.exit_code == 0
    assert "1. Open data in Leeds" in text.stdout and "https://leeds.example/open-data" in text.stdout
    facets = invoke("search", "data", "--facets", "--json", "--limit", "1", "--warehouse", str(indexed))
    payload = json.loads(facets.stdout)
    assert set(payload) == {"hits", "total", "facets"} and payload["total"] == 2 and len(payload["hits"]) == 1
    assert set(payload["facets"]) == {"kind", "tag", "organisation", "year"}
    listed = invoke("search", "data", "--facets", "--warehouse", str(indexed))
    assert "2 matching item(s)" in listed.stdout and "organisation:" in listed.stdout


def test_search_with_no_match_says_so(indexed):
    result = invoke("search", "zeppelin", "--warehouse", str(indexed))
    assert result.exit_code == 0 and "No items match 'zeppelin'." in result.stdout


def test_search_without_an_index_says_what_to_do(tmp_path):
    result = invoke("search", "data", "--warehouse", str(tmp_path / "hub.duckdb"))
    assert result.exit_code == 2 and "run `opengovtech run` first" in result.stderr


def test_site_build_without_a_warehouse_and_serve_without_a_site_say_what_to_do(tmp_path):
    no_warehouse = invoke("site", "build", "--warehouse", str(tmp_path / "none.duckdb"))
    assert no_warehouse.exit_code == 2 and "run `opengovtech run` first" in no_warehouse.stderr
    missing = invoke("serve", "--dir", str(tmp_path / "nothing-here"))
    assert missing.exit_code == 2 and "no built site" in missing.stderr


def test_init_writes_a_hub_then_check_notices_a_workflow_out_of_step(tmp_path):
    hub = tmp_path / "my-hub"
    assert invoke("init", str(hub)).exit_code == 0
    assert sorted(p.relative_to(hub).as_posix() for p in hub.rglob("*") if p.is_file()) == [
        ".github/ISSUE_TEMPLATE/suggest-a-source.yml", ".github/workflows/hub.yml",
        ".github/workflows/suggest-a-source.yml", "aliases.yaml", "requirements.txt", "sources.yaml"]
    assert invoke("sources", "validate", str(hub / "sources.yaml")).exit_code == 0
    assert invoke("init", "--check", str(hub)).exit_code == 0
    sources = hub / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8").replace('cron: "0 6 * * *"', 'cron: "30 5 * * 1-5"'),
                       encoding="utf-8")
    stale = invoke("init", "--check", str(hub))
    assert stale.exit_code == 1 and ".github/workflows/hub.yml" in stale.stdout
    assert invoke("init", "--force", str(hub)).exit_code == 0
    assert invoke("init", "--check", str(hub)).exit_code == 0
    assert '- cron: "30 5 * * 1-5"' in (hub / ".github/workflows/hub.yml").read_text(encoding="utf-8")


def test_init_keeps_what_a_hub_already_has(tmp_path):
    theirs = (REPO / "sources.yaml").read_text(encoding="utf-8")
    (tmp_path / "sources.yaml").write_text(theirs, encoding="utf-8")
    result = invoke("init", str(tmp_path))
    assert result.exit_code == 0 and f"kept  {tmp_path / 'sources.yaml'}" in result.stdout
    assert (tmp_path / "sources.yaml").read_text(encoding="utf-8") == theirs
    assert "wrote" not in invoke("init", str(tmp_path)).stdout


def test_sources_status_before_the_first_run_lists_every_source_as_never_run(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(VALID_HEAD + "".join(f"  - id: {name}\n    kind: feed\n    url: https://{name}.example/feed\n"
                                            for name in ("leeds", "bristol")))
    result = invoke("sources", "status", "--json", "--sources", str(sources),
                    "--warehouse", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 0, result.output
    assert [(r["source_id"], r["status"]) for r in json.loads(result.stdout)] == [("bristol", "never run"),
                                                                               ("leeds", "never run")]


@pytest.mark.parametrize("url", ["not a url", "ftp://council.example/feed", "/blog/post"])
def test_check_refuses_what_is_not_an_absolute_http_url_before_anything_else(tmp_path, url):
    result = invoke("check", url, "--sources", str(tmp_path / "none.yaml"), "--warehouse", str(tmp_path / "hub.duckdb"))
    assert result.exit_code == 2 and "must be an absolute http(s) URL" in result.stderr
    assert not (tmp_path / "hub.duckdb").exists()


def test_check_names_a_sources_file_it_cannot_read(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text(VALID_HEAD + "  - id: x\n    kind: rss\n")
    result = invoke("check", "https://council.example/post", "--sources", str(bad))
    assert result.exit_code == 2 and "invalid configuration" in result.stderr and "unknown kind 'rss'" in result.stderr
