"""kinds bluesky, devto and discourse against their APIs served on 127.0.0.1 from ../shared/corpus/social."""

from __future__ import annotations

import json

from tests.conftest import CORPUS, serve_bytes, serve_file
from tests.social_servers import SOCIAL, BlueskySearch, bluesky_post, corpus_page


# --- Bluesky ------------------------------------------------------------------------------

def test_bluesky_posts_tags_from_facets_public_urls_and_cursor_paging(hub, loopback):
    search = BlueskySearch(loopback, page_size=2)
    search.posts = [bluesky_post(n, f"Open data day {n} in Leeds #OpenGovTech", tags=["OpenGovTech"])
                    for n in range(5, 0, -1)]
    search.posts.insert(2, bluesky_post(9, "opengovtech is a word here, not a tag"))
    hub.write_sources([{"id": "skeets", "kind": "bluesky", "hashtag": "OpenGovTech", "service": search.base}])
    hub.harvest()
    assert len(search.requests) == 3  # 6 posts, two a page, cursor until none
    rows = hub.query("SELECT url, author, match_reasons, tags FROM hub_items ORDER BY published_at DESC")
    assert len(rows) == 5
    url, author, reasons, tags = rows[0]
    assert url == "https://bsky.app/profile/council.example/post/3kah000000005"
    assert author == "@council.example"
    assert reasons == [f"hashtag #OpenGovTech on the Bluesky post {url}"]
    assert tags == ["OpenGovTech"]
    assert "skipped 1 posts that match the search but carry no tag" in hub.health("skeets")["warning"]

    search.requests.clear()
    search.posts.insert(0, bluesky_post(20, "Newest #OpenGovTech", tags=["OpenGovTech"]))
    hub.harvest()
    assert len(search.requests) == 1  # the newest post seen last run is on the first page
    assert hub.health("skeets")["items_seen"] == 1


def test_bluesky_skeet_with_link_card_becomes_the_linked_story(hub, loopback):
    page = serve_file(loopback, "/news/goats", corpus_page("traf_nationalgeographic.co.uk.goats.html"))
    search = BlueskySearch(loopback)
    search.posts = [bluesky_post(1, f"Great read #OpenGovTech {page}", tags=["OpenGovTech"], link=page,
                                 external={"uri": page, "title": "Goats", "description": "wild goats"})]
    hub.write_sources([{"id": "skeets", "kind": "bluesky", "hashtag": "opengovtech", "service": search.base}])
    hub.harvest()
    title, url, mentions = hub.query("SELECT title, url, mentions FROM hub_items")[0]
    assert title.startswith("Ravenous wild goats ruled this island")
    assert url.startswith("https://www.nationalgeographic.co.uk/environment-and-conservation/2020/01/")
    assert json.loads(mentions[0])["url"] == "https://bsky.app/profile/council.example/post/3kah000000001"


def test_bluesky_needing_auth_says_which_variables_to_set_and_others_carry_on(hub, loopback, monkeypatch):
    monkeypatch.delenv("BLUESKY_HANDLE", raising=False)
    monkeypatch.delenv("BLUESKY_APP_PASSWORD", raising=False)
    search = BlueskySearch(loopback, requires_auth=True)
    search.posts = [bluesky_post(1, "Hello #OpenGovTech", tags=["OpenGovTech"])]
    feed = serve_file(loopback, "/feed.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    hub.write_sources([{"id": "skeets", "kind": "bluesky", "hashtag": "opengovtech", "service": search.base},
                       {"id": "govuk", "kind": "feed", "url": feed, "tagged_only": False}])
    hub.harvest()
    health = hub.health("skeets")
    assert health["status"] == "failed"
    assert "requires authentication for searchPosts (HTTP 403)" in health["error"]
    assert "set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD" in health["error"]
    assert hub.health("govuk")["status"] == "ok"

    monkeypatch.setenv("BLUESKY_HANDLE", search.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", search.password)
    hub.write_sources([{"id": "skeets", "kind": "bluesky", "hashtag": "opengovtech", "service": search.base,
                        "auth_service": search.base}])
    hub.harvest()
    assert hub.health("skeets")["status"] == "ok" and search.sessions == 1
    assert hub.query("SELECT count(*) FROM hub_items WHERE list_contains(source_ids, 'skeets')")[0][0] == 1
    stored = " ".join(str(v) for row in hub.query("SELECT * FROM source_health") for v in row)
    stored += " ".join(str(v) for row in hub.query("SELECT * FROM source_runs") for v in row)
    assert search.password not in stored and "jwt-token-abc" not in stored

    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "wrong-password-5678")
    hub.harvest()
    health = hub.health("skeets")
    assert "sign-in as hub.example" in health["error"] and "failed (HTTP 401)" in health["error"]
    assert "wrong-password-5678" not in health["error"]


# --- dev.to -------------------------------------------------------------------------------

