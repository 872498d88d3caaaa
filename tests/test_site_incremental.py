"""An incremental site build: a run that changed a few items rewrites only the files they appear
on, removes the pages of items gone, re-indexes only the Pagefind bundles whose pages changed, and
leaves a site equal to one built from scratch. Feeds are served on 127.0.0.1 and harvested by the
real pipeline."""

from __future__ import annotations

import json
import re
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipelines.config import SiteConfig
from pipelines.publish.site import build_site_from_file
from pipelines.publish.site.content import item_path
from pipelines.publish.site.incremental import manifest_path, next_generation, served_generation
from pipelines.publish.site.pagefind import plan_search_bundles
from pipelines.store.warehouse import open_for_writing
from tests.conftest import Hub, serve_bytes

FIRST_DAY = datetime(2025, 3, 1, 9, tzinfo=timezone.utc)

# (title, link, tags) per organisation's feed; one item a day, so the hub's order is fixed.
COUNCIL_A = [("Open data portal relaunched", "http://a.example/portal", ["Open Data"]),
             ("Civic tech meetup notes", "http://a.example/meetup", ["Civic Tech"]),
             ("Publishing spending data", "http://a.example/spending", ["Open Data"])]
COUNCIL_B = [("Digital service standard", "http://b.example/standard", ["Digital"]),
             ("A register of open datasets", "http://b.example/register", ["Open Data"])]
CHANGED_LINK = "http://a.example/meetup"
DIGITS = re.compile(rb"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?|[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} [\d:]+ GMT")
# What says when the site was built (sources page, OPML, the home page's sitemap date) rather than what it shows.
BUILD_STAMPED = {"sources/index.html", "sources.opml", "sitemap.xml"}


def rss(entries: list[tuple[str, str, list[str]]], first_day: int) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>About {title}</description>"
        f"<pubDate>{format_datetime(FIRST_DAY + timedelta(days=first_day + n))}</pubDate>"
        + "".join(f"<category>{tag}</category>" for tag in tags) + "</item>"
        for n, (title, link, tags) in enumerate(entries))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def harvest(hub: Hub, loopback, council_a: list, council_b: list = COUNCIL_B) -> None:
    loopback.clear()   # the feeds served anew; no robots.txt, as the fixture leaves it
    loopback.no_handler_status_code = 404
    hub.write_sources([
        {"id": "council-a", "kind": "feed", "tagged_only": False, "org": "Council A",
         "url": serve_bytes(loopback, "/a.rss", rss(council_a, 0), "application/rss+xml")},
        {"id": "council-b", "kind": "feed", "tagged_only": False, "org": "Council B",
         "url": serve_bytes(loopback, "/b.rss", rss(council_b, 10), "application/rss+xml")}])
    hub.harvest()


