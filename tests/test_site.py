"""The hub site's files: pages, feeds out, data export, CSP and the server, built from real corpus feeds."""

from __future__ import annotations

import hashlib
import json
import re
from html import unescape
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
from bs4 import BeautifulSoup
import feedparser

from pipelines.config import SiteConfig
from pipelines.publish.site import build as site_build, build_site_from_file, content, feeds
from pipelines.publish.site.build import CONTENT_SECURITY_POLICY, safe_href
from pipelines.publish.site.pagefind import SearchBundle, plan_search_bundles
from pipelines.publish.site.serve import SiteServer
from pipelines.store.warehouse import open_for_writing
from tests.conftest import Hub, run_cli, serve_bytes
from tests.site_fixture import DIRECT_HOSTILE, HOSTILE_ITEM_ID, KNOWN_TITLE, SITE_FEEDS, jsonld_of

ATOM = "{http://www.w3.org/2005/Atom}"


def html_pages(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.html") if "pagefind" not in p.parts]


def test_every_item_has_a_page_linking_to_its_original(corpus_site):
    items = corpus_site.hub.query("SELECT id, url FROM hub_items")
    assert len(items) > 40
    for item_id, url in items:
        page = corpus_site.read(f"items/{item_id}/index.html")
        if url and url.startswith(("http://", "https://")):
            assert f'class="original" href="{url.replace("&", "&amp;")}"' in page


def test_item_page_shows_organisation_tags_sources_and_json_ld(corpus_site):
    item_id = corpus_site.item_id(KNOWN_TITLE)
    page = corpus_site.read(f"items/{item_id}/index.html")
    assert "<h1 data-pagefind-meta=\"title\">What open government policy can learn from internet culture</h1>" in page
    assert 'href="/organisations/government-digital-service/"' in page
    assert "source <code>data-blog</code>" in page
    data = jsonld_of(page)
    assert data["@type"] == "Article" and data["headline"] == KNOWN_TITLE
    assert data["datePublished"] == "2016-05-23T11:55:38Z"
    assert data["publisher"]["name"] == "Government Digital Service"


def test_home_lists_latest_items_and_counts(corpus_site):
    home = corpus_site.read("index.html")
    (stories,), = corpus_site.hub.query("SELECT count(*) FROM hub_items WHERE kind = 'story'")
    assert f"<strong>{stories}</strong> stories" in home
    kinds = [k for (k,) in corpus_site.hub.query("SELECT DISTINCT kind FROM hub_items")]
    per_kind = sum(min(6, n) for (n,) in corpus_site.hub.query("SELECT count(*) FROM hub_items GROUP BY kind"))
    assert len(kinds) >= 2 and home.count('class="card"') == per_kind  # the latest six of each kind


def test_listings_are_paginated_and_complete(corpus_site):
    (total,), = corpus_site.hub.query("SELECT count(*) FROM hub_items WHERE kind = 'story'")
    assert total > 20   # more than one page of 20
    listed = set()
    page = corpus_site.root / "kinds" / "story" / "index.html"
    while True:
        html = page.read_text(encoding="utf-8")
        listed.update(re.findall(r'<h3><a href="/items/([^/]+)/">', html))
        match = re.search(r'<a rel="next" href="/([^"]+)">', html)
        if not match:
            break
        page = corpus_site.root / match.group(1) / "index.html"
    assert len(listed) == total


def test_organisation_and_tag_pages(corpus_site):
    orgs = corpus_site.read("organisations/index.html")
    for _, org in SITE_FEEDS.values():
        assert org in orgs
    scot = corpus_site.read("organisations/scottish-government/index.html")
    (count,), = corpus_site.hub.query("SELECT count(*) FROM hub_items WHERE organisation = 'Scottish Government'")
    assert f"{count} items" in scot
    tags = corpus_site.read("tags/index.html")
    assert 'href="/tags/bigquery/"' in tags
    assert "BigQuery" in corpus_site.read("tags/bigquery/index.html")


def test_source_health_page_says_why_a_source_fails(corpus_site):
    page = corpus_site.read("sources/index.html")
    row = page[page.index('id="source-gone"'):page.index("</tr>", page.index('id="source-gone"'))]
    assert 'class="failing"' in row and "HTTP 404" in row and "never" in row
    assert 'id="source-data-blog" class="ok"' in page
    assert f"{len(SITE_FEEDS) + 1} of {len(SITE_FEEDS) + 2} sources healthy" in page


def test_every_page_forbids_inline_script(corpus_site):
    pages = html_pages(corpus_site.root)
    assert len(pages) == corpus_site.build.pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
        assert policy and unescape(policy.group(1)) == CONTENT_SECURITY_POLICY, page
        for tag in re.findall(r"<script\b[^>]*>", html, re.I):
            assert 'type="application/ld+json"' in tag or "src=" in tag, (page, tag)
        soup = BeautifulSoup(html, "html.parser")
        loaded = [t["src"] for t in soup.find_all(src=True)] + \
            [t["href"] for t in soup.find_all("link") if set(t.get("rel", [])) & {"stylesheet", "icon", "preload"}]
        assert all(u.startswith("/") and not u.startswith("//") for u in loaded), (page, loaded)  # nothing from elsewhere


def test_hostile_content_is_inert_in_the_html(corpus_site):
    page = corpus_site.read(f"items/{HOSTILE_ITEM_ID}/index.html")
    soup = BeautifulSoup(page, "html.parser")
    for element in soup.find_all(True):
        assert not [a for a in element.attrs if a.lower().startswith("on")], element
        for attribute in ("href", "src", "action", "data"):
            value = str(element.get(attribute, "")).strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), element
    for script in soup.find_all("script"):
        assert script.get("type") == "application/ld+json" or script.get("src"), script
    assert not soup.find_all(["iframe", "svg", "object", "embed", "form", "img"])
    assert "Read the original" not in page  # its URL is javascript:, so no link at all
    assert soup.h1.get_text() == DIRECT_HOSTILE["title"]  # shown as text, not markup
    data = jsonld_of(page)  # the JSON-LD block survives a title that tries to close it
    assert data["headline"] == DIRECT_HOSTILE["title"][:110]
    assert "url" not in data
    # Pagefind's UI writes filter names into the search page as HTML: the values it reads carry no markup.
    filters = [(element["data-pagefind-filter"], element.get("data-filter")) for element in
               soup.select("[data-pagefind-filter]")]
    assert ("organisation[data-filter]", "Evil Org") in filters
    assert ("tag[data-filter]", "alert(8)") in filters and ("tag[data-filter]", "hostile") in filters
    assert not [value for _, value in filters if value and ("<" in value or ">" in value)]


