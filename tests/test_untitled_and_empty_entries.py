"""Entries without a title are titled from their text; entries with nothing in them are skipped."""

from __future__ import annotations

from pipelines.normalise.quality import items_have_title_and_url
from pipelines.sanitize import title_from_text
from pipelines.store.warehouse import open_for_reading, open_for_writing
from tests.conftest import CORPUS, run_cli, serve_file


def test_posts_without_a_title_are_titled_by_their_first_sentence(hub, loopback):
    feed = serve_file(loopback, "/scripting.rss", CORPUS / "feeds" / "scriptingnews.rss")
    hub.harvest_source("scripting", feed, tagged_only=False)
    titles = dict(hub.query("SELECT url, title FROM hub_items"))
    assert titles["http://scripting.com/2017/06/26.html#a080605"] == "Good morning students and teachers! 🍏"
    # a paragraph of several sentences: its first one
    assert titles["http://scripting.com/2017/06/26.html#a010633"] == \
        "From time to time I have to do a podcast to test things out."
    assert "(untitled)" not in titles.values()
    assert all(0 < len(t) <= 100 for t in titles.values())


def test_untitled_micro_posts_of_a_wordpress_feed_are_titled_from_their_text(hub, loopback):
    feed = serve_file(loopback, "/manton.rss", CORPUS / "feeds" / "wordpress_manton.rss")
    hub.harvest_source("manton", feed, tagged_only=False)
    titles = [t for (t,) in hub.query("SELECT title FROM hub_items")]
    assert len(titles) == 10 and "(untitled)" not in titles and all(titles)


def test_a_long_first_sentence_is_cut_at_a_word():
    text = ("Interesting Politico piece posits that Trump acts as if he's mayor of the United States, "
            "which is a thing people say. Second sentence.")
    title = title_from_text(text)
    assert title.endswith("…") and len(title) <= 100
    assert text.startswith(title[:-1]) and text[len(title) - 1] == " "


def test_an_empty_entry_is_skipped_with_a_counted_warning_and_the_run_passes_its_checks(hub, loopback):
    # Le Cercle Psy lists an <item> whose title, link and description are all empty.
    feed = serve_file(loopback, "/psy.xml", CORPUS / "feeds" / "undeclared_latin1_cercle_psy.xml")
    health = hub.harvest_source("psy", feed, tagged_only=False)
    assert health["status"] == "ok"
    assert "1 empty entry (no title, link or text) skipped" in health["warning"]
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 9
    with open_for_reading(hub.warehouse_path) as con:
        assert items_have_title_and_url(con).passed


def test_a_rebuild_titles_untitled_records_stored_by_an_earlier_version(hub, loopback):
    feed = serve_file(loopback, "/scripting.rss", CORPUS / "feeds" / "scriptingnews.rss")
    hub.harvest_source("scripting", feed, tagged_only=False)
    with open_for_writing(hub.warehouse_path, "old") as wh:
        wh.con.execute("UPDATE raw_entries SET title = '(untitled)' WHERE title LIKE 'Good morning students%'")
    result = run_cli("rebuild", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    assert hub.query("SELECT count(*) FROM hub_items WHERE title = '(untitled)'")[0][0] == 0
    assert hub.query("SELECT count(*) FROM hub_items WHERE title = 'Good morning students and teachers! 🍏'")[0][0] == 1
