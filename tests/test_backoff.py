"""Per-source backoff: a source failing run after run is tried later and later, and never dropped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipelines.publish.site import build_site_from_file
from tests.conftest import CORPUS, serve_file

RSS = CORPUS / "feeds" / "wordpress_manton.rss"


def feed_requests(server, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


def test_repeated_failures_back_off_then_recover(loopback, hub):
    loopback.expect_request("/down.rss").respond_with_data("down", status=500)
    hub.write_sources([{"id": "down", "kind": "feed", "url": loopback.url_for("/down.rss")}],
                      retries=0, backoff_after_failures=2, backoff_base_hours=1, backoff_max_days=1)
    hub.harvest()
    assert hub.health("down")["next_attempt_at"] is None  # one failure: tried again next run
    hub.harvest()
    health = hub.health("down")
    assert health["consecutive_failures"] == 2
    wait = health["next_attempt_at"] - datetime.now(timezone.utc)
    assert timedelta(minutes=55) < wait <= timedelta(hours=1)

    before = feed_requests(loopback, "/down.rss")
    report = hub.harvest()
    assert report.counts[0].status == "backoff"
    assert "next attempt after" in report.counts[0].error
    assert feed_requests(loopback, "/down.rss") == before  # not contacted while backing off
    assert hub.health("down")["consecutive_failures"] == 2  # skipping is not another failure
    assert hub.health("down")["status"] == "failed"         # the last real outcome stays visible
    site = build_site_from_file(hub.warehouse_path, hub.root / "site", search=False)
    row = (site.path / "sources" / "index.html").read_text(encoding="utf-8").split('id="source-down"')[1].split("</tr>")[0]
    assert "failed 2 runs in a row" in row
    assert f"backing off</strong>: next try after {health['next_attempt_at'].astimezone(timezone.utc):%Y-%m-%d %H:%M}" in row

    # The operator can force a try; a success clears the backoff.
    loopback.clear()
    loopback.no_handler_status_code = 404
    serve_file(loopback, "/down.rss", RSS)
    report = hub.harvest(ignore_backoff=True)
    assert report.counts[0].status == "ok"
    health = hub.health("down")
    assert (health["consecutive_failures"], health["next_attempt_at"]) == (0, None)


def test_backoff_doubles_up_to_the_cap(loopback, hub):
    loopback.expect_request("/down.rss").respond_with_data("down", status=500)
    hub.write_sources([{"id": "down", "kind": "feed", "url": loopback.url_for("/down.rss")}],
                      retries=0, backoff_after_failures=1, backoff_base_hours=1, backoff_max_days=0.125)
    waits = []
    for _ in range(5):
        hub.harvest(ignore_backoff=True)
        health = hub.health("down")
        waits.append(round((health["next_attempt_at"] - health["last_run_at"]).total_seconds() / 3600, 2))
    assert waits == [1.0, 2.0, 3.0, 3.0, 3.0]  # 1h, 2h, then capped at 0.125 days = 3h


def test_server_retry_after_sets_the_next_attempt(loopback, hub):
    loopback.expect_request("/later.rss").respond_with_data("later", status=503, headers={"Retry-After": "7200"})
    hub.write_sources([{"id": "later", "kind": "feed", "url": loopback.url_for("/later.rss")}], retries=0)
    hub.harvest()
    health = hub.health("later")
    wait = health["next_attempt_at"] - datetime.now(timezone.utc)
    assert timedelta(minutes=115) < wait <= timedelta(hours=2)
