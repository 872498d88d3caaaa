"""What sources.yaml says holds on the next run or rebuild, without fetching again."""

from __future__ import annotations

from html import escape

from tests.conftest import CORPUS, run_cli, serve_file

RUBENERD = CORPUS / "feeds" / "hugo_rubenerd.rss"


def test_switching_a_source_to_tagged_only_false_applies_while_its_feed_answers_304(hub, loopback):
    feed = serve_file(loopback, "/rubenerd.rss", RUBENERD)
    assert hub.harvest_source("rubenerd", feed)["status"] == "ok"
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 0     # nothing tagged #OpenGovTech
    hub.harvest_source("rubenerd", feed, tagged_only=False)
    assert hub.health("rubenerd")["status"] == "not_modified"
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 10
    reasons = hub.query("SELECT match_reasons FROM hub_items")[0][0]
    assert "source is on topic as a whole (tagged_only: false)" in reasons
    hub.harvest_source("rubenerd", feed, tagged_only=True)            # and back
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 0


def test_a_tag_added_to_sources_yaml_matches_stored_entries_on_rebuild(hub, loopback):
    feed = serve_file(loopback, "/rubenerd.rss", RUBENERD)
    hub.harvest_source("rubenerd", feed)
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 0
    hub.write_sources([{"id": "rubenerd", "kind": "feed", "url": feed, "tags": ["opengovtech", "Hardware"]}])
    result = run_cli("rebuild", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    rows = hub.query("SELECT title, match_reasons FROM hub_items")
    # the four posts filed under "hardware"; where the tag was found is what the record stored
    assert len(rows) == 4 and all(reasons == ["tag 'hardware'"] for _, reasons in rows), rows
    # The rebuild publishes what it rebuilt: the site shows the four posts (it was not built before).
    home = (hub.warehouse_path.parent / "site" / "index.html").read_text(encoding="utf-8")
    assert all(escape(title) in home for title, _ in rows)
