"""`opengovtech suggest-source` on `issues` events written as GitHub documents them (an issue-form
body as GitHub renders it), against pages and a GitHub API stand-in on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field

import pytest
import yaml
from werkzeug import Request, Response

from pipelines.sources.github_repository import git_blob_sha
from pipelines.app.sources_file import append_source
from tests.conftest import run_cli, serve_bytes, serve_file
from tests.social_servers import corpus_page
from tests.test_check import tagged_page

REPOSITORY = "council/hub"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "ghs_workflowtoken0123456789"
SOURCES = """\
# Our hub's sources. Validate with: opengovtech sources validate
defaults:
  tags: [opengovtech]
  allow_private_networks: ["127.0.0.0/8"]   # the test's stand-ins live on loopback
  retries: 0
  timeout_s: 5

sources:
  # Bins news, followed since the launch.
  - {id: bins-launch, kind: page, url: "PAGE_URL"}   # one line, flow style

  - id: devto-opengovtech
    kind: devto
    tag: opengovtech          # the tag's listing
  # - id: commented-example
  #   kind: feed
"""


@dataclass
class GitHubWrites:
    """The part of GitHub's REST API the workflow writes to, recording what it was sent."""

    server: object
    calls: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.server.expect_request(re.compile(r"^/api/v3/.*")).respond_with_handler(self.handle)

    @property
    def api_url(self) -> str:
        return self.server.url_for("/api/v3").rstrip("/")

    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix(f"/api/v3/repos/{REPOSITORY}")
        self.calls.append({"method": request.method, "path": path, "json": request.get_json(silent=True),
                           "authorization": request.headers.get("Authorization")})
        answers = {
            ("POST", "/git/refs"): (201, {"ref": "refs/heads/x", "object": {"sha": COMMIT}}),
            ("PUT", "/contents/sources.yaml"): (200, {"content": {"path": "sources.yaml"}, "commit": {"sha": "f" * 40}}),
            ("POST", "/pulls"): (201, {"number": 13, "html_url": f"https://github.com/{REPOSITORY}/pull/13"}),
        }
        if request.method == "POST" and re.fullmatch(r"/issues/\d+/comments", path):
            status, body = 201, {"html_url": f"https://github.com/{REPOSITORY}{path}#issuecomment-1"}
        else:
            status, body = answers.get((request.method, path), (404, {"message": "Not Found"}))
        return Response(json.dumps(body), status=status, content_type="application/json")

    def comments(self) -> list[str]:
        return [c["json"]["body"] for c in self.calls if c["path"].endswith("/comments")]


def form_body(url: str, organisation: str = "My Council", tag: str | None = None) -> str:
    """An issue body as GitHub renders the Suggest a source form's answers."""
    return (f"### Address of a post, feed or repository\n\n{url}\n\n### Organisation\n\n{organisation}\n\n"
            f"### Tag (optional)\n\n{tag or '_No response_'}")


def issue_event(action: str, body: str, *, labels=("suggest-a-source",), label: str | None = None,
                changes: dict | None = None) -> dict:
    """The `issues` webhook payload, in the shape GitHub documents (the fields a suggestion reads, and some)."""
    payload = {
        "action": action,
        "issue": {"number": 12, "title": "Suggest a source: our blog", "body": body, "state": "open",
                  "html_url": f"https://github.com/{REPOSITORY}/issues/12", "user": {"login": "councildigital"},
                  "labels": [{"id": n, "name": name} for n, name in enumerate(labels)]},
        "repository": {"full_name": REPOSITORY, "name": "hub", "owner": {"login": "council"},
                       "default_branch": "main"},
        "sender": {"login": "maintainer" if action == "labeled" else "councildigital"},
    }
    if label:
        payload["label"] = {"name": label}
    if changes is not None:
        payload["changes"] = changes
    return payload


@pytest.fixture
def suggestion(tmp_path, loopback):
    """Run the command on one event, as the workflow does, and return (result, GitHub's recorded calls)."""
    page = serve_bytes(loopback, "/news/bins", b"<html><head><title>Bins</title></head></html>", "text/html")
    (tmp_path / "sources.yaml").write_text(SOURCES.replace("PAGE_URL", page), encoding="utf-8")
    github = GitHubWrites(loopback)

    def run(payload: dict):
        event = tmp_path / "event.json"
        event.write_text(json.dumps(payload), encoding="utf-8")
        result = run_cli("suggest-source", cwd=tmp_path,
                         env={"GITHUB_EVENT_PATH": str(event), "GITHUB_API_URL": github.api_url,
                              "GITHUB_TOKEN": TOKEN, "GITHUB_SHA": COMMIT})
        return result, github

    run.sources = tmp_path / "sources.yaml"
    run.page = page
    return run


