"""kind: mastodon over Mastodon's API served on 127.0.0.1 from the Mastodon.py recordings."""

from __future__ import annotations

import json

from tests.conftest import serve_bytes, serve_file
from tests.social_servers import MastodonTimeline, RecordedAPI, corpus_page

RECORDED_TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"


def test_recorded_tag_timeline_is_read_back_to_the_last_seen_post_only(hub, loopback):
    """Mastodon.py's recording of a 30-post tag timeline paged by Link rel=next (10 a page)."""
    api = RecordedAPI(loopback, "mastodon_hashtag_timeline_paginated_vcr.yaml")
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": api.base, "hashtag": RECORDED_TAG}])
    hub.harvest()
    first_run = [r for r in api.requests if "/timelines/tag/" in r]
    assert len(first_run) == 4  # three pages of ten, then the empty page that ends the timeline
    rows = hub.query("SELECT title, author, match_reasons, url FROM hub_items ORDER BY published_at")
    assert len(rows) == 30
    assert rows[0][0] == "Toot number 0! #fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
    assert rows[0][1] == "@mastodonpy_test_2@127.0.0.1"
    assert rows[0][2][0].startswith(f"hashtag #{RECORDED_TAG} on the Mastodon post ")
    assert rows[0][3].startswith(api.base + "/@mastodonpy_test_2/")
    state = json.loads(hub.query("SELECT state_json FROM source_state WHERE source_id = 'toots'")[0][0])
    assert state["last_id"] == "117020581413876942"  # the newest recorded post

    api.requests.clear()
    hub.harvest()
    assert [r for r in api.requests if "/timelines/tag/" in r] == [f"/api/v1/timelines/tag/{RECORDED_TAG}?limit=40"]
    assert hub.health("toots")["status"] == "not_modified"
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 30


def test_second_run_reads_only_new_posts_and_stops_at_the_last_seen_id(hub, loopback):
    timeline = MastodonTimeline(loopback, "opengovtech")
    for n in range(45):
        timeline.post(f"<p>Update {n} from the council #OpenGovTech</p>", tags=["opengovtech"])
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "OpenGovTech"}])
    hub.harvest()
    assert len(timeline.requests) == 3  # 40 + 5 + the empty page
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 45

    timeline.requests.clear()
    for n in range(3):
        timeline.post(f"<p>Newer post {n} #OpenGovTech</p>", tags=["OpenGovTech"])
    hub.harvest()
    assert len(timeline.requests) == 1  # the first page holds the last post seen: no further pages
    assert hub.health("toots")["items_seen"] == 3
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 48


def test_spent_rate_limit_stops_the_source_keeps_what_was_read_and_rereads_next_run(hub, loopback):
    timeline = MastodonTimeline(loopback, "opengovtech", remaining=1, reset="2099-01-01T00:00:00.000Z")
    for n in range(60):
        timeline.post(f"<p>Post {n} #OpenGovTech</p>", tags=["opengovtech"])
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech"},
                       {"id": "other", "kind": "feed", "url": serve_file(
                           loopback, "/feed.xml", corpus_page("../feeds/data_blog_gov_uk_trimmed.atom").resolve())}])
    hub.harvest()
    # The first page said one request was left, the second said none: no third is sent.
    assert len(timeline.requests) == 2
    health = hub.health("toots")
    assert health["status"] == "deferred"
    assert "rate limited until 00:00 UTC" in health["error"] and "kept the 60 posts" in health["error"]
    assert health["next_attempt_at"].year == 2099
    assert hub.query("SELECT count(*) FROM hub_items WHERE list_contains(source_ids, 'toots')")[0][0] == 60
    assert hub.health("other")["status"] == "ok"  # another source is not held up
    state = json.loads(hub.query("SELECT state_json FROM source_state WHERE source_id = 'toots'")[0][0])
    assert state["last_id"] is None  # not finished: the next run reads from the top again


def test_boost_and_original_become_one_item(hub, loopback):
    timeline = MastodonTimeline(loopback, "opengovtech")
    original = timeline.post("<p>We opened our bin collection data #OpenGovTech</p>", tags=["OpenGovTech"],
                             acct="leedsbins")
    timeline.post("", tags=[], acct="civictech", boost_of=original)
    timeline.post("", tags=[], acct="odileeds", boost_of=original)
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech"}])
    hub.harvest()
    rows = hub.query("SELECT title, author, url, match_reasons FROM hub_items")
    assert len(rows) == 1
    title, author, url, reasons = rows[0]
    assert title == "We opened our bin collection data #OpenGovTech"
    assert author == "@leedsbins@127.0.0.1" and url == original["url"]
    assert any(r.startswith("boosted by @civictech@127.0.0.1, @odileeds@127.0.0.1") for r in reasons)