def test_safe_href_allows_only_absolute_http():
    assert safe_href("https://council.example/a?b=1") == "https://council.example/a?b=1"
    for bad in ("javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example/", "/relative",
                "vbscript:x", "http://[::1", None, ""):
        assert safe_href(bad) == "", bad


def test_atom_and_json_feeds_validate(corpus_site):
    atom = feedparser.parse(corpus_site.read("feed.atom"))
    assert not atom.bozo, atom.get("bozo_exception")
    assert atom.version == "atom10" and len(atom.entries) == 50
    root = ET.fromstring(corpus_site.read("feed.atom").encode())
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None
    for entry in root.findall(f"{ATOM}entry"):
        for required in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{required}") or "").strip(), required
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None
    dates = [e.updated_parsed for e in atom.entries]
    assert dates == sorted(dates, reverse=True) or len({tuple(d) for d in dates}) > 1

    feed = json.loads(corpus_site.read("feed.json"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] and feed["feed_url"].endswith("/feed.json")
    assert len(feed["items"]) == 50
    for item in feed["items"]:
        assert item["id"] and ("content_text" in item or "content_html" in item)
        assert isinstance(item.get("tags", []), list)


def test_feeds_per_kind_and_per_tag(corpus_site):
    kind_feed = feedparser.parse(corpus_site.read("kinds/story/feed.atom"))
    assert not kind_feed.bozo and kind_feed.entries
    tag_feed = feedparser.parse(corpus_site.read("tags/bigquery/feed.atom"))
    (tagged,), = corpus_site.hub.query("SELECT count(*) FROM hub_items WHERE list_contains(tags, 'BigQuery')")
    assert len(tag_feed.entries) == min(tagged, 50)
    assert all(any(t.term == "BigQuery" for t in e.tags) for e in tag_feed.entries)
    assert json.loads(corpus_site.read("tags/bigquery/feed.json"))["items"]


def test_the_hubs_own_feed_harvests_back_into_a_hub(corpus_site, loopback, tmp_path):
    """Feeds out are real feeds: another hub can harvest ours with the same pipeline."""
    url = serve_bytes(loopback, "/hub/feed.json", (corpus_site.root / "feed.json").read_bytes(), "application/feed+json")
    atom_url = serve_bytes(loopback, "/hub/feed.atom", (corpus_site.root / "feed.atom").read_bytes(),
                           "application/atom+xml")
    downstream = Hub(tmp_path)
    downstream.write_sources([{"id": "hub-json", "kind": "feed", "url": url, "tagged_only": False},
                              {"id": "hub-atom", "kind": "feed", "url": atom_url, "tagged_only": False}])
    report = downstream.harvest()
    assert {c.source_id: c.status for c in report.counts} == {"hub-json": "ok", "hub-atom": "ok"}
    titles = {t for (t,) in downstream.query("SELECT title FROM hub_items")}
    assert KNOWN_TITLE in titles or len(titles) >= 45


def test_opml_sitemap_and_data_export(corpus_site):
    opml = ET.fromstring(corpus_site.read("sources.opml").encode())
    outlines = opml.findall("./body/outline")
    assert {o.get("title") for o in outlines} == set(SITE_FEEDS) | {"hostile-feed", "gone"}
    assert all(o.get("type") == "rss" and o.get("xmlUrl", "").startswith("http://127.0.0.1") for o in outlines)

    sitemap = ET.fromstring(corpus_site.read("sitemap.xml").encode())
    locs = {loc.text for loc in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}
    ids = [i for (i,) in corpus_site.hub.query("SELECT id FROM hub_items")]
    assert all(f"http://127.0.0.1:8000/items/{i}/" in locs for i in ids)

    exported = json.loads(corpus_site.read("data/items.json"))
    assert len(exported) == len(ids) and {e["id"] for e in exported} == set(ids)
    parquet = corpus_site.root / "data" / "items.parquet"
    (rows, kinds), = duckdb.sql(f"SELECT count(*), count(DISTINCT kind) FROM '{parquet}'").fetchall()
    assert rows == len(ids) and kinds >= 1


def test_item_pages_read_in_many_id_ranges_are_the_same_pages(corpus_site, tmp_path, monkeypatch):
    """Item pages are streamed one range of ids at a time: cutting the ids finer changes no page."""
    whole = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "whole", search=False)
    monkeypatch.setattr(content, "PAGES_PER_QUERY", 4)
    cut = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "cut", search=False)
    (count,), = corpus_site.hub.query("SELECT count(*) FROM hub_items")
    assert len(content.id_ranges(count, 4)) > 10
    pages = sorted(p.relative_to(whole.path) for p in (whole.path / "items").rglob("index.html"))
    assert len(pages) == count == cut.items
    assert pages == sorted(p.relative_to(cut.path) for p in (cut.path / "items").rglob("index.html"))
    related = 0
    for page in pages:
        assert (whole.path / page).read_bytes() == (cut.path / page).read_bytes(), page
        related += 'id="related"' in (whole.path / page).read_text(encoding="utf-8")
    assert related > 10  # the related cards came through the streamed rows


