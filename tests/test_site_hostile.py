"""Hostile sources cannot hurt the hub site: names too long for a file system, markup hidden in
entities, characters XML forbids, a build that fails part way, and odd requests to the server.

Each hostile feed is made here, served on 127.0.0.1, harvested by the real pipeline and built
into a site; the server is sent raw requests over a socket."""

from __future__ import annotations

import html
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from pipelines.parse.entry_limits import TAG_CHARS
from pipelines.errors import SiteBuildError
from pipelines.publish.site import build as site_build, build_site_from_file
from pipelines.publish.site.build import search_filter_value
from pipelines.publish.site.content import SEGMENT_BYTES
from pipelines.publish.site.serve import SiteRequestHandler, SiteServer
from tests.conftest import Hub, run_cli, serve_bytes

def rss(*items: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            + "".join(items) + "</channel></rss>").encode("utf-8")


def rss_item(title: str, link: str, *categories: str) -> str:
    """An RSS item; `title` and `categories` are written into the XML as given (escape them yourself)."""
    return (f"<item><title>{title}</title><link>{link}</link><description>About {link}</description>"
            + "".join(f"<category>{c}</category>" for c in categories) + "</item>")


def harvest_feed(hub: Hub, loopback, body: bytes, **source) -> None:
    url = serve_bytes(loopback, "/hostile/feed.rss", body, "application/rss+xml")
    hub.write_sources([{"id": "hostile", "kind": "feed", "url": url, "tagged_only": False, **source}])
    hub.harvest()


def site_directories(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_dir()]


# --- names too long for a path ------------------------------------------------------------------

LONG_TAG = "open-government-" + "data" * 71                # 300 characters
LONG_WIDE_TAG = "開放政府" * 75                               # 300 characters, 900 bytes in UTF-8
LONG_ORGANISATION = "Metropolitan Borough Council of " + "Somewhere " * 27   # 300 characters
# What the harvest keeps of a tag (pipelines/parse/entry_limits.py): still far past a path segment's bytes.
KEPT_TAG, KEPT_WIDE_TAG = LONG_TAG[:TAG_CHARS], LONG_WIDE_TAG[:TAG_CHARS]


def test_a_tag_or_organisation_of_300_characters_gets_a_short_path_and_the_site_builds(loopback, hub, tmp_path):
    harvest_feed(hub, loopback, rss(rss_item("Long names", "http://council.example/long", LONG_TAG, LONG_WIDE_TAG,
                                             "Open Data")), org=LONG_ORGANISATION)
    built = build_site_from_file(hub.warehouse_path, tmp_path / "site", search=False)
    assert not (tmp_path / "site.building").exists()
    too_long = [p for p in site_directories(built.path) if len(p.name.encode("utf-8")) > SEGMENT_BYTES]
    assert too_long == []
    (item_id,), = hub.query("SELECT id FROM hub_items")
    page = BeautifulSoup((built.path / "items" / item_id / "index.html").read_text(encoding="utf-8"), "html.parser")
    linked = {a.get_text(): a["href"] for a in page.select("ul.tags a")}
    assert set(linked) == {KEPT_TAG, KEPT_WIDE_TAG, "Open Data"}
    organisation = page.select_one('a[data-pagefind-filter^="organisation"]')
    assert organisation.get_text() == LONG_ORGANISATION.strip()
    for href in [*linked.values(), organisation["href"]]:
        assert (built.path / href.lstrip("/") / "index.html").exists(), href
    assert linked["Open Data"] == "/tags/opendata/"   # a short name keeps the path it always had
    # Two long names that share their beginning still get pages of their own.
    assert linked[KEPT_TAG] != linked[KEPT_WIDE_TAG]


def test_two_long_tags_that_differ_only_at_the_end_get_different_pages(loopback, hub, tmp_path):
    first, second = KEPT_WIDE_TAG[:60] + "-one", KEPT_WIDE_TAG[:60] + "-two"   # 184 bytes each
    harvest_feed(hub, loopback, rss(rss_item("First", "http://council.example/1", first),
                                    rss_item("Second", "http://council.example/2", second)))
    built = build_site_from_file(hub.warehouse_path, tmp_path / "site", search=False)
    tags = BeautifulSoup((built.path / "tags" / "index.html").read_text(encoding="utf-8"), "html.parser")
    paths = {a.get_text(): a["href"] for a in tags.select("main li a")}
    assert paths[first] != paths[second]
    for label, href in paths.items():
        listing = (built.path / href.lstrip("/") / "index.html").read_text(encoding="utf-8")
        assert html.escape(label, quote=False) in listing


