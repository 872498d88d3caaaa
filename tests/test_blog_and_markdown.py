"""kinds blog (tag-feed discovery) and markdown (Jekyll collections) on real pages, feeds and
opengovtech.org's own files, served from 127.0.0.1 or read in place."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CORPUS, SHARED, serve_bytes, serve_file
from tests.social_servers import corpus_page

FEEDS = CORPUS / "feeds"
OPENGOVTECH = CORPUS / "pages" / "opengovtech"


# --- blog ---------------------------------------------------------------------------------

def test_wordpress_blog_tag_feed_is_found_recorded_and_read_directly_next_run(hub, loopback):
    serve_file(loopback, "/", corpus_page("traf_wikimediafoundation.org.turkey.html"))  # generator WordPress 5.3.2
    tag_feed = serve_file(loopback, "/tag/opengovtech/feed/", FEEDS / "wordpress_manton.rss")
    hub.write_sources([{"id": "wp", "kind": "blog", "url": loopback.url_for("/"), "tag": "OpenGovTech"}])
    hub.harvest()
    health = hub.health("wp")
    assert health["status"] == "ok" and health["feed_url"] == tag_feed
    assert "(platform: wordpress)" in health["warning"]
    reasons = hub.query("SELECT match_reasons FROM hub_items")
    assert len(reasons) == 10
    assert all(r[0][-1] == f"listed in the blog's 'OpenGovTech' tag feed {tag_feed}" for r in reasons)

    loopback.clear()  # the home page is gone: the recorded feed URL is read directly, and answers 304
    loopback.no_handler_status_code = 404
    serve_file(loopback, "/tag/opengovtech/feed/", FEEDS / "wordpress_manton.rss")
    hub.harvest()
    assert hub.health("wp")["status"] == "not_modified"
    assert [r.path for r, _ in loopback.log if r.path != "/robots.txt"] == ["/tag/opengovtech/feed/"]


def test_blogger_label_feed(hub, loopback):
    serve_file(loopback, "/", corpus_page("traf_blog.python.org.html"))  # <meta name=generator content=blogger>
    label_feed = serve_file(loopback, "/feeds/posts/default/-/OpenGovTech", FEEDS / "feedburner_blogger.atom")
    hub.write_sources([{"id": "blogger", "kind": "blog", "url": loopback.url_for("/"), "tag": "OpenGovTech"}])
    hub.harvest()
    assert hub.health("blogger")["feed_url"] == label_feed, hub.health("blogger")
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] > 0


def test_medium_publication_on_its_own_domain(hub, loopback):
    serve_file(loopback, "/", corpus_page("readability_medium-3.html"))  # og:site_name Medium
    tagged = serve_file(loopback, "/feed/tagged/opengovtech", FEEDS / "medium_tag_feed_content_encoded.rss")
    hub.write_sources([{"id": "medium", "kind": "blog", "url": loopback.url_for("/")}])
    hub.harvest()
    assert hub.health("medium")["feed_url"] == tagged
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 7


def test_unknown_platform_falls_back_to_the_site_feed_filtered_by_tag(hub, loopback):
    page = corpus_page("rsparser_inessential.html").read_bytes()
    page = page.replace(b"http://inessential.com/xml/rss.xml", loopback.url_for("/xml/rss.xml").encode())
    serve_bytes(loopback, "/", page, "text/html; charset=utf-8")
    site_feed = serve_file(loopback, "/xml/rss.xml", FEEDS / "hugo_rubenerd.rss")
    hub.write_sources([{"id": "ines", "kind": "blog", "url": loopback.url_for("/"), "tag": "hardware"}])
    hub.harvest()
    health = hub.health("ines")
    assert health["feed_url"] == site_feed
    assert "read the site feed" in health["warning"] and "4 of 10 entries carry the tag 'hardware'" in health["warning"]
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 4


@pytest.mark.parametrize("home, platform, expected", [
    ("https://blog.example.gov.uk/", "wordpress", ["https://blog.example.gov.uk/tag/opengovtech/feed/",
                                                   "https://blog.example.gov.uk/category/opengovtech/feed/"]),
    ("https://digital.example.org/", "ghost", ["https://digital.example.org/tag/opengovtech/rss/"]),
    ("https://site.example/", "hugo", ["https://site.example/tags/opengovtech/index.xml",
                                       "https://site.example/categories/opengovtech/index.xml"]),
    ("https://medium.com/@councildigital", "medium", ["https://medium.com/feed/@councildigital/tagged/opengovtech"]),
    ("https://medium.com/", "medium", ["https://medium.com/feed/tag/opengovtech"]),
    ("https://x.github.io/", "jekyll", ["https://x.github.io/feed/by_tag/opengovtech.xml"]),
])
def test_tag_feed_locations_per_platform(home, platform, expected):
    from pipelines.sources.blog import tag_feed_candidates

    assert tag_feed_candidates(home, platform, "OpenGovTech") == expected


# --- markdown: opengovtech.org's repository through the GitHub API --------------------------

REPO_FILES = {  # corpus file -> its path in odileeds/OpenGovTech (see MANIFEST.md)
    **{f.name: f"_assets/{f.name.removeprefix('assets_')}" for f in OPENGOVTECH.glob("assets_*.md")},
    **{f.name: f"_contributors/{f.name.removeprefix('contributors_')}" for f in OPENGOVTECH.glob("contributors_*.md")},
    "post_2019-10-07-futuregov-designing-21st-century-government.md":
        "_posts/2019-10-07-futuregov-designing-21st-century-government.md",
    "_config.yml": "_config.yml", "index.md": "index.md", "manifesto.md": "manifesto.md",
}


def serve_opengovtech_repo(server) -> list[str]:
    """odileeds/OpenGovTech's files as GitHub's trees and contents APIs serve them (schema as documented;
    the file bodies are the real ones)."""
    import hashlib

    tree = [{"path": path, "type": "blob", "mode": "100644", "size": (OPENGOVTECH / name).stat().st_size,
             "sha": hashlib.sha1((OPENGOVTECH / name).read_bytes()).hexdigest()} for name, path in REPO_FILES.items()]
    server.expect_request("/repos/odileeds/OpenGovTech").respond_with_json(
        {"full_name": "odileeds/OpenGovTech", "default_branch": "master"})
    server.expect_request("/repos/odileeds/OpenGovTech/git/trees/master", query_string="recursive=1") \
        .respond_with_json({"sha": "64d37a02", "tree": tree, "truncated": False})
    contents = []
    for name, path in REPO_FILES.items():
        server.expect_request(f"/repos/odileeds/OpenGovTech/contents/{path}", query_string="ref=master") \
            .respond_with_data((OPENGOVTECH / name).read_bytes(), content_type="application/vnd.github.raw")
        contents.append(path)
    return contents


def test_opengovtech_org_repository_collections_become_stories_assets_and_organisations(hub, loopback, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", loopback.url_for("").rstrip("/"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    serve_opengovtech_repo(loopback)
    hub.write_sources([{"id": "opengovtech-org", "kind": "markdown", "repo": "odileeds/OpenGovTech",
                        "site_url": "https://opengovtech.org/", "tagged_only": False}])
    hub.harvest()
    kinds = dict(hub.query("SELECT kind, count(*) FROM hub_items GROUP BY kind"))
    assert kinds == {"asset": 6, "community": 4, "story": 1}  # index.md and manifesto.md are site pages
    url, organisation, details, published, asset_type = hub.query(
        "SELECT url, organisation, details, published_at, asset_type FROM hub_items "
        "WHERE title = 'Business Rates Dashboard'")[0]
    assert url == "https://odileeds.org/projects/business-rates/"    # its external_url
    facts = json.loads(details)
    assert facts["originator"] == ["odi-leeds"] and facts["date_checked"].startswith("2019-09-26")
    assert facts["page_url"] == "https://opengovtech.org/assets/business-rates-dashboard/"
    assert published.isoformat().startswith("2019-09-26") and asset_type == "tool"   # "Visualisation of …"
    assert organisation == "ODI Leeds"   # originator odi-leeds, the _contributors profile's name
    asset_types = dict(hub.query("SELECT title, asset_type FROM hub_items WHERE kind = 'asset'"))
    assert asset_types["Open Travel Times"] == "repo" and asset_types["HexJSON Format"] == "standard"
    # _contributors profiles are the organisations' records: name, homepage, logo, their items.
    odi = hub.query("SELECT homepage, logo_url, aliases, items, origins FROM hub_organisations "
                    "WHERE name = 'ODI Leeds'")[0]
    assert odi[0] == "https://odileeds.org" and odi[1].endswith("odileeds-white2.svg")
    assert odi[3] >= 5 and "_contributors" in odi[4]
    aliases, items = hub.query("SELECT aliases, items FROM hub_organisations WHERE name = 'Connected Places Catapult'")[0]
    assert aliases == ["cp-catapult"] and items >= 2   # its profile and PlanTech Principles (originator cp-catapult)
    story = hub.query("SELECT url, published_at, content_html FROM hub_items WHERE kind = 'story'")[0]
    # _config.yml's permalink /:categories/:year-:month-:day-:title/ with the front matter's date as
    # written ('2019-10-08 00:00:00 +01:00'), not the file name's
    assert story[0] == "https://opengovtech.org/2019-10-08-futuregov-designing-21st-century-government/"
    assert story[1].isoformat() == "2019-10-07T23:00:00+00:00"          # '2019-10-08 00:00:00 +01:00'
    assert '<a href="https://twitter.com/thomasforth/status/1181146515051618304"' in story[2]
    assert ("dxw digital", "dxw digital") in hub.query(
        "SELECT title, organisation FROM hub_items WHERE kind = 'community'")

    loopback.clear()
    loopback.no_handler_status_code = 404
    serve_opengovtech_repo(loopback)
    hub.harvest()
    assert hub.health("opengovtech-org")["status"] == "not_modified"
    assert not [r for r, _ in loopback.log if "/contents/" in r.path]  # unchanged blobs are not fetched


@pytest.mark.slow  # runs the harvest (parse workers)
def test_local_jekyll_posts_with_hashtag_and_empty_tags(hub):
    hub.write_sources([{"id": "posts", "kind": "markdown", "directory": str(CORPUS / "pages" / "repo_posts"),
                        "tags": ["OpenDataIRL", "GovTech"]}])
    hub.harvest()
    rows = hub.query("SELECT title, tags, match_reasons, published_at, content_text FROM hub_items")
    assert len(rows) == 1  # the Scott Logic draft carries neither tag
    title, tags, reasons, published, text = rows[0]
    assert title == "The Open Data Institute is Integral to the Open Government Partnership"
    assert reasons == ["front matter tag '#OpenDataIRL' in okireland_2013-10-23-open-data-institute-is-integral-to-"
                       "open-government-partnership.md"]
    assert "OpenDataIRL" in tags and published.isoformat() == "2013-10-23T08:44:15+00:00"
    assert "‘All About Open Data’" in text  # &#8216;…&#8217; decoded

    hub.write_sources([{"id": "posts", "kind": "markdown", "directory": str(CORPUS / "pages" / "repo_posts"),
                        "tagged_only": False}])
    hub.harvest()
    tags = hub.query("SELECT tags FROM hub_items WHERE title LIKE 'We need bold%'")[0][0]
    assert "" not in tags and "government procurement" in tags and "delivery" in tags  # category Delivery = tag delivery


@pytest.mark.slow  # runs the harvest (parse workers)
def test_seed_documents_front_matter(hub):
    hub.write_sources([{"id": "seeds", "kind": "markdown", "directory": str(SHARED / "seeds"), "tagged_only": False}])
    hub.harvest()
    rows = dict(hub.query("SELECT title, details FROM hub_items"))
    assert "Help us build an open data community" in rows
    glasgow = json.loads(rows["Glasgow Open Data Group"])
    assert glasgow["location"] == "Glasgow" and glasgow["website"] == "https://glasgowopendata.org"
    assert glasgow["social"]["twitter"] == "GlasgowOpenData"
