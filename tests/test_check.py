"""`opengovtech check URL`: the verdict, reasons and proposed entry, on real pages served from 127.0.0.1."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from werkzeug import Request, Response

from pipelines.sources.bluesky import public_post_url
from tests.conftest import Hub, run_cli, serve_bytes, serve_file
from tests.github_api_server import GitHubAPIServer, Scripted, generated_repos
from tests.social_servers import SOCIAL, BlueskySearch, MastodonTimeline, bluesky_post, corpus_page

pytestmark = pytest.mark.slow  # the CLI as a subprocess (in process in test_fast_cli)


def tagged_page() -> bytes:
    """A real WordPress post (changelog.blog) whose article:tag list gains 'OpenGovTech'."""
    page = corpus_page("traf_changelog.blog.zwischenbilanz.html").read_bytes()
    return page.replace(b'<meta property="article:tag" content="Insight">',
                        b'<meta property="article:tag" content="Insight">'
                        b'<meta property="article:tag" content="OpenGovTech">', 1)


def check(hub, url: str, *extra: str):
    result = run_cli("check", url, "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path), *extra)
    return result


def test_tagged_page_on_a_covered_site_would_be_picked_up_then_is_in_the_hub(hub, loopback):
    page = tagged_page()
    assert b'content="OpenGovTech"' in page
    url = serve_bytes(loopback, "/blog/zwischenbilanz", page, "text/html; charset=utf-8")
    hub.write_sources([{"id": "changelog", "kind": "page", "url": url}])
    result = check(hub, url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "covered by:      changelog (page)" in result.stdout
    assert "tag found:       article:tag 'OpenGovTech'" in result.stdout
    assert "robots.txt:      allows the hub" in result.stdout
    assert "verdict: would be picked up on the next run" in result.stdout

    hub.harvest()
    report = json.loads(check(hub, url, "--json").stdout)
    assert report["verdict"] == "already in the hub" and report["exit_code"] == 0
    assert report["in_hub"]["url"].startswith("https://www.changelog.blog/zwischenbilanz")  # its rel=canonical
    assert report["kind"] == "story"


def test_untagged_page_with_no_source_says_where_it_looked_and_what_to_add(hub, loopback):
    url = serve_file(loopback, "/2019/goats", corpus_page("traf_nationalgeographic.co.uk.goats.html"))
    hub.write_sources([])
    result = check(hub, url)
    assert result.returncode == 1
    assert "verdict: would not be picked up" in result.stdout
    assert "no source in sources.yaml covers this URL" in result.stdout
    assert ("the tag #opengovtech was not found (looked at: article:tag, JSON-LD keywords, meta keywords, "
            "rel=tag link, hashtag in title, hashtag in description)") in result.stdout
    report = json.loads(check(hub, url, "--json").stdout)
    assert report["proposed_source"] == f"- id: 127-0-0-1\n  kind: blog\n  url: {loopback.url_for('/')}\n  tag: opengovtech"
    assert report["reachable"] is True and report["in_hub"] is None


def test_page_forbidden_by_robots_and_unreachable_page(hub, loopback):
    loopback.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    hub.write_sources([])
    result = check(hub, loopback.url_for("/private/report"))
    assert result.returncode == 1 and "robots.txt:      forbids the hub" in result.stdout
    missing = check(hub, loopback.url_for("/gone"))
    assert missing.returncode == 1 and "not reachable: HTTP 404" in missing.stdout


def test_mastodon_post_tags_and_the_account_entry_to_propose(hub, loopback):
    timeline = MastodonTimeline(loopback, "opengovtech")
    tagged = timeline.post("<p>New open data #OpenGovTech</p>", tags=["OpenGovTech"], acct="leedscc")
    untagged = timeline.post("<p>Road closures today</p>", tags=[], acct="leedscc")
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "OpenGovTech"}])
    result = check(hub, tagged["url"])
    # Where the tag was found, in the words of the mastodon harvest's own reason.
    assert result.returncode == 0 and f"tag found:       hashtag #OpenGovTech on the Mastodon post {tagged['url']}" \
        in result.stdout
    assert "covered by:      toots (mastodon)" in result.stdout
    result = check(hub, untagged["url"])
    assert result.returncode == 1 and "tag not found in: the post's hashtags" in result.stdout


def test_bad_url_is_an_error(hub):
    hub.write_sources([])
    result = check(hub, "not a url")
    assert result.returncode == 2 and "must be an absolute http(s) URL" in result.stderr


def test_a_tagged_page_whose_covering_feed_source_is_failing_would_not_be_picked_up_and_a_run_agrees(hub, loopback):
    url = serve_bytes(loopback, "/blog/zwischenbilanz", tagged_page(), "text/html; charset=utf-8")
    hub.write_sources([{"id": "changelog", "kind": "feed", "url": loopback.url_for("/blog/feed/")}])  # 404
    hub.harvest()
    assert hub.health("changelog")["status"] == "failed"
    result = check(hub, url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "verdict: would not be picked up" in result.stdout
    assert "the source changelog is failing: its last run ended failed" in result.stdout
    hub.harvest()
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 0


NEVERWINTER = "/en/games/neverwinter/news/detail/10743874-neverwinter-%26-jingle-jam-humble-bundle%21"


def test_check_says_what_a_run_does_with_a_post_its_feed_lists_and_one_it_does_not_list_yet(hub, loopback):
    # Arc Games' feed links its posts by site-relative paths, so they are on the feed's own origin.
    from tests.conftest import CORPUS

    feed = serve_file(loopback, "/en/games/neverwinter/rss", CORPUS / "feeds" / "relative_links_neverwinter.xml")
    page = corpus_page("traf_nationalgeographic.co.uk.goats.html").read_bytes()
    loopback.expect_request("/en/games/neverwinter/news/detail/10743874-neverwinter-&-jingle-jam-humble-bundle!") \
        .respond_with_data(page, content_type="text/html; charset=utf-8")
    listed = loopback.url_for(NEVERWINTER)
    unlisted = serve_bytes(loopback, "/en/games/neverwinter/news/detail/1-not-yet", page, "text/html; charset=utf-8")
    hub.write_sources([{"id": "neverwinter", "kind": "feed", "url": feed, "tagged_only": False}])

    verdicts = {u: json.loads(check(hub, u, "--json").stdout) for u in (listed, unlisted)}
    assert verdicts[listed]["verdict"] == "would be picked up on the next run", verdicts[listed]
    assert verdicts[unlisted]["verdict"] == "would not be picked up"
    assert any("not in the source neverwinter's feed" in r and "yet" in r for r in verdicts[unlisted]["reasons"])

    hub.harvest()
    in_hub = {u: json.loads(check(hub, u, "--json").stdout)["in_hub"] for u in (listed, unlisted)}
    assert in_hub[listed] is not None and in_hub[unlisted] is None
    assert hub.query("SELECT kind FROM hub_items WHERE id = ?", [in_hub[listed]["id"]])[0][0] == \
        verdicts[listed]["kind"]


# --- check agrees with a run, for every kind of source -----------------------------------------
#
# For each kind: a tagged post and an untagged one in what a healthy source reads, and a source of
# the same kind that fails (its listing answers 404). check's verdict on each post is compared with
# what a real harvest + normalise then does with it. check runs in-process here (check_url), as the
# CLI runs it, so the comparison does not pay for a subprocess per URL.

@dataclass
class KindCase:
    sources: list[dict]          # what a healthy sources.yaml lists
    failing: list[dict]          # the same kind with what it reads answering 404 (or missing)
    tagged: str                  # a post URL the healthy source lists, tagged
    untagged: str                # a post URL the healthy source reads, not tagged
    untagged_why: str            # what check says about the untagged post (the run leaves it out)
    failing_post: str | None = None   # the post checked against the failing source, when not `tagged`


def rss(base: str, items: list[tuple[str, str, list[str]]]) -> bytes:
    """A plain RSS 2.0 feed of (path, title, categories)."""
    entries = "".join(
        f"<item><title>{title}</title><link>{base}{path}</link><guid>{base}{path}</guid>"
        f"<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>{''.join(f'<category>{c}</category>' for c in cats)}"
        f"<description>{title}</description></item>" for path, title, cats in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Council blog</title>'
            f"<link>{base}/</link><description>News</description>{entries}</channel></rss>").encode()


def feed_posts(loopback) -> tuple[str, str, bytes]:
    """Two posts on a council's site (real pages) and the RSS feed listing them, the first under OpenGovTech."""
    base = loopback.url_for("").rstrip("/")
    tagged = serve_bytes(loopback, "/news/open-data-launch", tagged_page(), "text/html; charset=utf-8")
    untagged = serve_bytes(loopback, "/news/road-closures", corpus_page("traf_nationalgeographic.co.uk.goats.html")
                           .read_bytes(), "text/html; charset=utf-8")
    feed = rss(base, [("/news/open-data-launch", "Open data launch", ["OpenGovTech"]),
                      ("/news/road-closures", "Road closures", ["Roads"])])
    return tagged, untagged, feed