def devto_articles() -> list[dict]:
    """dev.to's GET /api/articles?username=gereltuyamz response, as recorded (see MANIFEST.md)."""
    return json.loads((SOCIAL / "devto_api_articles_by_username.json").read_text(encoding="utf-8"))


def test_devto_username_articles_as_recorded(hub, loopback):
    loopback.expect_request("/api/articles", query_string="username=gereltuyamz&per_page=100&page=1") \
        .respond_with_json(devto_articles())
    hub.write_sources([{"id": "devto-user", "kind": "devto", "username": "gereltuyamz", "api_url": loopback.url_for(""),
                        "tagged_only": False}])
    hub.harvest()
    rows = hub.query("SELECT title, url, author, tags FROM hub_items ORDER BY published_at DESC")
    assert len(rows) == 6
    assert rows[0][0] == "When to use dangerouslySetInnerHTML in React?"
    assert rows[0][1] == "https://dev.to/gereltuyamz/when-to-use-dangerouslysetinnerhtml-in-react-3ol"
    assert rows[0][2] == "Gereltuya Munkhzaya" and rows[0][3] == ["webdev"]


def test_devto_tag_source_pages_and_merges_a_cross_post_with_the_original(hub, loopback):
    """Built from the recorded articles (no by-tag response was recorded): 100 on page one, 3 on page two;
    one names a blog post as its canonical_url."""
    template = devto_articles()[0]
    articles = []
    for n in range(103):
        article = dict(template, id=5_000_000 + n, title=f"Civic tech note {n}", tag_list=["opengovtech", "civictech"],
                       tags="opengovtech, civictech", url=f"https://dev.to/council/note-{n}",
                       canonical_url=f"https://dev.to/council/note-{n}")
        articles.append(article)
    articles[0]["canonical_url"] = "https://github.blog/2019-03-29-leader-spotlight-erin-spiceland/"
    loopback.expect_request("/api/articles", query_string="tag=opengovtech&per_page=100&page=1") \
        .respond_with_json(articles[:100])
    loopback.expect_request("/api/articles", query_string="tag=opengovtech&per_page=100&page=2") \
        .respond_with_json(articles[100:])
    page = serve_file(loopback, "/blog/spiceland", corpus_page("traf_github.blog.spiceland.html"))
    hub.write_sources([{"id": "devto-tag", "kind": "devto", "tag": "OpenGovTech", "api_url": loopback.url_for("")},
                       {"id": "spiceland", "kind": "page", "url": page, "tagged_only": False}])
    hub.harvest()
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 103
    url, sources, reasons = hub.query("SELECT url, source_ids, match_reasons FROM hub_items "
                                      "WHERE url LIKE 'https://github.blog/%'")[0]
    assert sources == ["devto-tag", "spiceland"]
    assert "cross-posted on dev.to (https://dev.to/council/note-0) from " + url in reasons


# --- Discourse ----------------------------------------------------------------------------

def test_discourse_tag_topics_and_their_first_posts(hub, loopback):
    """The recorded topic list (discourse_api's fixture, same shape as /tag/<x>.json) served as the tag's
    list; each topic's /t/<slug>/<id>.json is built to Discourse's documented schema."""
    topic_list = json.loads((SOCIAL / "discourse_latest_topic_list.json").read_text(encoding="utf-8"))
    topic_list["topic_list"]["more_topics_url"] = None
    serve_bytes(loopback, "/tag/opengovtech.json", json.dumps(topic_list).encode(), "application/json")
    slugs = sorted({(t["slug"], t["id"]) for t in topic_list["topic_list"]["topics"]})
    for slug, topic_id in slugs:
        loopback.expect_request(f"/t/{slug}/{topic_id}.json").respond_with_json({
            "id": topic_id, "slug": slug, "post_stream": {"posts": [{
                "id": 10, "username": "test_user", "name": "Test User", "created_at": "2013-02-04T15:26:25.977-05:00",
                "cooked": f"<p>First post of {slug}, see <a href='/t/other/2'>other</a></p>"}]}})
    base = loopback.url_for("").rstrip("/")
    hub.write_sources([{"id": "forum", "kind": "discourse", "base_url": base, "tag": "opengovtech"}])
    hub.harvest()
    rows = hub.query("SELECT title, url, author, published_at, content_html, match_reasons FROM hub_items ORDER BY url")
    assert len(rows) == len(slugs)
    title, url, author, published, content_html, reasons = rows[0]
    assert url == f"{base}/t/{slugs[0][0]}/{slugs[0][1]}"
    assert author == "Test User"
    assert published.isoformat().startswith("2013-02-04T20:26:25")  # -05:00 turned into UTC
    assert f'href="{base}/t/other/2"' in content_html
    assert reasons == [f"in the Discourse tag 'opengovtech' on {base}"]

    hub.harvest()  # the topic list answers 304 and no topic is read again
    assert hub.health("forum")["status"] == "not_modified"