def test_tagged_post_gets_a_comment_saying_it_would_be_picked_up_with_the_entry_to_add(suggestion, loopback):
    url = serve_bytes(loopback, "/blog/our-bins-api", tagged_page(), "text/html; charset=utf-8")
    result, github = suggestion(issue_event("opened", form_body(url)))
    assert result.returncode == 0, result.stdout + result.stderr
    [comment] = github.comments()
    assert github.calls[0]["authorization"] == f"Bearer {TOKEN}"
    assert "**It would be picked up once the entry below is added to sources.yaml.**" in comment
    assert "- Tag found: `article:tag 'OpenGovTech'`" in comment
    assert "- In sources.yaml: not yet" in comment
    entry = (f"```yaml\n- id: 127-0-0-1\n  kind: blog\n  url: {loopback.url_for('/')}\n  tag: opengovtech\n"
             "  org: My Council\n```")
    assert entry in comment
    assert "applying the `add-source` label" in comment


def test_untagged_post_comment_says_where_the_tag_was_looked_for(suggestion, loopback):
    url = serve_file(loopback, "/2019/goats", corpus_page("traf_nationalgeographic.co.uk.goats.html"))
    result, github = suggestion(issue_event("opened", form_body(url)))
    assert result.returncode == 0, result.stdout + result.stderr
    [comment] = github.comments()
    assert "**Not picked up yet: the tag was not found." in comment
    assert ("- Tag not found; looked for it in: `article:tag`, `JSON-LD keywords`, `meta keywords`, "
            "`rel=tag link`, `hashtag in title`, `hashtag in description`") in comment


def test_a_publishers_own_tag_is_looked_for_and_kept_in_the_entry(suggestion, loopback):
    page = tagged_page().replace(b'content="OpenGovTech"', b'content="Smart Bins"')
    url = serve_bytes(loopback, "/blog/smart-bins", page, "text/html; charset=utf-8")
    result, github = suggestion(issue_event("opened", form_body(url, tag="#smart-bins")))
    assert result.returncode == 0, result.stdout + result.stderr
    [comment] = github.comments()
    assert "- Tag found: `article:tag 'Smart Bins'`" in comment
    assert "  tag: smart-bins\n  org: My Council\n```" in comment


@pytest.mark.parametrize("address, expected", [
    ("http://10.1.2.3/blog/our-bins-api", "it is a private address, not on the public internet"),
    ("www.my-council.gov.uk/blog", "That is not an address the hub can read."),
    ("PAGE", "The hub already reads this: no new entry is needed."),
], ids=["private address", "invalid URL", "duplicate of a source"])
def test_private_invalid_or_duplicate_suggestions_get_a_clear_comment_and_no_entry(suggestion, address, expected):
    address = suggestion.page if address == "PAGE" else address
    result, github = suggestion(issue_event("opened", form_body(address)))
    assert result.returncode == 0, result.stdout + result.stderr
    [comment] = github.comments()
    assert expected in comment
    assert "```yaml" not in comment and "add-source" not in comment and "add the entry below" not in comment
    if address == suggestion.page:
        assert "- In sources.yaml: `bins-launch (page)`" in comment


