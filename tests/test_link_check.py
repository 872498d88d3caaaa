"""The link check: HEAD then GET against pages served on 127.0.0.1; broken links marked, never deleted."""

from __future__ import annotations

import json

from tests.conftest import run_cli, serve_bytes


def _feed(loopback, urls: list[str]) -> str:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Council digital blog",
            "home_page_url": loopback.url_for("/"),
            "items": [{"id": u, "url": u, "title": f"Post {n}", "content_html": f"<p>Post {n} about our bins service.</p>",
                       "date_published": f"2026-10-0{n + 1}T09:00:00Z"} for n, u in enumerate(urls)]}
    return serve_bytes(loopback, "/feed.json", json.dumps(feed).encode(), "application/feed+json")


def test_links_are_checked_with_head_then_get_and_broken_ones_are_marked_not_deleted(hub, loopback):
    ok, head_refused, gone = (loopback.url_for(p) for p in ("/posts/ok", "/posts/no-head", "/posts/gone"))
    loopback.expect_request("/posts/ok", method="HEAD").respond_with_data("", status=200)
    loopback.expect_request("/posts/no-head", method="HEAD").respond_with_data("", status=405)
    loopback.expect_request("/posts/no-head", method="GET").respond_with_data("<p>here</p>", content_type="text/html")
    feed = _feed(loopback, [ok, head_refused, gone])
    hub.write_sources([{"id": "council", "kind": "feed", "url": feed, "tagged_only": False}])
    hub.harvest()

    args = ("--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path))
    result = run_cli("check-links", *args)
    assert result.returncode == 0, result.stderr
    assert "Checked 3 links" in result.stdout and "1 broken" in result.stdout and gone in result.stdout
    checks = {row[0]: row[1:] for row in hub.query("SELECT url, status, ok, method, broken_since FROM link_checks")}
    assert checks[ok][:3] == (200, True, "HEAD")
    assert checks[head_refused][:3] == (200, True, "GET")
    assert checks[gone][:3] == (404, False, "GET") and checks[gone][3] is not None
    items = dict(hub.query("SELECT url, link_ok FROM hub_items"))
    assert items == {ok: True, head_refused: True, gone: False}   # the broken one is still there

    # Checked within link_check_recheck_days: nothing is due, nothing is requested.
    before = len(loopback.log)
    assert "Checked 0 links" in run_cli("check-links", *args).stdout
    assert len(loopback.log) == before