def feed_case(loopback, tmp_path, monkeypatch) -> KindCase:
    tagged, untagged, feed = feed_posts(loopback)
    url = serve_bytes(loopback, "/news/feed/", feed, "application/rss+xml")
    return KindCase([{"id": "council", "kind": "feed", "url": url}],
                    [{"id": "council", "kind": "feed", "url": loopback.url_for("/gone/feed/")}],
                    tagged, untagged, "is in the source council's feed but not tagged")


def blog_case(loopback, tmp_path, monkeypatch) -> KindCase:
    tagged, untagged, feed = feed_posts(loopback)
    serve_bytes(loopback, "/news/feed/", feed, "application/rss+xml")
    home = b'<html><head><link rel="alternate" type="application/rss+xml" href="/news/feed/"></head><body></body></html>'
    serve_bytes(loopback, "/news/", home, "text/html; charset=utf-8")
    return KindCase([{"id": "council", "kind": "blog", "url": loopback.url_for("/news/")}],
                    [{"id": "council", "kind": "blog", "url": loopback.url_for("/gone/")}],
                    tagged, untagged, "is in the source council's feed but not tagged")


def page_case(loopback, tmp_path, monkeypatch) -> KindCase:
    tagged, untagged, _ = feed_posts(loopback)
    gone = loopback.url_for("/news/gone")
    return KindCase([{"id": "launch", "kind": "page", "url": tagged}, {"id": "roads", "kind": "page", "url": untagged}],
                    [{"id": "launch", "kind": "page", "url": gone}],
                    tagged, untagged, "is in the source roads's page but not tagged", failing_post=gone)


