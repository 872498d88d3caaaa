"""The hub the judged search queries are written against (tests/data/search_judgements.yaml).

Real corpus feeds served on 127.0.0.1, the seed pages, two Markdown posts and opengovtech.org's
catalogue (laid out as the Jekyll site it comes from), harvested through the real pipeline.
Judgements name items by URL, so they hold for any warehouse built from these sources.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import CORPUS, SHARED, Hub, corpus_feed_sources

RELEVANCE_FEEDS = {
    "data-blog": ("data_blog_gov_uk_trimmed.atom", "Government Digital Service"),
    "gov-scot": ("news_gov_scot_trimmed.rss", "Scottish Government"),
    "npr": ("jsonfeed_npr_technology.json", "NPR"),
    "cloudblog": ("google_cloudblog.rss", "Google Cloud"),
    "thoughtbot": ("feedburner_thoughtbot_robots.atom", "thoughtbot"),
    "hackernews": ("hackernews_comments.rss", "Hacker News"),
}
OPENGOVTECH = CORPUS / "pages" / "opengovtech"


def opengovtech_site(into: Path) -> Path:
    """opengovtech.org's files in their Jekyll folders (the corpus keeps them flat, prefixed by folder)."""
    into.mkdir(parents=True, exist_ok=True)
    for file in OPENGOVTECH.iterdir():
        folder, _, rest = file.name.partition("_")
        target = {"assets": into / "_assets" / rest, "contributors": into / "_contributors" / rest,
                  "post": into / "_posts" / rest}.get(folder, into / file.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    return into


def build_relevance_hub(root: Path, server) -> Hub:
    hub = Hub(root)
    sources = corpus_feed_sources(server, "relevance", RELEVANCE_FEEDS)
    sources += [
        {"id": "seeds", "kind": "markdown", "directory": str(SHARED / "seeds"), "tagged_only": False},
        {"id": "posts", "kind": "markdown", "directory": str(CORPUS / "pages" / "repo_posts"), "tagged_only": False},
        {"id": "opengovtech-org", "kind": "markdown", "directory": str(opengovtech_site(root / "opengovtech-org")),
         "site_url": "https://opengovtech.org/", "tagged_only": False},
    ]
    hub.write_sources(sources)
    report = hub.harvest()
    failed = [c.source_id for c in report.counts if c.status != "ok"]
    assert not failed, f"relevance hub sources failed: {failed}"
    return hub
