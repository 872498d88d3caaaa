"""Tag detection on real feeds: which entries a tagged_only source keeps, and why."""

from __future__ import annotations

from pipelines.parse.tags import find_tag_matches, first_wanted, normalise_tag, post_tag_reasons
from tests.conftest import CORPUS, serve_bytes, serve_file

MANTON = CORPUS / "feeds" / "wordpress_manton.rss"


def test_tag_variants_normalise_to_one():
    assert {normalise_tag(t) for t in ("OpenGovTech", "#OpenGovTech", "open-gov-tech", "Open Gov Tech")} == {"opengovtech"}


def test_one_tag_rule_for_a_platform_s_tags_and_a_post_s_text():
    assert first_wanted(["OpenGovTech"], ["webdev", "open-gov-tech", "opengovtech"]) == "open-gov-tech"
    assert first_wanted(["OpenGovTech"], ["webdev"]) is None
    post = "Bluesky post https://bsky.app/profile/a.example/post/1"
    # A tag the platform attached wins over a hashtag in the text; a hashtag in a URL is no tag.
    assert post_tag_reasons(["opengovtech"], tags=["OpenGovTech"], text="#opengovtech", post=post) == [
        f"hashtag #OpenGovTech on the {post}"]
    assert post_tag_reasons(["opengovtech"], tags=["maps"], text="Bins on a map #Open_Gov_Tech", post=post) == [
        f"hashtag #Open_Gov_Tech in the text of the {post}"]
    assert post_tag_reasons(["opengovtech"], tags=[], text="https://x.example/#opengovtech", post=post) == []


def test_hashtags_inside_urls_and_entities_are_not_tags():
    assert find_tag_matches(["opengovtech"], content="see https://x.example/page#opengovtech and &#35;opengovtech") == []
    assert find_tag_matches(["opengovtech"], content="Our new project (#OpenGovTech) is live") == [
        "hashtag #OpenGovTech in content"]


def test_category_match_keeps_only_tagged_entries(loopback, hub):
    serve_file(loopback, "/data.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    serve_file(loopback, "/scot.rss", CORPUS / "feeds" / "news_gov_scot_trimmed.rss")
    hub.write_sources([
        {"id": "data-blog", "kind": "feed", "url": loopback.url_for("/data.atom"), "tags": ["open-data"]},
        {"id": "scot", "kind": "feed", "url": loopback.url_for("/scot.rss"), "tags": ["communities"]},
    ])
    report = hub.harvest()
    assert {c.source_id: c.fetched for c in report.counts} == {"data-blog": 1, "scot": 2}
    rows = hub.query("SELECT source_ids[1], match_reasons FROM hub_items ORDER BY 1")
    assert rows == [("data-blog", ["category 'Open Data'"]), ("scot", ["category 'Communities'"])]


def test_hashtag_in_title_is_found_and_untagged_entries_are_left_out(loopback, hub):
    # A real WordPress feed whose first post (an untitled micro-post) gets a tagged title,
    # as a publisher would write it.
    body = MANTON.read_bytes()
    head, first_item, rest = body.partition(b"<title></title>")
    assert first_item, "the corpus file changed"
    tagged = head + b"<title>Our bins dashboard #OpenGovTech</title>" + rest
    serve_bytes(loopback, "/manton.rss", tagged, "application/rss+xml")
    hub.write_sources([{"id": "manton", "kind": "feed", "url": loopback.url_for("/manton.rss")}])
    report = hub.harvest()
    assert report.counts[0].fetched == 10
    rows = hub.query("SELECT title, match_reasons, tags FROM hub_items")
    assert len(rows) == 1
    title, reasons, tags = rows[0]
    assert title == "Our bins dashboard #OpenGovTech"
    assert reasons == ["hashtag #OpenGovTech in title"]
    assert "OpenGovTech" in tags
    (kept_raw,) = hub.query("SELECT count(*) FROM raw_entries WHERE NOT matched")[0]
    assert kept_raw == 9  # untagged entries are kept raw (for `check` and re-normalising), not published


def test_on_topic_source_says_so_in_match_reasons(loopback, hub):
    serve_file(loopback, "/manton.rss", MANTON)
    hub.write_sources([{"id": "manton", "kind": "feed", "url": loopback.url_for("/manton.rss"), "tagged_only": False}])
    hub.harvest()
    reasons = {tuple(r) for (r,) in hub.query("SELECT match_reasons FROM hub_items")}
    assert reasons == {("source is on topic as a whole (tagged_only: false)",)}