def github_case(loopback, tmp_path, monkeypatch) -> KindCase:
    github = GitHubAPIServer(loopback).start()
    github.add_owner("northbridge", generated_repos("northbridge", 2, topics_every=2))   # the first is tagged
    github.add_owner("southbridge", generated_repos("southbridge", 2, topics_every=2))
    for _ in range(10):   # each run and check reads the listing again
        github.script("/orgs/southbridge/repos", Scripted(404, {}, '{"message": "Not Found"}'))
    monkeypatch.setenv("GITHUB_API_URL", github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "")
    return KindCase([{"id": "northbridge", "kind": "github", "org": "northbridge"}],
                    [{"id": "southbridge", "kind": "github", "org": "southbridge"}],
                    "https://github.com/northbridge/service-0000", "https://github.com/northbridge/service-0001",
                    "is not tagged #opengovtech", failing_post="https://github.com/southbridge/service-0000")


def mastodon_case(loopback, tmp_path, monkeypatch) -> KindCase:
    timeline = MastodonTimeline(loopback, "opengovtech")
    tagged = timeline.post("<p>Our open data strategy #OpenGovTech</p>", tags=["OpenGovTech"])
    untagged = timeline.post("<p>Road closures today</p>", tags=[])
    return KindCase([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech"}],
                    [{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtechgone"}],
                    tagged["url"], untagged["url"], "is not tagged #opengovtech")


def bluesky_case(loopback, tmp_path, monkeypatch) -> KindCase:
    search = BlueskySearch(loopback, gone_hashtags=("opengovtechgone",))
    search.posts = [bluesky_post(2, "Road closures today"), bluesky_post(1, "Hello #OpenGovTech", tags=["OpenGovTech"])]
    monkeypatch.setenv("BLUESKY_HANDLE", "")
    source = {"id": "skeets", "kind": "bluesky", "service": search.base}
    return KindCase([{**source, "hashtag": "opengovtech"}], [{**source, "hashtag": "opengovtechgone"}],
                    public_post_url(search.posts[1]["uri"], "council.example"),
                    public_post_url(search.posts[0]["uri"], "council.example"), "is not tagged #opengovtech")


def devto_case(loopback, tmp_path, monkeypatch) -> KindCase:
    base = loopback.url_for("").rstrip("/")
    recorded = json.loads((SOCIAL / "devto_api_articles_by_username.json").read_text(encoding="utf-8"))
    articles = []
    for article, tags in zip(recorded[:2], (["opengovtech", "webdev"], ["webdev"])):
        url = base + urlsplit(article["url"]).path
        articles.append({**article, "url": url, "canonical_url": url, "tag_list": tags, "tags": ", ".join(tags)})
        loopback.expect_request(urlsplit(url).path.replace("/", "/api/articles/", 1)).respond_with_json(articles[-1])

    def listing(request: Request) -> Response:
        if request.args.get("username") != "gereltuyamz":
            return Response('{"error": "not found", "status": 404}', status=404, content_type="application/json")
        return Response(json.dumps(articles), content_type="application/json")

    loopback.expect_request("/api/articles").respond_with_handler(listing)
    source = {"id": "devto", "kind": "devto", "api_url": base}
    return KindCase([{**source, "username": "gereltuyamz"}], [{**source, "username": "nobody", "tag": "opengovtech"}],
                    articles[0]["url"], articles[1]["url"], "is not tagged #opengovtech")


def discourse_case(loopback, tmp_path, monkeypatch) -> KindCase:
    topics = json.loads((SOCIAL / "discourse_latest_topic_list.json").read_text(encoding="utf-8"))
    topics["topic_list"]["more_topics_url"] = None
    loopback.expect_request("/tag/opengovtech.json").respond_with_json(topics)
    first = topics["topic_list"]["topics"][0]
    elsewhere = {**first, "id": 99, "slug": "road-closures", "title": "Road closures"}
    for topic, tags in ((first, ["opengovtech"]), (elsewhere, ["roads"])):
        # A topic's own JSON: the listing's fields, its tags and its first post.
        loopback.expect_request(f"/t/{topic['slug']}/{topic['id']}.json").respond_with_json(
            {**topic, "tags": tags, "post_stream": {"posts": [{"username": "test_user", "created_at": topic["created_at"],
                                                               "cooked": f"<p>{topic['title']}</p>"}]}})
    base = loopback.url_for("").rstrip("/")
    return KindCase([{"id": "forum", "kind": "discourse", "base_url": base, "tag": "opengovtech"}],
                    [{"id": "forum", "kind": "discourse", "base_url": base, "tag": "opengovtechgone"}],
                    f"{base}/t/{first['slug']}/{first['id']}", f"{base}/t/road-closures/99",
                    "is not tagged #opengovtech")


def markdown_case(loopback, tmp_path, monkeypatch) -> KindCase:
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text("title: Council\n", encoding="utf-8")
    for name, tags in (("open-data", "[OpenGovTech]"), ("roads", "[Roads]")):
        (site / "_posts" / f"2026-11-02-{name}.md").write_text(
            f"---\ntitle: {name}\npermalink: /posts/{name}/\ntags: {tags}\n---\nNews about {name}.\n", encoding="utf-8")
        page = f"<html><head><title>{name}</title></head><body><p>News about {name}.</p></body></html>"
        serve_bytes(loopback, f"/site/posts/{name}/", page.encode(), "text/html; charset=utf-8")  # as Jekyll publishes it
    source = {"id": "jekyll", "kind": "markdown", "site_url": loopback.url_for("/site/")}
    return KindCase([{**source, "directory": str(site)}], [{**source, "directory": str(tmp_path / "gone")}],
                    loopback.url_for("/site/posts/open-data/"), loopback.url_for("/site/posts/roads/"),
                    "is in the source jekyll's files but not tagged")


KIND_CASES = {"feed": feed_case, "blog": blog_case, "page": page_case, "github": github_case,
              "mastodon": mastodon_case, "bluesky": bluesky_case, "devto": devto_case,
              "discourse": discourse_case, "markdown": markdown_case}


def check_in_process(hub, url: str):
    from pipelines.app.pickup_check import check_url
    from pipelines.config import load_registry

    return check_url(url, load_registry(hub.sources_path), hub.warehouse_path)


def in_hub(hub, url: str) -> dict | None:
    """The hub item check finds for the URL (by its own URL, canonical URL or a mention of it)."""
    return check_in_process(hub, url).in_hub


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KIND_CASES))
def test_check_says_what_a_run_then_does_for_every_kind(kind, hub, loopback, tmp_path, monkeypatch):
    case = KIND_CASES[kind](loopback, tmp_path, monkeypatch)
    assert {s["kind"] for s in case.sources + case.failing} == {kind}

    hub.write_sources(case.sources)
    tagged, untagged = check_in_process(hub, case.tagged), check_in_process(hub, case.untagged)
    assert tagged.verdict == "would be picked up on the next run", tagged
    assert untagged.verdict == "would not be picked up", untagged
    assert any(case.untagged_why in reason for reason in untagged.reasons), untagged.reasons
    hub.harvest()
    picked = in_hub(hub, case.tagged)
    assert picked is not None and in_hub(hub, case.untagged) is None
    assert hub.query("SELECT kind FROM hub_items WHERE id = ?", [picked["id"]])[0][0] == tagged.kind

    failing = Hub(tmp_path / "failing")
    failing.root.mkdir()
    failing.write_sources(case.failing)
    post = case.failing_post or case.tagged
    before_run = check_in_process(failing, post)
    failing.harvest()
    source_id = case.failing[0]["id"]
    assert failing.health(source_id)["status"] == "failed"
    after_failure = check_in_process(failing, post)
    for report in (before_run, after_failure):
        assert report.verdict == "would not be picked up", report
    # The page source's content is the post itself: its 404 is the post's.
    why = "not reachable: HTTP 404" if kind == "page" else f"the source {source_id} is failing: its last run ended failed"
    assert any(why in reason for reason in after_failure.reasons), after_failure.reasons
    failing.harvest()
    assert in_hub(failing, post) is None


def test_a_step_by_step_how_to_page_gets_the_classifiers_kind_from_check_and_the_run(hub, loopback):
    # A how-to the classifier calls a technique (its title and its "Step 1 … Step 2" text), which
    # check once reported as a story by a rule of its own.
    how_to = (b"<html><head><title>How to put bin collection days on a map</title>"
              b"<meta property='article:tag' content='OpenGovTech'>"
              b"<meta name='description' content='Step 1: download the collection rounds as CSV. "
              b"Step 2: load them into the map and publish it.'></head><body></body></html>")
    url = serve_bytes(loopback, "/guides/bin-map", how_to, "text/html; charset=utf-8")
    hub.write_sources([{"id": "guides", "kind": "page", "url": url}])
    report = check_in_process(hub, url)
    assert report.verdict == "would be picked up on the next run", report
    assert report.kind == "technique"
    hub.harvest()
    picked = in_hub(hub, url)
    assert hub.query("SELECT kind FROM hub_items WHERE id = ?", [picked["id"]])[0][0] == "technique"


def test_a_story_shared_by_a_post_answers_to_the_post_and_a_post_is_tagged_by_the_run_s_rule():
    from pipelines.app.pickup_check import record_urls, tagged_reasons
    from pipelines.config import MastodonSource
    from pipelines.sources import mastodon
    from pipelines.sources.mentions import preview_record
    from tests.social_servers import recorded_status

    source = MastodonSource(id="toots", kind="mastodon", instance="https://mastodon.example", hashtag="opengovtech")
    status = {**recorded_status(), "url": "https://mastodon.example/@council/1", "content": "<p>Our map #OpenGovTech</p>",
              "tags": [{"name": "OpenGovTech"}], "card": {"url": "https://council.example/blog/map"}}
    facts, _ = mastodon.post_facts(source, status, ["opengovtech"], [])
    story = preview_record(facts, "https://council.example/blog/map", "mention:1")
    assert {"https://council.example/blog/map", "https://mastodon.example/@council/1"} <= record_urls(story)
    assert tagged_reasons(story, ["opengovtech"]) == \
        ["hashtag #OpenGovTech on the Mastodon post https://mastodon.example/@council/1"]
    assert tagged_reasons(story, ["civictech"]) == []
