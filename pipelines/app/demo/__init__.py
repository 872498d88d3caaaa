"""`opengovtech demo`: the whole pipeline offline, on sample sources that ship with the package.

The samples in `site/` are written for this project (UK public-sector examples; the
organisations are fictional). They are served from a loopback HTTP server on a free port,
and a demo sources.yaml and warehouse are written under the chosen directory, never the
user's own.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

SAMPLE_DIR = Path(__file__).parent / "site"

# path on the sample server, organisation, tagged_only
DEMO_SOURCES = [
    ("northbridge-digital-blog", "/northbridge-digital-blog.rss", "Northbridge City Council", True),
    ("dale-civic-lab", "/civic-lab.atom", "Dale Civic Lab", False),
    ("riverside-data-coop", "/data-coop.json", "Riverside Data Co-operative", True),
    ("fenshire-insight", "/county-insight.html", "Fenshire County Council", False),  # a page: autodiscovery
    ("example-borough-news", "/gone/feed.xml", "Example Borough Council", False),     # broken on purpose: 404
]
# A GitHub organisation, served as files shaped like the GitHub REST API's answers.
DEMO_GITHUB_API_PATH = "/github"
DEMO_GITHUB_SOURCES = [
    {"id": "northbridge-github", "kind": "github", "org": "northbridge-digital",
     "organisation": "Northbridge City Council"},
]
# Social and markdown samples: a Mastodon tag timeline and a dev.to tag listing, served as files
# shaped like those APIs' answers, and a Jekyll site read from the package directory.
DEMO_SOCIAL_SOURCES = [
    # follow_links is off: the shared pages are on northbridge.example, which the demo does not serve;
    # the link previews stand in, and the toots become mentions of the blog's own posts.
    {"id": "northbridge-mastodon", "kind": "mastodon", "instance": "{base}/mastodon", "hashtag": "OpenGovTech",
     "follow_links": False},
    {"id": "devto-opengovtech", "kind": "devto", "tag": "opengovtech", "api_url": "{base}/devto"},
    # Bluesky's searchPosts and a Discourse forum's tag, as files shaped like those APIs' answers.
    {"id": "bluesky-opengovtech", "kind": "bluesky", "hashtag": "opengovtech", "service": "{base}/bluesky",
     "follow_links": False},
    {"id": "north-civic-forum", "kind": "discourse", "base_url": "{base}/discourse", "tag": "opengovtech"},
    # A Hugo blog: the platform is found from its generator meta, then its tag feed.
    {"id": "riverside-digital-blog", "kind": "blog", "url": "{base}/blog/", "tag": "opengovtech",
     "org": "Riverside Borough Council"},
    # One page with article:tag and a schema.org Event.
    {"id": "dale-open-data-surgery", "kind": "page", "url": "{base}/pages/open-data-surgery.html",
     "org": "Dale Civic Lab"},
]
DEMO_MARKDOWN_SOURCE = {"id": "northern-civic-tech-network", "kind": "markdown",
                        "site_url": "https://civictech-north.example/", "tagged_only": False}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@dataclass
class SampleServer:
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_sample_server() -> SampleServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(SAMPLE_DIR)))
    thread = threading.Thread(target=server.serve_forever, name="demo-sample-server", daemon=True)
    thread.start()
    return SampleServer(server, thread)


def demo_directory(out: Path | None) -> Path:
    directory = Path(out) if out else Path(tempfile.mkdtemp(prefix="opengovtech-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory.resolve()


def write_demo_sources(directory: Path, base_url: str) -> Path:
    sources = [
        {"id": source_id, "kind": "feed", "url": base_url + path, "org": org, "tagged_only": tagged_only,
         # the sample server is on loopback; only these demo sources may reach it
         "allow_private_networks": True}
        for source_id, path, org, tagged_only in DEMO_SOURCES
    ] + [{**source, "allow_private_networks": True} for source in DEMO_GITHUB_SOURCES] + [
        {**{k: v.format(base=base_url) if isinstance(v, str) else v for k, v in source.items()},
         "allow_private_networks": True} for source in DEMO_SOCIAL_SOURCES
    ] + [{**DEMO_MARKDOWN_SOURCE, "directory": str(SAMPLE_DIR / "jekyll")}]
    document = {
        "defaults": {"tags": ["opengovtech"], "retries": 0, "timeout_s": 10},
        "sources": sources,
    }
    path = directory / "sources.yaml"
    path.write_text("# Written by `opengovtech demo`: sample sources served from 127.0.0.1.\n"
                    + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def prepare(out: Path | None) -> tuple[Path, Path, Path]:
    """The demo directory, its sources.yaml path and its warehouse path (Dagster home beside it)."""
    directory = demo_directory(out)
    warehouse = directory / "warehouse" / "hub.duckdb"
    os.environ["DAGSTER_HOME"] = str(warehouse.parent / "dagster")  # never the user's own instance
    os.environ.pop("GITHUB_TOKEN", None)  # the user's token has no business with the sample server
    return directory, directory / "sources.yaml", warehouse


def point_github_at(server: "SampleServer") -> None:
    os.environ["GITHUB_API_URL"] = server.base_url + DEMO_GITHUB_API_PATH
