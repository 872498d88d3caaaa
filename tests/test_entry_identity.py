"""Which entries are one item: canonical URLs join sources, never two entries of one source."""

from __future__ import annotations

from tests.conftest import CORPUS, run_cli, serve_file


def test_untitled_posts_whose_permalinks_differ_only_by_fragment_are_each_an_item(hub, loopback):
    # Scripting News lists 50 posts, several a day, each at its day's page plus a #fragment.
    feed = serve_file(loopback, "/scripting.rss", CORPUS / "feeds" / "scriptingnews.rss")
    hub.harvest_source("scripting", feed, tagged_only=False)
    urls = [u for (u,) in hub.query("SELECT url FROM hub_items")]
    assert len(urls) == 50 and len(set(urls)) == 50
    assert "http://scripting.com/2017/06/26.html#a080605" in urls
    assert not hub.query("SELECT merge_reasons FROM hub_items WHERE len(merge_reasons) > 0")


def test_posts_with_an_empty_link_keep_their_guid_as_url_instead_of_merging_under_the_feeds_own(hub, loopback):
    # Three One Foot Tsunami posts have href="": feedparser resolves it to the feed's own URL.
    feed = serve_file(loopback, "/tsunami.atom", CORPUS / "feeds" / "wordpress_onefoottsunami.atom")
    hub.harvest_source("tsunami", feed, tagged_only=False)
    urls = {u for (u,) in hub.query("SELECT url FROM hub_items")}
    assert len(urls) == 25
    assert {"http://onefoottsunami.com/?p=14848", "http://onefoottsunami.com/?p=14846",
            "http://onefoottsunami.com/?p=14803"} <= urls
    assert "http://onefoottsunami.com/wp-atom.php" not in urls


def test_a_rebuild_splits_entries_an_earlier_build_merged_without_fetching(hub, loopback):
    feed = serve_file(loopback, "/scripting.rss", CORPUS / "feeds" / "scriptingnews.rss")
    hub.harvest_source("scripting", feed, tagged_only=False)
    # As an earlier version left it: every post of a day under one item.
    with_one_day = "SELECT count(*) FROM hub_items WHERE url LIKE 'http://scripting.com/2017/06/26.html%'"
    day = hub.query(with_one_day)[0][0]
    from pipelines.store.warehouse import open_for_writing
    with open_for_writing(hub.warehouse_path, "old") as wh:
        wh.con.execute("DELETE FROM items WHERE url LIKE 'http://scripting.com/2017/06/26.html%'")
        wh.con.execute("DELETE FROM entry_facts")
    result = run_cli("rebuild", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    assert hub.query(with_one_day)[0][0] == day > 1
