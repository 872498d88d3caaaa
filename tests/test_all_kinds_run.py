"""`opengovtech run` on a sources.yaml mixing every source kind, all served from 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CORPUS, run_cli, serve_bytes, serve_file
from tests.github_api_server import GitHubAPIServer, generated_repos
from tests.social_servers import SOCIAL, BlueskySearch, MastodonTimeline, bluesky_post, corpus_page

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database


def test_run_fills_hub_items_from_every_kind_and_a_failing_kind_stops_nothing(hub, loopback):
    base = loopback.url_for("").rstrip("/")
    feed = serve_file(loopback, "/feeds/data.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    serve_file(loopback, "/wp/", corpus_page("traf_wikimediafoundation.org.turkey.html"))
    serve_file(loopback, "/wp/tag/opengovtech/feed/", CORPUS / "feeds" / "wordpress_manton.rss")
    page = serve_bytes(loopback, "/news/launch", corpus_page("traf_changelog.blog.zwischenbilanz.html").read_bytes()
                       .replace(b'content="Insight">', b'content="OpenGovTech">', 1), "text/html; charset=utf-8")
    github = GitHubAPIServer(loopback).start()
    github.add_owner("northbridge", generated_repos("northbridge", 3))
    timeline = MastodonTimeline(loopback, "opengovtech")
    timeline.post("<p>Our open data strategy #OpenGovTech</p>", tags=["OpenGovTech"])
    skeets = BlueskySearch(loopback, requires_auth=True)
    skeets.posts = [bluesky_post(1, "Hello #OpenGovTech", tags=["OpenGovTech"])]
    articles = json.loads((SOCIAL / "devto_api_articles_by_username.json").read_text(encoding="utf-8"))
    loopback.expect_request("/api/articles").respond_with_json(articles)
    topics = json.loads((SOCIAL / "discourse_latest_topic_list.json").read_text(encoding="utf-8"))
    topics["topic_list"]["more_topics_url"] = None
    loopback.expect_request("/tag/opengovtech.json").respond_with_json(topics)
    for topic in topics["topic_list"]["topics"]:
        loopback.expect_request(f"/t/{topic['slug']}/{topic['id']}.json").respond_with_json(
            {"post_stream": {"posts": [{"username": "test_user", "cooked": "<p>First post</p>",
                                        "created_at": topic["created_at"]}]}})

    hub.write_sources([
        {"id": "feed", "kind": "feed", "url": feed, "tagged_only": False},
        {"id": "blog", "kind": "blog", "url": base + "/wp/"},
        {"id": "page", "kind": "page", "url": page},
        {"id": "github", "kind": "github", "org": "northbridge"},
        {"id": "mastodon", "kind": "mastodon", "instance": base, "hashtag": "opengovtech"},
        {"id": "bluesky", "kind": "bluesky", "hashtag": "opengovtech", "service": base},
        {"id": "devto", "kind": "devto", "username": "gereltuyamz", "api_url": base, "tagged_only": False},
        {"id": "discourse", "kind": "discourse", "base_url": base, "tag": "opengovtech"},
        {"id": "markdown", "kind": "markdown", "directory": str(CORPUS / "pages" / "repo_posts"), "tags": ["OpenDataIRL"]},
    ])
    result = run_cli("run", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path),
                     env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": "", "BLUESKY_HANDLE": "",
                          "BLUESKY_APP_PASSWORD": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "requires authentication" in result.stdout
    statuses = dict(hub.query("SELECT source_id, status FROM source_health"))
    assert statuses.pop("bluesky") == "failed"
    assert set(statuses.values()) == {"ok"}, statuses
    per_source = dict(hub.query("SELECT s, count(*) FROM hub_items, unnest(source_ids) AS t(s) GROUP BY s"))
    assert set(per_source) == {"feed", "blog", "page", "github", "mastodon", "devto", "discourse", "markdown"}
    assert hub.query("SELECT count(*) FROM hub_items WHERE len(match_reasons) = 0")[0][0] == 0
    assert dict(hub.query("SELECT kind, count(*) FROM hub_items GROUP BY kind"))["asset"] == 3