def test_id_ranges_cover_every_id_once():
    ids = [hashlib.sha256(str(n).encode()).hexdigest()[:20] for n in range(5_000)] + ["", "zzz", "0", "ffff~"]
    ranges = content.id_ranges(5_000, 400)
    assert len(ranges) == 13 and ranges[0][0] is None and ranges[-1][1] is None
    for item_id in ids:
        inside = [r for r in ranges if (r[0] is None or item_id >= r[0]) and (r[1] is None or item_id < r[1])]
        assert len(inside) == 1, item_id
    assert content.id_ranges(10, 400) == [(None, None)]


def test_a_large_sitemap_is_split_under_an_index(corpus_site, tmp_path, monkeypatch):
    monkeypatch.setattr(feeds, "SITEMAP_URLS", 10)
    build = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "site", search=False)
    namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    index = ET.fromstring((build.path / "sitemap.xml").read_bytes())
    assert index.tag == f"{namespace}sitemapindex"
    parts = [loc.text for loc in index.iter(f"{namespace}loc")]
    assert parts[0] == "http://127.0.0.1:8000/sitemap-1.xml" and len(parts) > 3
    locs = []
    for part in parts:
        urlset = ET.fromstring((build.path / part.rsplit("/", 1)[1]).read_bytes())
        assert urlset.tag == f"{namespace}urlset" and len(urlset) <= 10
        locs += [loc.text for loc in urlset.iter(f"{namespace}loc")]
    ids = [i for (i,) in corpus_site.hub.query("SELECT id FROM hub_items")]
    assert len(locs) == len(set(locs)) and {f"http://127.0.0.1:8000/items/{i}/" for i in ids} <= set(locs)