def test_site_build_command_succeeds_on_a_hub_with_a_300_character_category(loopback, hub, tmp_path):
    harvest_feed(hub, loopback, rss(rss_item("Long category", "http://council.example/c", LONG_TAG)))
    out = tmp_path / "cli-site"
    for _ in range(2):   # and again: a rerun is not stuck on what the first one left
        result = run_cli("site", "build", "--out", str(out), "--no-search", "--warehouse", str(hub.warehouse_path),
                         "--sources", str(hub.sources_path))
        assert result.returncode == 0, result.stderr
    assert (out / "index.html").exists() and not out.with_name("cli-site.building").exists()


def test_opengovtech_run_builds_the_site_of_a_hub_with_a_300_character_category(loopback, hub, tmp_path):
    url = serve_bytes(loopback, "/hostile/feed.rss", rss(rss_item("Long category", "http://council.example/c", LONG_TAG)),
                      "application/rss+xml")
    hub.write_sources([{"id": "hostile", "kind": "feed", "url": url, "tagged_only": False}])
    result = run_cli("run", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path),
                     env={"DAGSTER_HOME": ""})
    assert result.returncode == 0, result.stderr + result.stdout
    site = hub.warehouse_path.parent / "site"
    assert (site / "index.html").exists() and not site.with_name("site.building").exists()


# --- a build that fails part way ------------------------------------------------------------------

