"""`opengovtech check URL`: the verdict, reasons and proposed entry, on real pages served from 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, serve_bytes, serve_file
from tests.social_servers import MastodonTimeline, corpus_page

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
    assert result.returncode == 0 and "tag found:       hashtag #OpenGovTech on the post" in result.stdout
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