def test_the_build_reports_the_size_of_every_file_it_wrote(corpus_site, tmp_path):
    build = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "site", search=False)
    files = [p for p in build.path.rglob("*") if p.is_file()]
    assert len(files) > build.items > 0   # an item page each, and listings, feeds, the export
    assert build.bytes == sum(p.stat().st_size for p in files)


def test_an_item_with_two_spellings_of_a_tag_is_listed_once_under_it(tmp_path):
    hub = Hub(tmp_path)
    with open_for_writing(hub.warehouse_path, "test") as warehouse:
        warehouse.con.execute("""
            INSERT INTO items (id, kind, title, url, summary, tags, source_ids, match_reasons, first_seen_at,
                               last_seen_at, date_missing)
            VALUES ('aa01', 'story', 'Twice tagged', 'https://council.example/a', 's',
                    ['OpenGovTech', 'open-gov-tech', 'Leeds'], ['s1'], ['tag'], now(), now(), true),
                   ('bb02', 'story', 'Once tagged', 'https://council.example/b', 's',
                    ['opengovtech'], ['s1'], ['tag'], now(), now(), true)""")
    build = build_site_from_file(hub.warehouse_path, tmp_path / "site", search=False)
    listing = (build.path / "tags" / "opengovtech" / "index.html").read_text(encoding="utf-8")
    assert "<p>2 items" in listing and listing.count('href="/items/aa01/"') == 1
    # The spelling most items use names the tag (a tie goes to the one seen first).
    assert "Tagged “OpenGovTech”" in listing
    tags = (build.path / "tags" / "index.html").read_text(encoding="utf-8")
    assert '<a href="/tags/opengovtech/">OpenGovTech</a> <span class="count">(2)</span>' in tags


def test_listings_read_a_few_cards_per_query_are_the_same_pages(corpus_site, tmp_path, monkeypatch):
    """Kind, tag and organisation listings read their cards in chunks of positions: cutting them into
    chunks of 4 cards (across groups, mid-group) changes no listing page."""
    whole = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "whole", search=False)
    monkeypatch.setattr(content, "LISTING_ROWS_PER_QUERY", 4)
    cut = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "cut", search=False)
    listings = sorted(p.relative_to(whole.path) for d in ("kinds", "tags", "organisations")
                      for p in (whole.path / d).rglob("*.html"))
    assert len([p for p in listings if p.parts[0] == "tags"]) > 5
    assert listings == sorted(p.relative_to(cut.path) for d in ("kinds", "tags", "organisations")
                              for p in (cut.path / d).rglob("*.html"))
    (tag_rows,), = corpus_site.hub.query("SELECT count(*) FROM (SELECT unnest(tags) FROM hub_items)")
    assert tag_rows > 4 * 3   # several chunks of the tag listing's rows
    ordered_pages = 0
    for page in listings:
        assert (whole.path / page).read_bytes() == (cut.path / page).read_bytes(), page
        soup = BeautifulSoup((whole.path / page).read_bytes(), "html.parser")
        dates = [t["datetime"] for t in soup.select("li.card time[datetime]")]
        assert dates == sorted(dates, reverse=True), page   # newest first
        ordered_pages += len(set(dates)) > 2
    assert ordered_pages > 5


def test_the_parquet_export_is_written_in_bounded_row_groups(tmp_path, monkeypatch):
    # DuckDB does not cut row groups below one vector (2,048 rows): a hub_items of 5,000 rows shows the cut.
    monkeypatch.setattr(site_build, "EXPORT_ROW_GROUP", 2048)
    con = duckdb.connect()
    con.execute("""CREATE TABLE hub_items AS
        SELECT 'i' || range AS id, 'story' AS kind, 't' AS title, NULL AS url, 's' AS summary, NULL AS author,
               NULL AS organisation, now() AS published_at, NULL::TIMESTAMPTZ AS updated_at, 'en' AS language,
               ['x'] AS tags, ['s1'] AS source_ids, ['m'] AS match_reasons, now() AS first_seen_at,
               now() AS last_seen_at, repeat('text ', 100) AS content_text
        FROM range(5000)""")
    site_build._export_data(con, tmp_path)
    parquet = tmp_path / "items.parquet"
    groups = duckdb.sql(f"SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('{parquet}')").fetchall()
    assert len(groups) == 3 and max(rows for _, rows in groups) <= 2048
    assert sum(rows for _, rows in groups) == 5000


