"""`opengovtech init`: a new hub repository that validates and runs, offline, against loopback
stand-ins of its starter sources (its workflows are linted in tests/test_workflows.py)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import REPO, run_cli
from tests.github_api_server import GitHubAPIServer, generated_repos
from tests.social_servers import SOCIAL, BlueskySearch, MastodonTimeline, bluesky_post

pytestmark = pytest.mark.slow  # the CLI as a subprocess (in process in test_fast_cli)


def test_a_new_hub_validates_and_its_first_run_works_against_its_sources(tmp_path, loopback):
    hub = tmp_path / "my-hub"
    result = run_cli("init", str(hub), "--package", "opengovtech-hub @ git+https://example.org/hub.git@v0.1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.relative_to(hub).as_posix() for p in hub.rglob("*") if p.is_file()) == [
        ".github/ISSUE_TEMPLATE/suggest-a-source.yml", ".github/workflows/hub.yml",
        ".github/workflows/suggest-a-source.yml", "aliases.yaml", "requirements.txt", "sources.yaml"]
    assert (hub / "requirements.txt").read_text() == "opengovtech-hub @ git+https://example.org/hub.git@v0.1.0\n"
    validated = run_cli("sources", "validate", str(hub / "sources.yaml"))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    text = (hub / "sources.yaml").read_text(encoding="utf-8")
    for kind in ("feed", "blog", "github", "mastodon", "bluesky", "devto", "discourse", "markdown", "page"):
        assert f"kind: {kind}" in text, f"no example of kind {kind}"

    # The starter's sources, each pointed at its stand-in on 127.0.0.1.
    base = loopback.url_for("").rstrip("/")
    timeline = MastodonTimeline(loopback, "OpenGovTech")
    timeline.post("<p>Our open data strategy #OpenGovTech</p>", tags=["OpenGovTech"])
    skeets = BlueskySearch(loopback)
    skeets.posts = [bluesky_post(1, "Bins API is live #OpenGovTech", tags=["OpenGovTech"])]
    articles = json.loads((SOCIAL / "devto_api_articles_by_username.json").read_text(encoding="utf-8"))
    loopback.expect_request("/api/articles").respond_with_json(articles)
    github = GitHubAPIServer(loopback).start()
    github.add_owner("northbridge", generated_repos("northbridge", 3))
    config = yaml.safe_load(text)
    config["defaults"]["allow_private_networks"] = True
    loopback_keys = {"mastodon": "instance", "bluesky": "service", "devto": "api_url"}
    for source in config["sources"]:
        if source["kind"] in loopback_keys:
            source[loopback_keys[source["kind"]]] = base
    (hub / "sources.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    run = run_cli("run", cwd=hub, env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": "",
                                        "BLUESKY_HANDLE": "", "BLUESKY_APP_PASSWORD": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    from pipelines.store.warehouse import open_for_reading

    with open_for_reading(hub / "warehouse" / "hub.duckdb") as con:
        statuses = dict(con.execute("SELECT source_id, status FROM source_health").fetchall())
        per_source = dict(con.execute(
            "SELECT s, count(*) FROM hub_items, unnest(source_ids) AS t(s) GROUP BY s").fetchall())
    assert set(statuses.values()) == {"ok"}, statuses
    assert {"mastodon-social-opengovtech", "bluesky-opengovtech", "github-opengovtech-topic"} <= set(per_source)
    assert (hub / "warehouse" / "site" / "index.html").exists()


def test_init_keeps_what_a_hub_already_has(tmp_path):
    (tmp_path / "sources.yaml").write_text((REPO / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("init", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"kept  {tmp_path / 'sources.yaml'}" in result.stdout
    assert (tmp_path / "sources.yaml").read_text(encoding="utf-8") == (REPO / "sources.yaml").read_text(encoding="utf-8")
    again = run_cli("init", str(tmp_path))
    assert "wrote" not in again.stdout
