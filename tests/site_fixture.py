"""A hub built from real corpus feeds plus hostile input, and its site: shared by the site tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from pipelines.publish.site import build_site_from_file
from pipelines.publish.site.build import SiteBuild
from pipelines.store.warehouse import open_for_writing
from tests.conftest import Hub, corpus_feed_sources, serve_bytes
from tests.test_hostile_input import HOSTILE_HTML

SITE_FEEDS = {
    "data-blog": ("data_blog_gov_uk_trimmed.atom", "Government Digital Service"),
    "gov-scot": ("news_gov_scot_trimmed.rss", "Scottish Government"),
    "npr": ("jsonfeed_npr_technology.json", "NPR"),
    "cloudblog": ("google_cloudblog.rss", "Google Cloud"),
}
KNOWN_PHRASE = "internet culture"   # in a data.blog.gov.uk title of the corpus feed
KNOWN_TITLE = "What open government policy can learn from internet culture"
HOSTILE_ITEM_ID = "hostile-written-directly"
# A category entity-escaped twice in the feed: feedparser hands back "&quot;&gt;&lt;img …&gt;".
HIDDEN_MARKUP = '"><img src=x onerror=alert(9)>'

# What an older or buggier writer could have left in the warehouse: the site must render it inert.
DIRECT_HOSTILE = {
    "title": 'Direct "><script>window.__pwned=1;alert(1)</script><img src=x onerror=alert(2)> title',
    "url": "javascript:alert(3)",
    "summary": "<svg onload=alert(4)> summary </script><script>alert(5)</script>",
    "content_html": HOSTILE_HTML + '<a href="javascript:alert(6)">x</a><img src="https://evil.example/pixel.gif">',
    "organisation": "<b onmouseover=alert(7)>Evil Org</b>",
    "tags": ["<script>alert(8)</script>", "hostile"],
}


@dataclass
class BuiltSite:
    hub: Hub
    build: SiteBuild

    @property
    def root(self) -> Path:
        return self.build.path

    def read(self, path: str) -> str:
        return (self.root / path).read_text(encoding="utf-8")

    def item_id(self, title: str) -> str:
        (item_id,), = self.hub.query("SELECT id FROM hub_items WHERE title = ?", [title])
        return item_id


def build_corpus_site(root: Path, server) -> BuiltSite:
    hub = Hub(root)
    sources = corpus_feed_sources(server, "site", SITE_FEEDS)
    hostile_feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Harvested hostile post</title><link>http://council.example/hostile</link>
<category>hostile</category><category>{escape(escape(HIDDEN_MARKUP))}</category><description>{escape(HOSTILE_HTML)}</description></item></channel></rss>""".encode()
    sources.append({"id": "hostile-feed", "kind": "feed", "tagged_only": False, "org": "Hostile Org",
                    "url": serve_bytes(server, "/site/hostile.rss", hostile_feed, "application/rss+xml")})
    sources.append({"id": "gone", "kind": "feed", "tagged_only": False, "org": "Gone Council",
                    "url": server.url_for("/site/missing.rss")})
    hub.write_sources(sources)
    hub.harvest()
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with open_for_writing(hub.warehouse_path, "site-fixture") as warehouse:
        warehouse.con.execute(
            """INSERT INTO items (id, kind, title, url, summary, content_html, content_text, organisation, published_at,
                                  tags, source_ids, match_reasons, first_seen_at, last_seen_at)
               VALUES (?, 'story', ?, ?, ?, ?, 'hostile text', ?, ?, ?, ['hostile-feed'], ['written directly'], ?, ?)""",
            [HOSTILE_ITEM_ID, DIRECT_HOSTILE["title"], DIRECT_HOSTILE["url"], DIRECT_HOSTILE["summary"],
             DIRECT_HOSTILE["content_html"], DIRECT_HOSTILE["organisation"], now, DIRECT_HOSTILE["tags"], now, now])
    build = build_site_from_file(hub.warehouse_path, root / "site")
    return BuiltSite(hub=hub, build=build)


def jsonld_of(page_html: str) -> dict:
    start = page_html.index('<script type="application/ld+json">') + len('<script type="application/ld+json">')
    return json.loads(page_html[start:page_html.index("</script>", start)])
