"""Build the static hub site from the warehouse: pages, feeds out, data export, Pagefind index.

The site is written into the copy beside it that is not served and then served in one atomic
step (incremental.py), so a server pointed at the target never shows a half-built site. Every
file is rendered, but only those whose bytes differ from that copy's are written, and only the
Pagefind bundles whose item pages changed are indexed again.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from itertools import islice
from typing import Callable, Iterator
from urllib.parse import urljoin, urlsplit

import duckdb
import pyarrow.parquet as pq
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pipelines.config import SiteConfig
from pipelines.store.connection import registered, release_cache, setting
from pipelines.errors import SiteBuildError
from pipelines.tuning import return_freed_memory
from pipelines.sanitize import sanitize_for_site, xml_safe
from pipelines.publish.site import feeds
from pipelines.publish.site.content import (HUB_ORDER, KIND_PLURALS, HubContent, ItemCard, ItemPage, drop_site_tables,
                                    item_path, iter_item_ids, iter_item_pages, iter_kind_listings,
                                    iter_organisation_listings, iter_sitemap_entries, iter_tag_listings, kind_path,
                                    newest_cards, path_segment, read_hub)
from pipelines.publish.search import (MAX_IDF, RELATED_WEIGHT, STOPWORDS, WORDS_WEIGHT, related_words_by_term,
                                      related_words_for)
from pipelines.publish.site.incremental import (SearchBundleState, SiteFiles, SiteManifest, begin, finish, link_tree,
                                                load_manifest, next_generation, served_generation)
from pipelines.publish.site.pagefind import SearchBundle, combined_summary, index_bundle, plan_search_bundles

PAGE_SIZE = 50
# Cards rendered once per build and reused by every listing, related list and the home page an
# item appears on; bounded so a hub of a million items does not hold them all.
CARDS_KEPT = 20_000
# A site-relative path that joins its base by concatenation (no scheme, query, parent or absolute part).
_PLAIN_RELATIVE = re.compile(r"[\w\-.~/%]*")
_TAG_LIKE = re.compile(r"<[^>]*>")
_NOT_IN_FILTER = str.maketrans('<>"', "   ")
FILTER_DECODE_ROUNDS = 8
STATIC_DIR = Path(__file__).parent / "static"

# Inline script is forbidden; Pagefind's search runs as WebAssembly, hence 'wasm-unsafe-eval', and its
# stylesheet draws icons as data: SVG (local, no request leaves the page).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
                           "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'")


@dataclass
class SiteBuild:
    path: Path
    pages: int
    items: int
    bytes: int
    seconds: float
    search_index: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)      # site paths whose bytes changed (or are new)
    removed: list[str] = field(default_factory=list)      # site paths the last build had and this one has not
    kept: int = 0                                         # files left as the last build wrote them
    reindexed: list[str] = field(default_factory=list)    # Pagefind bundle directories indexed again

    def summary(self) -> str:
        return f"{len(self.written)} files written, {len(self.removed)} removed, {self.kept} unchanged"


@dataclass
class Page:
    items: list[ItemCard]
    number: int
    count: int
    previous: str | None
    next: str | None


def safe_href(url: str | None) -> str:
    """A URL fit for href: absolute http(s) only; anything else (javascript:, data:, …) becomes ''."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def search_filter_value(text: str) -> str:
    """A Pagefind filter value that stays plain text however often it is decoded. Pagefind decodes
    entities in the value again and its UI writes filter names into the page as HTML, and feeds hand
    back entity-escaped text ("&lt;img …&gt;"): entities are decoded and tags, <, > and " removed
    until nothing changes, so "<b onmouseover=…>Evil Org</b>" is offered as "Evil Org" and nothing
    is left that a decoder would turn into markup."""
    for _ in range(FILTER_DECODE_ROUNDS):
        plain = " ".join(_TAG_LIKE.sub(" ", html.unescape(text)).translate(_NOT_IN_FILTER).split())
        if plain == text:   # each round that decodes anything shortens the text: here none is left
            break
        text = plain
    else:
        text = " ".join(text.replace("&", " ").split())   # still decoding: no "&", so no entity
    return text or "(unnamed)"