def test_labelled_suggestion_opens_a_pull_request_whose_sources_yaml_validates_and_keeps_its_comments(
        suggestion, loopback, tmp_path):
    url = serve_bytes(loopback, "/blog/our-bins-api", tagged_page(), "text/html; charset=utf-8")
    before = suggestion.sources.read_bytes()
    result, github = suggestion(issue_event("labeled", form_body(url, "Bins & Co <b>"),
                                            labels=("suggest-a-source", "add-source"), label="add-source"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(c["method"], c["path"]) for c in github.calls] == [
        ("POST", "/git/refs"), ("PUT", "/contents/sources.yaml"), ("POST", "/pulls"), ("POST", "/issues/12/comments")]
    ref, put, pull, comment = (c["json"] for c in github.calls)
    assert ref == {"ref": "refs/heads/suggest-a-source/issue-12", "sha": COMMIT}
    assert put["branch"] == "suggest-a-source/issue-12" and put["sha"] == git_blob_sha(before)
    assert all(c["authorization"] == f"Bearer {TOKEN}" for c in github.calls)

    after = base64.b64decode(put["content"]).decode("utf-8")
    added = [line for line in after.splitlines() if line not in before.decode("utf-8").splitlines()]
    assert added == ["  # Suggested in issue #12", "  - id: 127-0-0-1", "    kind: blog", f"    url: {loopback.url_for('/')}",
                     "    tag: opengovtech", "    org: Bins & Co <b>"]
    assert after.replace("\n".join(added) + "\n", "") == before.decode("utf-8")   # every other byte kept
    proposed = tmp_path / "proposed" / "sources.yaml"
    proposed.parent.mkdir()
    proposed.write_text(after, encoding="utf-8")
    validated = run_cli("sources", "validate", str(proposed))
    assert validated.returncode == 0 and "3 sources OK" in validated.stdout, validated.stdout + validated.stderr
    assert yaml.safe_load(after)["sources"][-1]["org"] == "Bins & Co <b>"

    assert pull["head"] == "suggest-a-source/issue-12" and pull["base"] == "main"
    assert "Closes #12" in pull["body"] and "- id: 127-0-0-1" in pull["body"]
    assert f"https://github.com/{REPOSITORY}/pull/13" in comment["body"]


def test_labelled_suggestion_with_nothing_to_add_comments_and_opens_nothing(suggestion):
    result, github = suggestion(issue_event("labeled", form_body("not an address"),
                                            labels=("suggest-a-source", "add-source"), label="add-source"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(c["method"], c["path"]) for c in github.calls] == [("POST", "/issues/12/comments")]
    assert "**Nothing was added.**" in github.comments()[0]


def test_title_edits_other_labels_and_other_issues_are_left_alone(suggestion):
    body = form_body("https://example.org/")
    for payload in (issue_event("edited", body, changes={"title": {"from": "Suggest a source: "}}),
                    issue_event("labeled", body, label="suggest-a-source"),
                    issue_event("opened", "Something is broken", labels=("bug",))):
        result, github = suggestion(payload)
        assert result.returncode == 0, result.stdout + result.stderr
        assert github.calls == []


def test_github_refusing_the_pull_request_fails_the_step_with_its_message(suggestion, loopback):
    url = serve_bytes(loopback, "/blog/our-bins-api", tagged_page(), "text/html; charset=utf-8")
    loopback.clear()   # a GitHub that refuses every write, as when Actions may not create pull requests
    loopback.no_handler_status_code = 404
    serve_bytes(loopback, "/blog/our-bins-api", tagged_page(), "text/html; charset=utf-8")
    calls: list[tuple[str, str]] = []

    def refuse(request: Request) -> Response:
        calls.append((request.method, request.path.removeprefix(f"/api/v3/repos/{REPOSITORY}")))
        return Response(json.dumps({"message": "Resource not accessible by integration"}), status=403,
                        content_type="application/json")

    loopback.expect_request(re.compile(r"^/api/v3/.*")).respond_with_handler(refuse)
    result, _ = suggestion(issue_event("labeled", form_body(url), labels=("suggest-a-source", "add-source"),
                                       label="add-source"))
    assert result.returncode == 1
    assert calls == [("POST", "/git/refs"), ("POST", "/issues/12/comments")]   # it tried to say so on the issue
    assert "HTTP 403 to POST /git/refs: Resource not accessible by integration" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("text", [
    "sources:\n",
    "sources: []  # none yet\n",
    "defaults: {tags: [x]}\n",
    "sources:\n- id: a\n  kind: page\n  url: http://x/  # the last line, no newline",
])
def test_append_source_adds_the_entry_and_keeps_the_rest_whatever_the_lists_shape(text):
    entry = {"id": "new", "kind": "page", "url": "http://y/", "org": "A: B # not a comment"}
    after = append_source(text, entry, note="Suggested in issue #1")
    data = yaml.safe_load(after)
    assert data["sources"][-1] == entry
    for line in text.splitlines():
        if "[]" not in line:
            assert line in after.splitlines()
