"""`kind: github` against a loopback GitHub API built from ../shared/corpus/github recordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.config import parse_registry
from pipelines.errors import ConfigError
from tests.conftest import CORPUS, run_cli, serve_file
from tests.github_api_server import (
    GITHUB,
    GitHubAPIServer,
    Scripted,
    generated_repos,
    read_replay,
    recorded_org_repos,
    recorded_repo,
)

MANIFESTO = CORPUS / "pages" / "opengovtech" / "manifesto.md"
PUBLICCODE = """publiccodeYmlVersion: "0.4"
name: Bin collection app
url: https://github.com/leedsdatamill/bins
platforms: [web]
developmentStatus: stable
softwareType: standalone/web
description:
  en:
    shortDescription: Tells residents which bin goes out this week.
localisation:
  localisationReady: false
  availableLanguages: [en]
legal:
  license: MIT
maintenance:
  type: internal
  contacts:
    - name: Digital team
"""


@pytest.fixture
def github(loopback, monkeypatch) -> GitHubAPIServer:
    api = GitHubAPIServer(loopback).start()
    monkeypatch.setenv("GITHUB_API_URL", api.api_url)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return api


def github_source(source_id: str = "gh", **options) -> dict:
    return {"id": source_id, "kind": "github", **options}


def test_recorded_org_is_stored_as_repo_assets_with_their_facts(github, hub):
    github.add_owner("github3py", recorded_org_repos())
    github.files[("github3py/fork_this", "README.md")] = MANIFESTO.read_text(encoding="utf-8")
    hub.write_sources([github_source(org="github3py", tagged_only=False, include_forks=True)])
    report = hub.harvest()

    assert [c.status for c in report.counts] == ["ok"]
    rows = hub.query("SELECT title, kind, asset_type, organisation, url FROM hub_items ORDER BY title")
    assert [r[0] for r in rows] == sorted(r["full_name"] for r in recorded_org_repos())
    assert {r[1:4] for r in rows} == {("asset", "repo", "github3py")}
    assert ("https://github.com/github3py/github3.py",) in [(r[4],) for r in rows]
    repo = hub.query("SELECT license, fork, archived, default_branch, readme_excerpt, created_at, source_ids "
                     "FROM hub_repositories WHERE full_name = 'github3py/github3.py'")[0]
    assert repo[:4] == ("BSD-3-Clause", True, False, "master")
    assert repo[5].year == 2012 and repo[6] == ["gh"]
    # the README, rendered from markdown to plain text
    excerpt = hub.query("SELECT readme_excerpt FROM hub_repositories WHERE full_name = 'github3py/fork_this'")[0][0]
    assert "This is the OpenGovTech Manifesto:" in excerpt and "Stand on the shoulders of giants." in excerpt
    assert "**" not in excerpt and "---" not in excerpt
    # the org listing asked for 100 per page, as documented
    assert any("per_page=100" in r["query"] for r in github.requests if r["path"] == "/orgs/github3py/repos")


def test_forks_archived_and_untagged_repos_are_left_out_by_default(github, hub):
    repos = generated_repos("leedsdatamill", 6, topics_every=2)
    repos[2]["fork"] = True
    repos[4]["archived"] = True
    repos[1]["description"] = "Open data tools #OpenGovTech"
    github.add_owner("leedsdatamill", repos)
    hub.write_sources([github_source(org="leedsdatamill")])
    report = hub.harvest()

    names = [r[0] for r in hub.query("SELECT title FROM hub_items ORDER BY title")]
    assert names == ["leedsdatamill/service-0000", "leedsdatamill/service-0001"]
    reasons = dict(hub.query("SELECT title, match_reasons FROM hub_items"))
    assert reasons["leedsdatamill/service-0000"] == ["repo topic 'opengovtech'"]
    assert reasons["leedsdatamill/service-0001"] == ["hashtag #OpenGovTech in description"]
    warning = hub.health("gh")["warning"]
    assert "1 archived" in warning and "1 forks" in warning and "2 untagged" in warning
    assert report.counts[0].status == "ok"


def test_org_pagination_follows_the_link_header(github, hub):
    """A 250-repository org, generated from a recorded repository (GitHub's schema, 3 pages)."""
    github.add_owner("bigcouncil", generated_repos("bigcouncil", 250))
    hub.write_sources([github_source(org="bigcouncil", readme=False, publiccode=False)])
    hub.harvest()
    assert hub.query("SELECT count(*) FROM hub_items WHERE asset_type = 'repo'")[0][0] == 250
    pages = [r["query"] for r in github.requests if r["path"] == "/orgs/bigcouncil/repos"]
    assert len(pages) == 3 and "page=3" in pages[-1]


def test_an_unchanged_org_costs_only_304s_the_second_time(github, hub):
    github.add_owner("leedsdatamill", generated_repos("leedsdatamill", 150))
    github.files[("leedsdatamill/service-0003", "README.md")] = MANIFESTO.read_text(encoding="utf-8")
    github.files[("leedsdatamill/service-0003", "publiccode.yml")] = PUBLICCODE
    hub.write_sources([github_source(org="leedsdatamill")])
    hub.harvest()
    first = len(github.requests)
    assert first == 2 + 150 * 2  # two pages, then README and publiccode.yml of each repository
    before = hub.query("SELECT id, title, content_text, details FROM hub_items ORDER BY id")
    remaining = github.remaining

    report = hub.harvest()
    second = github.requests[first:]
    assert len(second) == 2 and all(r["headers"].get("If-None-Match") for r in second)
    assert github.remaining == remaining  # 304s are not counted against the rate limit
    assert report.counts[0].status == "not_modified"
    assert hub.query("SELECT id, title, content_text, details FROM hub_items ORDER BY id") == before


def test_a_pushed_repository_is_read_again_and_nothing_else(github, hub):
    repos = generated_repos("leedsdatamill", 150)
    github.add_owner("leedsdatamill", repos)
    hub.write_sources([github_source(org="leedsdatamill")])
    hub.harvest()
    first = len(github.requests)

    repos[120]["pushed_at"] = "2026-11-01T10:00:00Z"
    github.files[("leedsdatamill/service-0120", "README.md")] = "# Bins\n\nNow with **#OpenGovTech** maps."
    hub.harvest()
    second = [r["path"] for r in github.requests[first:]]
    assert second == ["/orgs/leedsdatamill/repos", "/orgs/leedsdatamill/repos",
                      "/repos/leedsdatamill/service-0120/readme",
                      "/repos/leedsdatamill/service-0120/contents/publiccode.yml"] or \
        sorted(second[2:]) == ["/repos/leedsdatamill/service-0120/contents/publiccode.yml",
                               "/repos/leedsdatamill/service-0120/readme"]
    row = hub.query("SELECT readme_excerpt, pushed_at FROM hub_repositories WHERE full_name LIKE '%0120'")[0]
    assert row[0] == "Bins\n\nNow with #OpenGovTech maps." and row[1].year == 2026


def test_publiccode_yml_is_parsed_and_its_problems_recorded(github, hub):
    repos = generated_repos("leedsdatamill", 2)
    github.add_owner("leedsdatamill", repos)
    github.files[("leedsdatamill/service-0000", "publiccode.yml")] = PUBLICCODE
    github.files[("leedsdatamill/service-0001", "publiccode.yml")] = "name: Half done\nmaintenance:\n  type: sometimes\n"
    hub.write_sources([github_source(org="leedsdatamill")])
    hub.harvest()
    codes = dict(hub.query("SELECT full_name, publiccode FROM hub_repositories"))
    good = json.loads(codes["leedsdatamill/service-0000"])
    assert good["name"] == "Bin collection app" and good["legal"]["license"] == "MIT"
    assert good["maintenance"] == {"type": "internal", "contacts": ["Digital team"]} and good["problems"] == []
    bad = json.loads(codes["leedsdatamill/service-0001"])
    assert "missing required key 'publiccodeYmlVersion'" in bad["problems"]
    assert "maintenance.type 'sometimes' is not internal, contract, community or none" in bad["problems"]


def test_a_hostile_publiccode_yml_is_a_recorded_problem_and_the_other_repositories_are_read(github, hub):
    bomb = "".join(f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
    github.add_owner("leedsdatamill", generated_repos("leedsdatamill", 3))
    github.files[("leedsdatamill/service-0000", "publiccode.yml")] = PUBLICCODE
    github.files[("leedsdatamill/service-0001", "publiccode.yml")] = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + bomb + "name: *i\n"
    github.files[("leedsdatamill/service-0002", "publiccode.yml")] = "name: " + "[" * 1000 + "]" * 1000 + "\n"
    hub.write_sources([github_source(org="leedsdatamill")])
    hub.harvest()
    codes = {name: json.loads(code) for name, code in hub.query("SELECT full_name, publiccode FROM hub_repositories")}
    assert codes["leedsdatamill/service-0000"]["name"] == "Bin collection app"
    assert codes["leedsdatamill/service-0001"] == {
        "problems": ["publiccode.yml:5: YAML aliases expand to more than 10,000 nodes (at alias *d)"]}
    assert codes["leedsdatamill/service-0002"] == {"problems": ["publiccode.yml:1: YAML nesting deeper than 64 levels"]}


def test_rate_limit_exhausted_mid_run_keeps_what_was_read_and_resumes(github, hub, loopback):
    """Other kinds go on; the next run (after the reset) finishes the listing."""
    github.add_owner("bigcouncil", generated_repos("bigcouncil", 250))
    github.remaining = 120
    serve_file(loopback, "/feed.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    hub.write_sources([github_source(org="bigcouncil", publiccode=False),
                       github_source("gh-other", org="leedsdatamill"),
                       {"id": "blog", "kind": "feed", "url": loopback.url_for("/feed.rss"), "tagged_only": False}])
    github.add_owner("leedsdatamill", generated_repos("leedsdatamill", 3))
    report = hub.harvest()

    status = {c.source_id: c.status for c in report.counts}
    assert status["blog"] == "ok"
    assert status["gh"] == "deferred", report.counts
    health = hub.health("gh")
    assert "rate limited until" in health["error"] and "UTC" in health["error"]
    assert "kept the" in health["error"] and "the rest are read next run" in health["error"]
    kept = hub.query("SELECT count(*) FROM raw_entries WHERE source_id = 'gh'")[0][0]
    assert 50 <= kept < 250
    # Once GitHub said the budget was spent nothing more was sent, beyond the requests already in
    # flight (at most the per-origin concurrency); the other GitHub source stopped too, or had finished.
    assert github.remaining == 0 and github.refused <= 2
    assert status["gh-other"] in ("deferred", "ok")

    github.remaining = 5000  # the hour has passed
    report = hub.harvest(ignore_backoff=True)
    assert {c.source_id: c.status for c in report.counts}["gh"] == "ok"
    assert hub.query("SELECT count(*) FROM raw_entries WHERE source_id = 'gh'")[0][0] == 250
    assert hub.query("SELECT count(*) FROM raw_entries WHERE source_id = 'gh-other'")[0][0] == 3


def test_recorded_403_rate_limit_is_reported_as_rate_limited(github, hub):
    limit = read_replay(GITHUB / "pygithub_403_rate_limit_exceeded.replay.txt")[1]
    github.add_owner("leedsdatamill", generated_repos("leedsdatamill", 1))
    github.script("/orgs/leedsdatamill/repos", Scripted(limit["status"], limit["headers"], limit["body"]))
    hub.write_sources([github_source(org="leedsdatamill")])
    hub.harvest()
    health = hub.health("gh")
    assert health["status"] == "deferred" and health["http_status"] == 403
    assert health["error"].startswith("GitHub API rate limit reached")


def test_recorded_secondary_limit_with_retry_after_is_honoured(github, hub):
    abuse = read_replay(GITHUB / "pygithub_403_abuse_retry_after.replay.txt")[1]
    assert abuse["headers"]["Retry-After"] == "60"
    github.add_owner("leedsdatamill", generated_repos("leedsdatamill", 2))
    # As recorded (60 s) against a 5 s cap: deferred to the next run, not waited for.
    github.script("/orgs/leedsdatamill/repos", Scripted(403, abuse["headers"], abuse["body"]))
    hub.write_sources([github_source(org="leedsdatamill")], retry_after_cap_s=5)
    hub.harvest()
    health = hub.health("gh")
    assert health["status"] == "deferred" and "secondary rate limit" in health["error"]
    assert health["next_attempt_at"] is not None

    # The same response asking for 1 s (the recording's headers, Retry-After changed): waited, then read.
    github.script("/orgs/leedsdatamill/repos", Scripted(403, {**abuse["headers"], "Retry-After": "1"}, abuse["body"]))
    hub.harvest(ignore_backoff=True)
    assert hub.health("gh")["status"] == "ok"
    assert hub.query("SELECT count(*) FROM hub_repositories")[0][0] == 2


def test_recorded_502s_then_the_repository(github, hub):
    exchanges = read_replay(GITHUB / "pygithub_502_then_repo.replay.txt")
    github.add_owner("PyGithub", [recorded_repo()])
    for e in exchanges[:3]:
        github.script("/repos/PyGithub/PyGithub", Scripted(e["status"], e["headers"], e["body"]))
    hub.write_sources([github_source(repo="PyGithub/PyGithub", readme=False, publiccode=False, tagged_only=False)],
                      retries=3)
    hub.harvest()
    assert hub.health("gh")["status"] == "ok"
    assert [r[0] for r in hub.query("SELECT full_name FROM hub_repositories")] == ["PyGithub/PyGithub"]
    assert sum(r["path"] == "/repos/PyGithub/PyGithub" for r in github.requests) == 4


def test_unknown_gone_blocked_and_truncated_are_each_reported(github, hub):
    missing = read_replay(GITHUB / "pygithub_404_unknown_repo.replay.txt")[1]
    github.add_owner("PyGithub", [recorded_repo()])
    github.script("/repos/jacquev6/Xxx", Scripted(404, missing["headers"], missing["body"]))
    # 451 as GitHub documents it (no recording exists): a DMCA-blocked repository.
    github.script("/repos/someone/blocked", Scripted(451, {}, json.dumps(
        {"message": "Repository access blocked", "block": {"reason": "dmca"}})))
    truncated = json.dumps(recorded_repo())[:700]
    github.script("/repos/PyGithub/PyGithub", Scripted(200, {"ETag": '"t"'}, truncated))
    hub.write_sources([github_source("gone", repo="jacquev6/Xxx"),
                       github_source("blocked", repo="someone/blocked"),
                       github_source("cut", repo="PyGithub/PyGithub")])
    hub.harvest()
    assert "HTTP 404" in hub.health("gone")["error"] and "GitHub says: Not Found" in hub.health("gone")["error"]
    assert "HTTP 451" in hub.health("blocked")["error"] and "legal reasons" in hub.health("blocked")["error"]
    assert "invalid or truncated JSON" in hub.health("cut")["error"]


def test_a_renamed_repository_is_followed_through_the_api_redirect(github, hub):
    """GitHub answers a renamed repository with 301 to /repositories/<id> (documented; no recording)."""
    repo = recorded_repo()
    github.add_owner("PyGithub", [repo])
    github.script("/repos/jacquev6/PyGithub", Scripted(301, {"Location": f"{github.api_url}/repositories/{repo['id']}"},
                                                       json.dumps({"message": "Moved Permanently"})))
    hub.write_sources([github_source(repo="jacquev6/PyGithub", readme=False, publiccode=False, tagged_only=False)])
    hub.harvest()
    assert [r[0] for r in hub.query("SELECT full_name FROM hub_repositories")] == ["PyGithub/PyGithub"]


def test_search_over_the_1000_cap_is_split_by_creation_date(github, hub):
    """2,500 tagged repositories (generated from a recorded one); GitHub's search returns at most
    1,000 of a query, so the hub must split the query until every slice is under the cap."""
    github.add_owner("civic", generated_repos("civic", 2500, per_day=4))
    hub.write_sources([github_source(topic="opengovtech", readme=False, publiccode=False)])
    report = hub.harvest()
    assert report.counts[0].status == "ok", report.counts[0].error
    assert hub.query("SELECT count(DISTINCT full_name) FROM hub_repositories")[0][0] == 2500
    searches = [r for r in github.requests if r["path"] == "/search/repositories"]
    assert any("created" in s["query"] for s in searches)
    assert all("topic%3Aopengovtech" in s["query"] for s in searches)


def test_recorded_paged_search_results_are_read(github, hub):
    """PyGithub's recorded search (two real pages of results) served as a search for a topic."""
    exchanges = read_replay(GITHUB / "pygithub_search_repositories_paged.replay.txt")
    items = [item for e in exchanges for item in json.loads(e["body"])["items"]]
    for item in items:
        item["topics"] = ["opengovtech"]
    github.add_owner("recorded", items)
    hub.write_sources([github_source(topic="opengovtech", readme=False, publiccode=False)])
    hub.harvest()
    assert hub.query("SELECT count(*) FROM hub_repositories")[0][0] == len({i["full_name"] for i in items})
    assert ("kennethreitz/legit",) in hub.query("SELECT full_name FROM hub_repositories")


def test_github_sources_are_validated_with_clear_errors():
    def problems(text: str) -> str:
        with pytest.raises(ConfigError) as err:
            parse_registry(text, Path("sources.yaml"))
        return str(err.value)

    assert "exactly one of org, user, repo, topic, search or linked (it has org, topic)" in problems(
        "sources:\n  - id: a\n    kind: github\n    org: leedsdatamill\n    topic: opengovtech\n")
    assert "sources.yaml:4 source 'a': 'repo': 'leeds' is not owner/name" in problems(
        "sources:\n  - id: a\n    kind: github\n    repo: leeds\n")
    assert "unknown key 'include_fork' (did you mean 'include_forks'?)" in problems(
        "sources:\n  - id: a\n    kind: github\n    org: x\n    include_fork: true\n")
    registry = parse_registry("sources:\n  - id: a\n    kind: github\n    search: 'bins language:python'\n",
                              Path("sources.yaml"))
    assert registry.rows()[0]["url"] == "https://github.com/search?q=bins+language%3Apython&type=repositories"


CANARY = "ghp_CANARY0000hubtesttoken0000000000000"


def test_the_token_is_sent_to_the_api_only_and_never_written_anywhere(github, tmp_path):
    """A canary token through `opengovtech run`: it reaches the API, and appears in no output,
    log, DuckDB file, Dagster storage or site file, even when sources fail or are redirected."""
    github.add_owner("leedsdatamill", generated_repos("leedsdatamill", 3))
    github.files[("leedsdatamill/service-0001", "README.md")] = "Token? " + "x" * 10
    moved_to = github.api_url.replace("127.0.0.1", "localhost") + "/repos/leedsdatamill/service-0002"
    github.script("/repos/someone/moved", Scripted(301, {"Location": moved_to}, "{}"))
    github.script("/repos/someone/secret", Scripted(401, {}, json.dumps({"message": "Bad credentials"})))
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({
        "defaults": {"allow_private_networks": True, "retries": 0, "timeout_s": 5},
        "sources": [{"id": "org", "kind": "github", "org": "leedsdatamill"},
                    {"id": "moved", "kind": "github", "repo": "someone/moved", "tagged_only": False},
                    {"id": "secret", "kind": "github", "repo": "someone/secret"}]}), encoding="utf-8")
    warehouse = tmp_path / "wh" / "hub.duckdb"
    env = {"GITHUB_TOKEN": CANARY, "GITHUB_API_URL": github.api_url, "DAGSTER_HOME": ""}
    result = run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse), env=env)
    assert "Bad credentials" in result.stdout  # the failure is reported, without the token
    build = run_cli("site", "build", "--warehouse", str(warehouse), "--sources", str(sources), env=env)
    assert build.returncode == 0, build.stderr
    status = run_cli("sources", "status", "--warehouse", str(warehouse), "--json", env=env)

    sent = [r for r in github.requests if r["headers"].get("Authorization") == f"Bearer {CANARY}"]
    assert sent and all(r["headers"].get("Host", "").startswith("127.0.0.1") for r in sent)
    # the redirect to another origin was followed without the credential
    redirected = [r for r in github.requests if r["headers"].get("Host", "").startswith("localhost")]
    assert redirected and not any("Authorization" in r["headers"] for r in redirected)

    for text in (result.stdout, result.stderr, build.stdout, build.stderr, status.stdout, status.stderr):
        assert CANARY not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files) and any("dagster" in p.parts for p in files)
    leaked = [str(p) for p in files if CANARY.encode() in p.read_bytes()]
    assert leaked == []