def files_of(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def contents(root: Path) -> dict[str, bytes]:
    """Every file's bytes but Pagefind's bundles, with the build's own timestamps blanked."""
    return {path: DIGITS.sub(b"#", file.read_bytes()) if path in BUILD_STAMPED else file.read_bytes()
            for path, file in files_of(root).items() if not path.startswith("pagefind")}


def inodes(root: Path) -> dict[str, int]:
    return {path: file.stat().st_ino for path, file in files_of(root).items()}


def modified(root: Path) -> dict[str, int]:
    return {path: file.stat().st_mtime_ns for path, file in files_of(root).items()}


def item_page(hub: Hub, link: str) -> str:
    (item_id,), = hub.query("SELECT id FROM hub_items WHERE url = ?", [link])
    return item_path(item_id) + "index.html"


def test_a_changed_title_rewrites_only_the_files_it_appears_on_and_equals_a_build_from_scratch(loopback, hub, tmp_path):
    harvest(hub, loopback, COUNCIL_A)
    out = tmp_path / "site"
    first = build_site_from_file(hub.warehouse_path, out, search=False)
    assert len(first.written) == len(files_of(out)) and first.kept == 0 and not first.removed
    before = contents(out)

    retitled = [(title + " (updated)" if link == CHANGED_LINK else title, link, tags) for title, link, tags in COUNCIL_A]
    harvest(hub, loopback, retitled)
    second = build_site_from_file(hub.warehouse_path, out, search=False)
    scratch = build_site_from_file(hub.warehouse_path, tmp_path / "scratch", search=False)
    after = contents(out)

    assert second.kept == len(after) - len(second.written) and not second.removed
    # It reports as written exactly the files whose bytes changed (besides the build's timestamps)...
    assert set(second.written) - BUILD_STAMPED == {path for path in after
                                                   if after[path] != before.get(path)} - BUILD_STAMPED
    # ...which are the item's page and the pages, feeds and export showing its title.
    changed_page, organisation, tag = item_page(hub, CHANGED_LINK), "organisations/council-a/", "tags/civictech/"
    assert {changed_page, organisation + "index.html", tag + "index.html", tag + "feed.atom", tag + "feed.json",
            "index.html", "feed.atom", "feed.json", "kinds/story/index.html", "kinds/story/feed.atom",
            "data/items.json", "data/items.parquet"} <= set(second.written)
    # An item of Council A shows it among its related items; Council B's pages and tags never do.
    assert item_page(hub, "http://a.example/portal") in second.written
    untouched = {item_page(hub, link) for _, link, _ in COUNCIL_B} | {
        "organisations/council-b/index.html", "tags/digital/index.html", "tags/digital/feed.atom", "about/index.html",
        "static/style.css"}
    assert not untouched & set(second.written)
    assert len(second.written) < len(after) / 2
    assert "Civic tech meetup notes (updated)" in (out / changed_page).read_text(encoding="utf-8")
    # The site is the one a build from scratch makes, byte for byte but for when it was built.
    assert after == contents(scratch.path)

    # The next build is written into the copy served before (the first build's): exactly the files
    # that differ from it, those of both changes, are written there.
    other = next_generation(out)
    assert other != served_generation(out) and (other / "index.html").exists()
    written_at = modified(other)
    retitled_again = [(title + " (revised)", link, tags) if link == "http://b.example/standard" else (title, link, tags)
                      for title, link, tags in COUNCIL_B]
    harvest(hub, loopback, retitled, retitled_again)
    third = build_site_from_file(hub.warehouse_path, out, search=False)
    assert served_generation(out) == other
    rewritten = {path for path, moment in modified(other).items() if written_at.get(path) != moment}
    assert rewritten - BUILD_STAMPED == (set(second.written) | set(third.written)) - BUILD_STAMPED
    assert item_page(hub, "http://b.example/standard") in third.written
    assert contents(out) == contents(build_site_from_file(hub.warehouse_path, tmp_path / "scratch", search=False).path)


# Enough items for several Pagefind bundles of SiteConfig's smallest size.
REGISTER = [(f"Register entry {n}", f"http://b.example/entry-{n}", ["Open Data"]) for n in range(22)]


def test_only_the_search_bundle_of_a_changed_page_is_indexed_again_and_a_removed_item_loses_its_page(
        loopback, hub, tmp_path):
    harvest(hub, loopback, COUNCIL_A, REGISTER)
    out = tmp_path / "site"
    config = SiteConfig(search_bundle_items=10)
    first = build_site_from_file(hub.warehouse_path, out, config)
    bundles = sorted(p.name for p in out.glob("pagefind*"))
    assert len(bundles) == 3 and first.reindexed == bundles
    assert first.search_index == "Indexed 25 pages in 3 bundles"

    again = build_site_from_file(hub.warehouse_path, out, config)
    assert again.reindexed == [] and again.search_index == first.search_index
    assert set(again.written) <= BUILD_STAMPED

    # The register's oldest entry: no other item page lists it among its related items.
    before = inodes(out)
    oldest_title, oldest_link, tags = REGISTER[0]
    harvest(hub, loopback, COUNCIL_A, [(oldest_title + " (updated)", oldest_link, tags), *REGISTER[1:]])
    retitled = build_site_from_file(hub.warehouse_path, out, config)
    (changed_id,), = hub.query("SELECT id FROM hub_items WHERE url = ?", [oldest_link])
    assert [p for p in retitled.written if p.startswith("items/")] == [f"items/{changed_id}/index.html"]
    assert len(retitled.reindexed) == 1 and retitled.search_index == first.search_index
    (reindexed,) = retitled.reindexed
    # The re-indexed bundle is the one holding the changed page; the others are the last build's files.
    plan = plan_search_bundles([item_id for (item_id,) in hub.query("SELECT id FROM hub_items")], 10)
    assert [b.subdir for b in plan if b.covers_item_page(f"items/{changed_id}/index.html")] == [reindexed]
    assert all(before[path] == inode for path, inode in inodes(out).items()
               if path.startswith(tuple(b + "/" for b in bundles if b != reindexed)))

    # An item gone from the warehouse (the hub keeps items a feed drops, so it is deleted there).
    gone = item_page(hub, "http://a.example/spending")
    with open_for_writing(hub.warehouse_path, "test") as warehouse:
        warehouse.con.execute("DELETE FROM items WHERE url = 'http://a.example/spending'")
    removed = build_site_from_file(hub.warehouse_path, out, config)
    assert removed.removed == [gone] and not (out / gone).exists()
    assert removed.reindexed and removed.search_index == "Indexed 24 pages in 3 bundles"

    # Pagefind does not write the same bytes twice for the same pages (its hashes and filter files
    # vary run to run): the bundles are compared by what each indexed.
    scratch = build_site_from_file(hub.warehouse_path, tmp_path / "scratch", config)
    assert contents(out) == contents(scratch.path)
    assert indexed_pages(out) == indexed_pages(scratch.path) and sum(indexed_pages(out).values()) == 24


def indexed_pages(root: Path) -> dict[str, int]:
    """Pages indexed per Pagefind bundle, as its entry file says."""
    return {bundle.name: sum(language["page_count"] for language in
                             json.loads((bundle / "pagefind-entry.json").read_text())["languages"].values())
            for bundle in root.glob("pagefind*")}


def test_a_copy_without_its_manifest_is_written_whole_and_cleared_of_stray_files(loopback, hub, tmp_path):
    harvest(hub, loopback, COUNCIL_A)
    out = tmp_path / "site"
    build_site_from_file(hub.warehouse_path, out, search=False)
    build_site_from_file(hub.warehouse_path, out, search=False)
    # The copy not served, as a build that failed part way leaves it: no manifest, a file too many.
    other = next_generation(out)
    manifest_path(other).unlink()
    stray = other / "items" / "half-written" / "index.html"
    stray.parent.mkdir(parents=True)
    stray.write_text("half")
    written_at = modified(other)
    rebuilt = build_site_from_file(hub.warehouse_path, out, search=False)
    assert served_generation(out) == other and manifest_path(other).exists() and not stray.exists()
    assert all(written_at[path] != moment for path, moment in modified(other).items())
    assert set(rebuilt.written) <= BUILD_STAMPED and not rebuilt.removed   # against the site served before