def test_a_failed_build_leaves_the_last_good_site_served_and_no_staging_directory(loopback, hub, tmp_path,
                                                                                   monkeypatch):
    harvest_feed(hub, loopback, rss(rss_item("Good item", "http://council.example/good", "Open Data")))
    out = tmp_path / "site"
    build_site_from_file(hub.warehouse_path, out, search=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    server = SiteServer(out, port=0, quiet=True).start()
    try:
        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(site_build, "_write_item_page", disk_full)
        with pytest.raises(SiteBuildError) as failure:
            build_site_from_file(hub.warehouse_path, out, search=False)
        message = str(failure.value)
        assert "No space left on device" in message and str(out) in message and "left as it was" in message
        assert not out.with_name("site.building").exists()
        assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
        status, body = raw_request(server, b"GET / HTTP/1.0\r\n\r\n")
        assert status == 200 and body == before[Path("index.html")]

        monkeypatch.undo()
        rebuilt = build_site_from_file(hub.warehouse_path, out, search=False)
        assert rebuilt.items == 1 and not out.with_name("site.building").exists()
    finally:
        server.stop()


# --- markup hidden in entities ---------------------------------------------------------------------

# Entity-escaped once more in the XML, so feedparser hands back the escaped text itself.
ESCAPED_MARKUP = html.escape(html.escape('"><img src=x onerror=alert(1)>'))


def pagefind_filter(element) -> tuple[str, str]:
    """(name, value) of a filter as Pagefind reads it: "name:value", "name[attribute]" or the element's text."""
    spec = element["data-pagefind-filter"]
    if ":" in spec:
        name, value = spec.split(":", 1)
        return name, value
    if "[" in spec:
        name, attribute = spec.rstrip("]").split("[")
        return name, element[attribute]
    return spec, element.get_text()


def test_a_category_hiding_markup_in_entities_is_plain_text_in_every_search_filter(loopback, hub, tmp_path):
    harvest_feed(hub, loopback, rss(rss_item("Escaped markup", "http://council.example/e", ESCAPED_MARKUP,
                                             "AT&amp;amp;T &amp;lt;b&amp;gt;Open&amp;lt;/b&amp;gt;")),
                 org="Council &lt;i&gt;of&lt;/i&gt; &amp;quot;Things&amp;quot;")
    built = build_site_from_file(hub.warehouse_path, tmp_path / "site", search=False)
    (item_id,), = hub.query("SELECT id FROM hub_items")
    page = BeautifulSoup((built.path / "items" / item_id / "index.html").read_text(encoding="utf-8"), "html.parser")
    filters = [pagefind_filter(element) for element in page.select("[data-pagefind-filter]")]
    assert {name for name, _ in filters} == {"kind", "year", "organisation", "tag"}
    for _, value in filters:
        # Pagefind decodes entities in a filter value again and its UI writes the value as HTML:
        # nothing may be left to decode, and no character markup is made of.
        assert html.unescape(value) == value and not set(value) & set('<>"'), value
    assert ("organisation", "Council of Things") in filters
    assert sorted(value for name, value in filters if name == "tag") == ["(unnamed)", "AT&T Open"]


def test_a_filter_value_escaped_many_times_over_is_still_plain_text():
    value = '"><img src=x onerror=alert(1)>'
    for _ in range(12):
        value = html.escape(value)
    offered = search_filter_value(f"Open {value} Data")
    assert html.unescape(offered) == offered and not set(offered) & set('<>"')
    assert offered.startswith("Open ") and offered.endswith(" Data")


# --- characters XML forbids ------------------------------------------------------------------------

FORBIDDEN = "\u0001\u000b\u001f\ufffe\uffff"


def xml_documents(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.suffix in (".atom", ".xml", ".opml")]


def test_a_title_with_characters_xml_forbids_leaves_every_xml_file_of_the_site_well_formed(loopback, hub, tmp_path):
    harvest_feed(hub, loopback, rss(rss_item("Bad \u0001 title \ufffe here", "http://council.example/x", "tag\u0001one"),
                                    rss_item("A fine title", "http://council.example/y")))
    rows = hub.query("SELECT title, summary, content_text, tags FROM hub_items")
    assert sorted(" ".join(title.split()) for title, *_ in rows) == ["A fine title", "Bad title here"]
    stored = "".join(str(field) for row in rows for value in row for field in (value if isinstance(value, list) else [value]))
    assert not set(stored) & set(FORBIDDEN)
    built = build_site_from_file(hub.warehouse_path, tmp_path / "site", search=False)
    documents = xml_documents(built.path)
    assert len(documents) == 5   # the hub's, the kind's and the tag's feeds, the sitemap and the OPML
    for document in documents:
        ET.fromstring(document.read_bytes())   # expat: no recovery from what XML 1.0 forbids


def test_a_warehouse_already_holding_forbidden_characters_still_writes_well_formed_xml_and_html(tmp_path):
    from pipelines.store.warehouse import open_for_writing

    hub = Hub(tmp_path)
    with open_for_writing(hub.warehouse_path, "test") as warehouse:
        warehouse.con.execute("""
            INSERT INTO items (id, kind, title, url, summary, organisation, tags, source_ids, match_reasons,
                               first_seen_at, last_seen_at, date_missing)
            VALUES ('aa01', 'story', ?, 'https://council.example/a', ?, ?, ?, ['s1'], ['tag'], now(), now(), true)""",
            [f"Old {FORBIDDEN} title", f"summary {FORBIDDEN}", f"Org {FORBIDDEN}", [f"tag {FORBIDDEN}"]])
    built = build_site_from_file(hub.warehouse_path, tmp_path / "site", search=False)
    documents = xml_documents(built.path)
    assert len(documents) == 5   # the hub's, the kind's and the tag's feeds, the sitemap and the OPML
    for document in documents:
        ET.fromstring(document.read_bytes())
    for page in built.path.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not set(text) & set(FORBIDDEN), page


# --- odd requests to `opengovtech serve` -----------------------------------------------------------

def raw_request(server: SiteServer, request: bytes) -> tuple[int | None, bytes]:
    """Send `request` as it is; the status and body of the answer (None: no answer at all)."""
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    if not answer:
        return None, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture
def served_site(tmp_path):
    root = tmp_path / "site"
    for path, text in {"index.html": "home", "404.html": "Page not found", "static/style.css": "p{}",
                       "items/abc/index.html": "an item", "data/items.json": "[]"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    server = SiteServer(root, port=0).start()   # not quiet: what `opengovtech serve` would print
    yield server
    server.stop()


def test_the_server_lists_no_directory(served_site):
    for path in ("/static/", "/data/", "/items/", "/static", "/items"):
        status, body = raw_request(served_site, f"GET {path} HTTP/1.0\r\n\r\n".encode())
        assert status == 404 and b"style.css" not in body and b"items.json" not in body, path
    assert raw_request(served_site, b"GET /items/abc/ HTTP/1.0\r\n\r\n") == (200, b"an item")


@pytest.mark.parametrize("path", ["/%00", "/index.html%00.css", "/static/%00/", "/%ff%fe", "/%ed%a0%80",
                                  "/..%2f..%2f..%2fetc%2fpasswd", "/a%zz", "//etc/passwd",
                                  "/" + "a/" * 2000])
def test_the_server_answers_a_malformed_path_with_a_clean_error_and_keeps_serving(served_site, capfd, path):
    status, body = raw_request(served_site, f"GET {path} HTTP/1.0\r\n\r\n".encode())
    assert status in (400, 404), (path, status)
    assert b"passwd" not in body and b"root:" not in body
    assert raw_request(served_site, b"GET / HTTP/1.0\r\n\r\n") == (200, b"home")
    assert "Traceback" not in capfd.readouterr().err


def test_a_request_that_fails_inside_the_server_is_one_line_of_log_and_the_next_is_answered(served_site, capfd,
                                                                                             monkeypatch):
    answer = SiteRequestHandler.send_head

    def failing(handler):
        if handler.path == "/fails":
            raise RuntimeError("the handler failed")
        return answer(handler)
    monkeypatch.setattr(SiteRequestHandler, "send_head", failing)
    assert raw_request(served_site, b"GET /fails HTTP/1.0\r\n\r\n") == (None, b"")
    assert raw_request(served_site, b"GET / HTTP/1.0\r\n\r\n") == (200, b"home")
    log = capfd.readouterr().err
    assert "request failed: RuntimeError('the handler failed')" in log and "Traceback" not in log