def test_a_repository_page_on_the_site_lists_its_facts(github, hub, tmp_path):
    github.add_owner("github3py", recorded_org_repos())
    hub.write_sources([github_source(org="github3py", tagged_only=False, include_forks=True)])
    hub.harvest()
    from pipelines.publish.site import build_site_from_file

    build_site_from_file(hub.warehouse_path, tmp_path / "site", search=False)
    item_id = hub.query("SELECT id FROM hub_items WHERE title = 'github3py/github3.py'")[0][0]
    page = (tmp_path / "site" / "items" / item_id / "index.html").read_text(encoding="utf-8")
    assert "<dt>Licence</dt><dd>BSD-3-Clause</dd>" in page
    assert "<dt>Language</dt><dd>Python</dd>" in page
    assert 'href="https://github.com/github3py/github3.py"' in page
    assets = (tmp_path / "site" / "kinds" / "asset" / "index.html").read_text(encoding="utf-8")
    assert "github3py/github3.py" in assets


def test_a_token_an_api_error_echoes_back_is_redacted_before_it_is_stored_or_shown(github, hub, monkeypatch):
    """An error message that repeats the request's Authorization header keeps the failure readable
    and loses the credential, in source_health, source_runs and the report."""
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    echo = json.dumps({"message": f"Malformed request (headers: Authorization: Bearer {CANARY}, Accept: json)"})
    github.script("/repos/someone/echo", Scripted(400, {}, echo))
    hub.write_sources([github_source("echo", repo="someone/echo")], retries=0)
    report = hub.harvest()
    stored = hub.query("SELECT error FROM source_health") + hub.query("SELECT error FROM source_runs")
    shown = [c.error for c in report.counts]
    assert all(CANARY not in (error or "") for (error,) in stored) and all(CANARY not in e for e in shown)
    assert "Malformed request (headers: Authorization: [redacted]" in shown[0]


