"""Mastodon benchmark: a busy hashtag timeline, first run against later runs.

Serves a loopback Mastodon tag timeline (tests/social_servers.py: posts copied from a recorded
status entity, paged as the recorded timeline is) with `--posts` posts, every fifth sharing a
page (a real corpus page, one path per post), and measures:

  (a) floor: a plain httpx client GETting every URL the first run needs (each timeline page,
      each shared page), two at a time, doing nothing with the bodies;
  (b) the mastodon harvest on a fresh warehouse (pages parsed, mentions built, rows written);
  (c) the harvest again with nothing new;
  (d) the harvest after 50 new posts.

Prints requests and time for each, and (b)/(a). Target: (c) is one request, (d) two.

    python bench/social.py --posts 2000
"""

from __future__ import annotations

import argparse
import re
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_httpserver import HTTPServer  # noqa: E402

from tests.social_servers import MastodonTimeline, corpus_page  # noqa: E402

from measure import floor  # noqa: E402

PAGE = corpus_page("traf_github.blog.spiceland.html").read_bytes()


class PageHits:
    def __init__(self):
        self.count = 0

    def __call__(self, request):
        from werkzeug import Response

        self.count += 1
        # One canonical URL per path, so every shared page is its own story.
        body = PAGE.replace(b"2019-03-29-leader-spotlight-erin-spiceland/", request.path.strip("/").encode() + b"/")
        return Response(body, content_type="text/html; charset=utf-8")


def harvest(root: Path) -> tuple[float, int]:
    from pipelines.config import load_registry
    from pipelines.sources.harvester import harvest_kind
    from pipelines.store.warehouse import open_for_writing

    registry = load_registry(root / "sources.yaml")
    started = time.perf_counter()
    with open_for_writing(root / "hub.duckdb", "bench") as warehouse:
        warehouse.sync_sources(registry.rows())
        report = harvest_kind(registry, warehouse, kind="mastodon", run_id=f"bench-{time.time()}")
    return time.perf_counter() - started, report.counts[0].new


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2000)
    args = parser.parse_args()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.no_handler_status_code = 404
    server.start()
    pages = PageHits()
    server.expect_request(re.compile(r"^/shared/.*")).respond_with_handler(pages)
    timeline = MastodonTimeline(server, "opengovtech")
    for n in range(args.posts):
        if n % 5 == 0:
            link = server.url_for(f"/shared/{n}")
            timeline.post(f'<p>Post {n} <a href="{link}">{link}</a> #OpenGovTech</p>', tags=["OpenGovTech"],
                          card_url=link)
        else:
            timeline.post(f"<p>Post {n} #OpenGovTech</p>", tags=["OpenGovTech"])
    page_urls = [server.url_for(f"/shared/{n}") for n in range(0, args.posts, 5)]
    timeline_urls = [f"{timeline.base}/api/v1/timelines/tag/opengovtech?limit=40"] + [
        f"{timeline.base}/api/v1/timelines/tag/opengovtech?limit=40&max_id={timeline.statuses[i - 1]['id']}"
        for i in range(40, args.posts + 1, 40)]
    try:
        floor_s = asyncio.run(floor(timeline_urls + page_urls))
        floor_requests = len(timeline_urls) + len(page_urls)
        timeline.requests.clear()
        pages.count = 0
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "sources.yaml").write_text(yaml.safe_dump({
                "defaults": {"allow_private_networks": True},
                "sources": [{"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "OpenGovTech",
                             "max_pages": 1000}]}))
            runs = []
            for label in ("(b) first run", "(c) nothing new", "(d) 50 new posts"):
                if label.startswith("(d)"):
                    for n in range(50):
                        timeline.post(f"<p>Newer {n} #OpenGovTech</p>", tags=["OpenGovTech"])
                timeline.requests.clear()
                pages.count = 0
                seconds, new = harvest(root)
                runs.append((label, len(timeline.requests) + pages.count, seconds, new))
        print(f"posts: {args.posts} ({len(page_urls)} sharing a page)")
        print(f"(a) floor            {floor_requests:6d} requests  {floor_s:7.2f} s")
        for label, requests, seconds, new in runs:
            print(f"{label:20s} {requests:6d} requests  {seconds:7.2f} s  new items {new}")
        print(f"(b)/(a) time ratio: {runs[0][2] / floor_s:.2f}")
        print(f"(c) requests: {runs[1][1]} (target 1); (d) requests: {runs[2][1]} (target 2)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