def test_the_export_written_in_chunks_equals_one_ordered_copy(corpus_site, tmp_path, monkeypatch):
    """The export is written a few rows at a time (so no sort holds every text): with chunks of 3 rows
    the JSON and Parquet files hold exactly what one ordered COPY of hub_items writes, in its order."""
    monkeypatch.setattr(site_build, "EXPORT_ROW_GROUP", 3)
    columns = ", ".join(site_build.EXPORT_COLUMNS)
    ordered = (f"SELECT {columns} FROM hub_items "
               "ORDER BY coalesce(published_at, first_seen_at) DESC NULLS LAST, id")
    with duckdb.connect(str(corpus_site.hub.warehouse_path), read_only=True) as con:
        (count,), = con.execute("SELECT count(*) FROM hub_items").fetchall()
        assert count > 10   # several chunks, the last one short
        site_build._export_data(con, tmp_path / "chunked")
        whole = tmp_path / "whole"
        whole.mkdir()
        con.execute(f"COPY ({ordered}) TO '{whole / 'items.json'}' (FORMAT json, ARRAY true)")
        con.execute(f"COPY ({ordered}) TO '{whole / 'items.parquet'}' (FORMAT parquet)")
        assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0]
    chunked = json.loads((tmp_path / "chunked" / "items.json").read_text(encoding="utf-8"))
    assert chunked == json.loads((whole / "items.json").read_text(encoding="utf-8"))
    assert len(chunked) == count

    def parquet_rows(path: Path) -> list:
        return duckdb.sql(f"SELECT * FROM '{path}'").fetchall()
    assert parquet_rows(tmp_path / "chunked" / "items.parquet") == parquet_rows(whole / "items.parquet")
    groups = duckdb.sql(f"SELECT row_group_num_rows FROM parquet_metadata('{tmp_path / 'chunked' / 'items.parquet'}') "
                        "GROUP BY row_group_id, row_group_num_rows").fetchall()
    assert max(rows for rows, in groups) == 3


def test_an_empty_hub_exports_an_empty_array_and_an_empty_parquet_file(tmp_path):
    con = duckdb.connect()
    nulls = ", ".join(f"NULL AS {column}" for column in site_build.EXPORT_COLUMNS)
    con.execute(f"CREATE TABLE hub_items AS SELECT * FROM (SELECT {nulls}) WHERE false")
    site_build._export_data(con, tmp_path)
    assert json.loads((tmp_path / "items.json").read_text(encoding="utf-8")) == []
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'items.parquet'}'").fetchone() == (0,)


def test_base_url_sets_absolute_links_and_paths(corpus_site, tmp_path):
    site = SiteConfig(base_url="https://hub.example.org/opengovtech")
    build = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "site", site, search=False)
    home = (build.path / "index.html").read_text(encoding="utf-8")
    assert '<link rel="canonical" href="https://hub.example.org/opengovtech/">' in home
    assert 'href="/opengovtech/search/"' in home
    atom = feedparser.parse((build.path / "feed.atom").read_bytes())
    assert atom.entries[0].id.startswith("https://hub.example.org/opengovtech/items/")


def test_a_rebuild_replaces_the_site_whole(corpus_site, tmp_path):
    out = tmp_path / "site"
    build_site_from_file(corpus_site.hub.warehouse_path, out, search=False)
    stale = out / "items" / "no-longer-there" / "index.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    build_site_from_file(corpus_site.hub.warehouse_path, out, search=False)
    assert not stale.exists() and (out / "index.html").exists()
    assert not out.with_name("site.building").exists() and not out.with_name("site.old").exists()


def test_pagefind_indexed_every_item_page(corpus_site):
    (count,), = corpus_site.hub.query("SELECT count(*) FROM hub_items")
    assert f"Indexed {count} pages" in corpus_site.build.search_index
    assert (corpus_site.root / "pagefind" / "pagefind-ui.js").exists()
    assert list((corpus_site.root / "pagefind").glob("*.pf_meta"))