def written_out(value: object) -> object:
    """Every value a page template writes, without the characters XML 1.0 forbids: a warehouse
    written before they were removed at ingest may still hold them."""
    if isinstance(value, Markup):
        return Markup(xml_safe(value))
    return xml_safe(value) if isinstance(value, str) else value


def json_for_script(data: object) -> str:
    """JSON that cannot end the <script> element it sits in."""
    return (json.dumps(data, ensure_ascii=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# The Pagefind weight of an item's related words (a page's body weighs 1): below its own words, and what
# tells the search page a word is held only among them.
RELATED_WORDS_WEIGHT = 0.5
SCHEMA_TYPES = {"story": "Article", "technique": "TechArticle", "asset": "CreativeWork", "event": "Event",
                "community": "Organization"}


class SiteWriter:
    def __init__(self, files: SiteFiles, hub: HubContent, site: SiteConfig):
        self.files = files
        self.hub = hub
        self.site = site
        self.base_path = urlsplit(site.base_url).path or "/"
        self.pages = 0
        self._cards: dict[tuple[str, str], Markup] = {}
        self._card_macro: Callable[[ItemCard], str] | None = None
        base = urlsplit(site.base_url)
        # urljoin and concatenation agree for a base ending in "/" with no query, fragment, "//" or dot segment.
        self._joins_by_concatenation = (site.base_url.endswith("/") and not base.query and not base.fragment
                                        and "//" not in base.path and not {".", ".."} & set(base.path.split("/")))
        self.env = Environment(loader=PackageLoader("pipelines.publish.site", "templates"),
                               autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                               finalize=written_out, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["safe_href"] = safe_href
        self.env.filters["search_filter_value"] = search_filter_value
        self.env.globals.update(
            site=site, url=self.url, absolute=self.absolute, card_html=self.card_html, kind_path=kind_path,
            csp=CONTENT_SECURITY_POLICY,
            generated_at=hub.generated_at, plurals=KIND_PLURALS,
            nav_kinds=[(kind, KIND_PLURALS.get(kind, kind.title())) for kind in hub.kind_counts],
            related_words_weight=RELATED_WORDS_WEIGHT,
            counts={"sources": sum(1 for s in hub.sources if s.active), "organisations": len(hub.organisations),
                    "items": hub.item_count})

    def url(self, path: str) -> str:
        return self.base_path + path

    def absolute(self, path: str) -> str:
        if self._joins_by_concatenation and _PLAIN_RELATIVE.fullmatch(path) and not path.startswith("/") and \
                "//" not in path and not {".", ".."} & set(path.split("/")):
            return self.site.base_url + path
        return urljoin(self.site.base_url, path)

    def card_html(self, item: ItemCard) -> Markup:
        """The item's card (macros.html's `card`), rendered once however many pages show it."""
        # Keyed by the card's class too: an item's card and its related card hold different fields.
        key = (type(item).__name__, item.id)
        html = self._cards.get(key)
        if html is None:
            if len(self._cards) >= CARDS_KEPT:
                self._cards.clear()
            if self._card_macro is None:   # the template's module is made once, not for every card
                self._card_macro = self.env.get_template("macros.html").module.card
            html = self._cards[key] = Markup(self._card_macro(item))
        return html

    def write(self, path: str, data: bytes | str) -> None:
        file_path = path + "index.html" if path.endswith("/") or path == "" else path
        self.files.write(file_path, data.encode("utf-8") if isinstance(data, str) else data)
        if file_path.endswith(".html"):
            self.pages += 1

    def render(self, template: str, path: str, **context) -> None:
        self.write(path, self.env.get_template(template).render(page_path=path, **context))

    def listing(self, base: str, heading: str, total: int, cards: Iterator[ItemCard], *, intro: str = "",
                homepage: str | None = None, feed_title: str | None = None) -> None:
        """Pages of PAGE_SIZE cards under `base` (and its feeds), from a stream of `total` cards."""
        count = max(1, -(-total // PAGE_SIZE))
        feed_path = json_path = None
        if feed_title:
            feed_path, json_path = f"{base}feed.atom", f"{base}feed.json"
        newest: list[ItemCard] = []

        def path_of(number: int) -> str:
            return base if number == 1 else f"{base}page/{number}/"
        for number in range(1, count + 1):
            page = Page(items=list(islice(cards, PAGE_SIZE)), number=number, count=count,
                        previous=path_of(number - 1) if number > 1 else None,
                        next=path_of(number + 1) if number < count else None)
            newest.extend(page.items[:feeds.FEED_LENGTH - len(newest)])
            self.render("listing.html", path_of(number), heading=heading, intro=intro, homepage=homepage, page=page,
                        total=total, feed=feed_path, json_feed=json_path)
        if feed_title:
            self.feeds(feed_path, json_path, feed_title, base, newest)

    def feeds(self, atom_path: str, json_path: str, title: str, html_path: str, items: list[ItemCard]) -> None:
        updated = items[0].sort_date if items and items[0].sort_date else self.hub.generated_at
        self.write(atom_path, feeds.atom_feed(title=title, feed_url=self.absolute(atom_path),
                                              site_url=self.absolute(html_path), items=items,
                                              absolute=self.absolute, updated=updated))
        self.write(json_path, feeds.json_feed(title=title, feed_url=self.absolute(json_path),
                                              site_url=self.absolute(html_path), description=self.site.description,
                                              items=items, absolute=self.absolute))


def build_site(con: duckdb.DuckDBPyConnection, out_dir: Path, site: SiteConfig | None = None, *,
               search: bool = True, search_index: Path | None = None) -> SiteBuild:
    """Write the whole site for the warehouse behind `con` to `out_dir` (replacing what was there),
    writing only the files whose bytes changed.
    Given the CLI's search index, each item's Pagefind record also carries its related words, so the
    site's search finds what the CLI finds for a query in other words.

    `out_dir` is a link to the generation served (incremental.py). A build that fails, for whatever
    reason, raises SiteBuildError and leaves the site served at `out_dir` as it was."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(phase: str) -> None:  # seconds since the previous phase ended
        timings[phase] = time.perf_counter() - started - sum(timings.values())
    site = site or SiteConfig()
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        served = served_generation(out_dir)
        generation = next_generation(out_dir)
        files = SiteFiles(generation, held=load_manifest(generation), served=load_manifest(served))
        begin(generation)
        related = related_words_by_term(search_index) if search and search_index and search_index.exists() else {}
        hub, writer, search_state, reindexed = _write_site(con, files, served, site, search, related, lap)
        finish(out_dir, generation, files.manifest(search_state))
    except Exception as exc:
        raise SiteBuildError(f"the site build failed and {out_dir} was left as it was: "
                             f"{type(exc).__name__}: {exc}") from exc
    size = _directory_bytes(out_dir)
    summary = combined_summary([state.summary for state in search_state.values()]) if search_state else ""
    return SiteBuild(path=out_dir, pages=writer.pages, items=hub.item_count, bytes=size,
                     seconds=time.perf_counter() - started, search_index=summary, timings=timings,
                     written=files.written, removed=files.removed, kept=files.kept, reindexed=reindexed)


def _write_site(con: duckdb.DuckDBPyConnection, files: SiteFiles, served: Path | None, site: SiteConfig,
                search: bool, related: dict[str, list[str]], lap: Callable[[str], None]
                ) -> tuple[HubContent, SiteWriter, dict[str, SearchBundleState], list[str]]:
    """Every file of the site, written into `files.generation` where it differs; the hub it shows,
    its writer, the Pagefind bundles' state and which bundles Pagefind indexed again."""
    generation = files.generation
    try:
        hub = read_hub(con)
        bundles = plan_search_bundles(map(path_segment, iter_item_ids(con)), site.search_bundle_items)
        writer = SiteWriter(files, hub, site)
        for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
            writer.write("static/" + path.relative_to(STATIC_DIR).as_posix(), path.read_bytes())
        lap("read")

        _write_listings(con, writer, hub, bundles)
        lap("listings")

        for page in iter_item_pages(con, hub.item_count):
            _write_item_page(writer, hub, page, related)
        lap("items")

        writer.feeds("feed.atom", "feed.json", site.title, "", newest_cards(con, feeds.FEED_LENGTH))
        writer.write("sources.opml", feeds.sources_opml(title=f"{site.title}: sources", sources=hub.sources,
                                                        generated=hub.generated_at))
        for name, document in feeds.sitemaps(_sitemap_urls(con, writer, hub), writer.absolute):
            writer.write(name, document)
        writer.write("robots.txt", f"User-agent: *\nAllow: /\nSitemap: {writer.absolute('sitemap.xml')}\n")
        with tempfile.TemporaryDirectory(prefix=generation.name + ".export-", dir=generation.parent) as export_dir:
            _export_data(con, Path(export_dir))
            for name in EXPORT_FILES:
                files.adopt(f"data/{name}", Path(export_dir) / name)
        lap("feeds_and_data")
    finally:
        drop_site_tables(con)

    files.remove_the_rest({bundle.subdir for bundle in bundles} if search else set())
    lap("removed")
    if not search:
        return hub, writer, {}, []
    state: dict[str, SearchBundleState] = {}
    stale: list[SearchBundle] = []
    for bundle in bundles:
        if _search_bundle_is_current(bundle, files.held, generation, hub, files.rewritten + files.deleted):
            state[bundle.subdir] = files.held.search[bundle.subdir]
        elif served and _search_bundle_is_current(bundle, files.served, served, hub, files.written + files.removed):
            # The served site's bundle matches these pages: its files, linked, are this one.
            link_tree(served / bundle.subdir, generation / bundle.subdir)
            state[bundle.subdir] = files.served.search[bundle.subdir]
        else:
            stale.append(bundle)
    if stale:
        release_cache(con)   # Pagefind runs beside this process: DuckDB's cache is not needed meanwhile
    for bundle in stale:
        state[bundle.subdir] = SearchBundleState(glob=bundle.glob, had_items=hub.item_count > 0,
                                                 summary=index_bundle(generation, bundle))
    lap("pagefind")
    return hub, writer, {b.subdir: state[b.subdir] for b in bundles}, [b.subdir for b in stale]


def _search_bundle_is_current(bundle: SearchBundle, indexed: SiteManifest, root: Path, hub: HubContent,
                              changed: list[str]) -> bool:
    """Whether the index of `bundle` under `root`, as `indexed` records it, matches these pages:
    the same bundle, and none of the pages it indexes in `changed` (in a hub with no items, every
    page is indexed)."""
    state = indexed.search.get(bundle.subdir)
    if state is None or state.glob != bundle.glob or state.had_items != (hub.item_count > 0):
        return False
    if not (root / bundle.subdir).is_dir():
        return False
    if hub.item_count == 0:
        return not any(path.endswith(".html") for path in changed)
    return not any(bundle.covers_item_page(path) for path in changed)


def _write_listings(con: duckdb.DuckDBPyConnection, writer: SiteWriter, hub: HubContent, bundles) -> None:
    site = writer.site
    writer.render("home.html", "", kinds=[(kind, count, hub.latest[kind]) for kind, count in hub.kind_counts.items()])
    for kind, cards in iter_kind_listings(con):
        label = KIND_PLURALS.get(kind, kind.title())
        writer.listing(kind_path(kind), label, hub.kind_counts[kind], cards, feed_title=f"{site.title}: {label.lower()}")
    tags = {tag.key: tag for tag in hub.tags}
    for key, cards in iter_tag_listings(con):
        tag = tags[key]
        writer.listing(tag.path, f"Tagged “{tag.label}”", tag.item_count, cards,
                       feed_title=f"{site.title}: tagged {tag.label}")
    writer.render("index_list.html", "tags/", heading="Tags",
                  entries=[{"path": t.path, "label": t.label, "count": t.item_count} for t in hub.tags])
    for name, cards in iter_organisation_listings(con):
        org = hub.organisation(name)
        writer.listing(org.path, org.name, org.item_count, cards, homepage=org.homepage,
                       intro=f"Harvested from {org.source_count} source{'' if org.source_count == 1 else 's'}.")
    writer.render("index_list.html", "organisations/", heading="Organisations",
                  entries=[{"path": o.path, "label": o.name, "count": o.item_count} for o in hub.organisations])
    writer.render("sources.html", "sources/", sources=hub.sources, healthy=sum(1 for s in hub.sources if s.healthy))
    writer.render("search.html", "search/", merged_bundles=[writer.url(b.subdir + "/") for b in bundles[1:]],
                  stopwords=sorted(STOPWORDS), max_word_weight=MAX_IDF, related_ranking_weight=RELATED_WEIGHT / WORDS_WEIGHT)
    writer.render("get_listed.html", "get-listed/")
    writer.render("about.html", "about/")
    writer.render("not_found.html", "404.html")


def _write_item_page(writer: SiteWriter, hub: HubContent, page: ItemPage, related: dict[str, list[str]]) -> None:
    item = page.card
    original = safe_href(item.url)
    writer.render(
        "item.html", item.path, item=item, organisation=hub.organisation_of(item), original=original,
        original_host=urlsplit(original).hostname if original else None,
        content_html=sanitize_for_site(page.content_html) if page.content_html else "",
        facts=page.asset.get("facts", {}), homepage=safe_href(page.asset.get("homepage")),
        mentions=[dict(m, url=safe_href(m["url"])) for m in page.mentions if safe_href(m["url"])],
        tags=[tag for tag in (hub.tag(label) for label in dict.fromkeys(item.tags)) if tag],
        shared_in=[source for s in item.source_ids if (source := hub.source(s))],
        related=page.related, project_title=page.project_title, project_lead_path=page.project_lead_path,
        related_words=related_words_for([item.title, " ".join(item.tags), item.summary], related),
        json_ld=json_for_script(_json_ld(writer, item, original)))


def _json_ld(writer: SiteWriter, item: ItemCard, original: str) -> dict:
    data: dict = {"@context": "https://schema.org", "@type": SCHEMA_TYPES.get(item.kind, "CreativeWork"),
                  "mainEntityOfPage": writer.absolute(item.path)}
    if item.kind == "community":
        data["name"] = item.title
    else:
        data["headline"] = item.title[:110]
        data["name"] = item.title
    if original:
        data["url"] = original
    if item.summary:
        data["description"] = item.summary
    if item.published_at:
        data["datePublished"] = item.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if item.updated_at:
        data["dateModified"] = item.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if item.author:
        data["author"] = {"@type": "Person", "name": item.author}
    if item.organisation:
        data["publisher"] = {"@type": "Organization", "name": item.organisation}
    if item.tags:
        data["keywords"] = item.tags
    if item.language:
        data["inLanguage"] = item.language
    return data


def _sitemap_urls(con: duckdb.DuckDBPyConnection, writer: SiteWriter, hub: HubContent):
    yield writer.absolute(""), hub.generated_at
    for path in ("search/", "organisations/", "tags/", "sources/", "get-listed/", "about/"):
        yield writer.absolute(path), None
    for kind in hub.kind_counts:
        yield writer.absolute(kind_path(kind)), None
    for org in hub.organisations:
        yield writer.absolute(org.path), None
    for tag in hub.tags:
        yield writer.absolute(tag.path), None
    for item_id, modified in iter_sitemap_entries(con):
        yield writer.absolute(item_path(item_id)), modified


EXPORT_COLUMNS = ("id", "kind", "title", "url", "summary", "author", "organisation", "published_at", "updated_at",
                  "language", "tags", "source_ids", "match_reasons", "first_seen_at", "last_seen_at", "content_text")

# The export's order, newest first, numbered: only ids and dates are sorted, never the texts.
EXPORT_ORDER_SQL = f"""
CREATE OR REPLACE TEMP TABLE export_order AS
SELECT id, row_number() OVER (ORDER BY {HUB_ORDER}) AS rn
FROM hub_items
"""
EXPORT_CHUNK_SQL = f"""
SELECT {", ".join(f"h.{column}" for column in EXPORT_COLUMNS)}
FROM hub_items h JOIN export_order o USING (id)
WHERE o.rn > $low AND o.rn <= $high
ORDER BY o.rn
"""

# Rows are exported EXPORT_ROW_GROUP at a time, each chunk one Parquet row group and its share of
# the JSON array. One COPY of the ordered items sorted every text at once, past the build's limit
# on a large hub, as did a whole row group of DuckDB's default size (docs/scaling.md).
EXPORT_ROW_GROUP = 10_000


EXPORT_FILES = ("items.json", "items.parquet")


def _export_data(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """EXPORT_FILES in `data_dir`: items.json (an array of objects, DuckDB's JSON for each row) and
    items.parquet: the `hub_items` columns but content_html, newest first."""
    data_dir.mkdir(parents=True, exist_ok=True)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(EXPORT_ORDER_SQL)
    try:
        (total,), = con.execute("SELECT count(*) FROM export_order").fetchall()
        schema = con.execute(EXPORT_CHUNK_SQL, {"low": 0, "high": 0}).to_arrow_table().schema
        with (pq.ParquetWriter(data_dir / "items.parquet", schema, compression="zstd") as parquet,
              open(data_dir / "items.json", "w", encoding="utf-8") as json_out,
              setting(con, "preserve_insertion_order", "true")):
            json_out.write("[")
            separator = "\n"
            for low in range(0, total, EXPORT_ROW_GROUP):
                chunk = con.execute(EXPORT_CHUNK_SQL, {"low": low, "high": low + EXPORT_ROW_GROUP}).to_arrow_table()
                parquet.write_table(chunk, row_group_size=EXPORT_ROW_GROUP)
                with registered(con, "export_chunk", chunk):
                    for batch in con.execute("SELECT to_json(c) FROM export_chunk c").to_arrow_reader(1_000):
                        for row in batch.column(0).to_pylist():
                            json_out.write(separator + row)
                            separator = ",\n"
                del chunk
                return_freed_memory()  # else RSS climbs chunk by chunk though each chunk is freed
            json_out.write("\n]\n" if total else "]\n")
    finally:
        con.execute("DROP TABLE IF EXISTS temp.export_order")


def _directory_bytes(root: Path) -> int:
    """Total size of the files under `root`. Not `rglob`: it holds a Path for every file of a
    directory, which on a large site took a large share of the build's memory."""
    total = 0
    directories = [root]
    while directories:
        with os.scandir(directories.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    directories.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


SITE_STATE_KEY = "site_built_from"
# One hash per row, combined without sorting or joining the rows (as the items' fingerprint, whose
# joined string ran out of memory at 54,000 sources): what they cost does not grow with the hub.
HEALTH_DIGEST_SQL = """
SELECT concat(count(*), ':', bit_xor(md5_number_lower(concat_ws('|', h.source_id,
    CASE WHEN h.status IN ('ok', 'not_modified') THEN 'ok' ELSE h.status END, h.error, h.next_attempt_at))))
FROM source_health h
"""
BROKEN_LINKS_DIGEST_SQL = "SELECT concat(count(*), ':', bit_xor(md5_number_lower(url))) FROM link_checks WHERE NOT ok"


def site_fingerprint(con: duckdb.DuckDBPyConnection, site: SiteConfig, items_state: str | None, search: bool) -> str:
    """What the built site depends on: the items, the sources' standing (a 304 is as good as a
    200 here, and a 304 carries no parse warning, so warnings do not count), broken links, the
    site settings, and the templates and static files of this version."""
    code = hashlib.sha1()
    for path in sorted(p for d in (STATIC_DIR, STATIC_DIR.parent / "templates") for p in d.rglob("*") if p.is_file()):
        code.update(path.name.encode())
        code.update(path.read_bytes())
    health = con.execute(HEALTH_DIGEST_SQL).fetchone()[0]
    broken = con.execute(BROKEN_LINKS_DIGEST_SQL).fetchone()[0]
    return "|".join([items_state or "", health, broken, site.model_dump_json(), code.hexdigest(), str(search)])