def test_check_finds_the_readme_hashtag_the_harvest_reads_and_a_run_agrees(github, hub):
    # The recorded repository shape, without the topic: only its README carries the tag.
    repos = generated_repos("leedsdatamill", 1, tag="bins")
    github.add_owner("leedsdatamill", repos)
    github.files[("leedsdatamill/service-0000", "README.md")] = "# Bins\n\nNow with **#OpenGovTech** maps."
    hub.write_sources([github_source(org="leedsdatamill")])
    url = "https://github.com/leedsdatamill/service-0000"
    result = run_cli("check", url, "--json", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path))
    report = json.loads(result.stdout)
    assert report["tag_found"] == ["hashtag #OpenGovTech in README"], report
    assert report["verdict"] == "would be picked up on the next run" and report["kind"] == "asset"
    hub.harvest()
    assert hub.query("SELECT url, kind FROM hub_items") == [(url, "asset")]


def test_check_shows_a_failure_that_echoes_the_token_without_it(github, hub):
    echo = json.dumps({"message": f"Malformed request (headers: Authorization: Bearer {CANARY}, Accept: json)"})
    github.script("/repos/someone/echo", Scripted(400, {}, echo))
    hub.write_sources([github_source(org="someone")])
    result = run_cli("check", "https://github.com/someone/echo", "--sources", str(hub.sources_path),
                     "--warehouse", str(hub.warehouse_path), env={"GITHUB_TOKEN": CANARY})
    assert "Malformed request" in result.stdout, result.stdout
    assert CANARY not in result.stdout + result.stderr