def test_item_ids_split_into_even_search_bundles_covering_every_item():
    ids = [hashlib.sha256(str(n).encode()).hexdigest()[:20] for n in range(25_000)]
    assert plan_search_bundles(ids, 25_000) == [SearchBundle("pagefind")]
    bundles = plan_search_bundles(ids, 10_000)
    assert [b.subdir for b in bundles] == ["pagefind", "pagefind-1", "pagefind-2"]
    prefixes = [p for b in bundles for p in b.prefixes]
    assert sorted(prefixes) == sorted({i[:2] for i in ids}) and len(prefixes) == len(set(prefixes))
    sizes = [sum(1 for i in ids if i[:2] in b.prefixes) for b in bundles]
    assert sum(sizes) == 25_000 and max(sizes) <= 10_000 and min(sizes) > 7_000
    assert bundles[1].glob.startswith("items/{") and bundles[1].glob.endswith("}/index.html")


def test_a_split_search_index_still_indexes_every_item_page_once(corpus_site, tmp_path):
    (count,), = corpus_site.hub.query("SELECT count(*) FROM hub_items")
    built = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path / "site",
                                 SiteConfig(search_bundle_items=max(10, count // 3)))
    bundles = sorted(p.name for p in built.path.glob("pagefind*"))
    assert bundles[0] == "pagefind" and len(bundles) >= 3
    assert built.search_index == f"Indexed {count} pages in {len(bundles)} bundles"
    search_page = (built.path / "search" / "index.html").read_text(encoding="utf-8")
    assert f'data-merge-bundles="{" ".join("/" + b + "/" for b in bundles[1:])}"' in search_page


def test_server_sends_security_headers_and_a_real_404(corpus_site):
    server = SiteServer(corpus_site.root, port=0, quiet=True).start()
    try:
        with urllib.request.urlopen(server.url) as response:
            assert response.headers["Content-Security-Policy"].startswith(CONTENT_SECURITY_POLICY)
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        with urllib.request.urlopen(server.url + "pagefind/pagefind-ui.js") as response:
            assert response.headers["Content-Type"].startswith("text/javascript")
        with urllib.request.urlopen(server.url + "feed.atom") as response:
            assert response.headers["Content-Type"].startswith("application/atom+xml")
        try:
            urllib.request.urlopen(server.url + "no/such/page/")
            raise AssertionError("expected a 404")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404 and b"Page not found" in exc.read()
    finally:
        server.stop()


def test_site_build_and_serve_commands(corpus_site, tmp_path):
    out = tmp_path / "cli-site"
    result = run_cli("site", "build", "--out", str(out), "--no-search", "--warehouse", str(corpus_site.hub.warehouse_path),
                     "--sources", str(corpus_site.hub.sources_path))
    assert result.returncode == 0, result.stderr
    assert "Built " in result.stdout and (out / "index.html").exists()
    missing = run_cli("serve", "--dir", str(tmp_path / "nothing-here"))
    assert missing.returncode == 2 and "no built site" in missing.stderr
    no_warehouse = run_cli("site", "build", "--warehouse", str(tmp_path / "none.duckdb"))
    assert no_warehouse.returncode == 2 and "run `opengovtech run` first" in no_warehouse.stderr


def test_an_item_page_carries_its_related_words_for_pagefind_but_shows_none(corpus_site):
    """The search index's related words of the item's title, tags and summary, as hidden indexed text."""
    from pipelines.publish.search import index_path_for, related_words_by_term, related_words_for

    item_id = corpus_site.item_id(KNOWN_TITLE)
    page = BeautifulSoup(corpus_site.read(f"items/{item_id}/index.html"), "html.parser")
    hidden = page.select_one("main[data-pagefind-body] p[hidden][data-pagefind-weight]")
    assert hidden is not None and hidden.find_parent(attrs={"data-pagefind-ignore": True}) is None
    (tags, summary), = corpus_site.hub.query("SELECT tags, summary FROM hub_items WHERE id = ?", [item_id])
    expected = related_words_for([KNOWN_TITLE, " ".join(tags), summary],
                                 related_words_by_term(index_path_for(corpus_site.hub.warehouse_path)))
    assert expected and hidden.get_text() == "Related words: " + ", ".join(expected)