def test_post_sharing_a_page_becomes_that_story_with_the_post_as_mention(hub, loopback):
    page = serve_file(loopback, "/blog/spiceland", corpus_page("traf_github.blog.spiceland.html"))
    timeline = MastodonTimeline(loopback, "opengovtech")
    post = timeline.post(f'<p>Our leader spotlight <a href="{page}">{page}</a> '
                         f'<a href="{timeline.base}/tags/OpenGovTech" class="mention hashtag" rel="tag">'
                         '#<span>OpenGovTech</span></a></p>', tags=["OpenGovTech"], card_url=page, acct="github")
    # The same page, later, in a blog feed (its entry links the canonical URL the page names).
    feed = ('<?xml version="1.0"?><rss version="2.0"><channel><title>The GitHub Blog</title>'
            '<link>https://github.blog/</link><item><title>Leader spotlight: Erin Spiceland</title>'
            '<link>https://github.blog/2019-03-29-leader-spotlight-erin-spiceland/</link>'
            '<category>OpenGovTech</category><pubDate>Fri, 29 Mar 2019 16:00:49 +0000</pubDate>'
            '<description>Erin Spiceland on leading teams.</description></item></channel></rss>')
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech"}])
    hub.harvest()
    rows = hub.query("SELECT id, title, url, published_at, organisation, mentions, match_reasons, source_ids "
                     "FROM hub_items")
    assert len(rows) == 1
    item_id, title, url, published, organisation, mentions, reasons, sources = rows[0]
    assert title == "Leader spotlight: Erin Spiceland"           # the page's og:title, not the toot
    assert url == "https://github.blog/2019-03-29-leader-spotlight-erin-spiceland/"  # its rel=canonical
    assert published.isoformat().startswith("2019-03-29T16:00:49")
    assert organisation == "The GitHub Blog"
    mention = json.loads(mentions[0])
    assert mention["platform"] == "mastodon" and mention["url"] == post["url"]
    assert mention["author"] == "@github@127.0.0.1" and mention["posted_at"].startswith("2026-08-01")
    assert reasons[0].startswith("hashtag #OpenGovTech on the Mastodon post")

    from pipelines.publish.site import build_site_from_file
    build_site_from_file(hub.warehouse_path, hub.root / "site", search=False)
    item_page = (hub.root / "site" / "items" / item_id / "index.html").read_text(encoding="utf-8")
    assert f'<a href="{post["url"]}" rel="noopener noreferrer nofollow">@github@127.0.0.1</a> on Mastodon, 2026-08-01' \
        in item_page

    feed_url = serve_bytes(loopback, "/github-blog.rss", feed.encode(), "application/rss+xml")
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech"},
                       {"id": "github-blog", "kind": "feed", "url": feed_url}])
    hub.harvest()
    rows = hub.query("SELECT id, title, source_ids, mentions, summary FROM hub_items")
    assert len(rows) == 1
    assert rows[0][0] == item_id
    assert rows[0][2] == ["github-blog", "toots"]
    assert len(rows[0][3]) == 1
    assert rows[0][4] == "Erin Spiceland on leading teams."  # the feed's own record represents the item


def test_unreadable_shared_page_keeps_the_mention_from_the_card(hub, loopback):
    loopback.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    timeline = MastodonTimeline(loopback, "opengovtech")
    blocked = loopback.url_for("/private/report")
    timeline.post(f'<p>Annual report <a href="{blocked}">{blocked}</a> #OpenGovTech</p>', tags=["opengovtech"],
                  card_url=blocked)
    hub.write_sources([{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech"}])
    hub.harvest()
    rows = hub.query("SELECT url, title, mentions FROM hub_items")
    assert rows[0][0] == blocked and rows[0][1].startswith("Annual report")
    assert len(rows[0][2]) == 1
    assert "robots.txt" in hub.health("toots")["warning"]


def test_account_source_keeps_only_tagged_posts(hub, loopback):
    timeline = MastodonTimeline(loopback, "unused")
    tagged = timeline.post("<p>Our open data portal is live #OpenGovTech</p>", tags=["OpenGovTech"], acct="council")
    timeline.post("<p>Bins are late this week</p>", tags=[], acct="council")
    account_statuses = list(timeline.statuses)
    loopback.expect_request("/api/v1/accounts/lookup").respond_with_json({"id": "42", "acct": "council"})
    loopback.expect_request("/api/v1/accounts/42/statuses").respond_with_json(account_statuses)
    host = timeline.base.split("//", 1)[1]
    hub.write_sources([{"id": "council", "kind": "mastodon", "account": f"@council@{host.split(':')[0]}.test",
                        "instance": timeline.base}])
    hub.harvest()
    assert hub.query("SELECT url FROM hub_items") == [(tagged["url"],)]
    assert "skipped 1 posts without the tags" in hub.health("council")["warning"]
