"""`opengovtech check URL`: would the hub pick this post up, and if not, why not.

For the person tagging a post: which source in sources.yaml covers the URL (or the entry to
propose), whether it can be fetched and robots.txt allows it, where the tag was found or
which places were looked at and lacked it, the kind it would get, and whether it is already
in the hub. Every request goes through the harvest's own HTTP layer and its address guard.
Whether a run would pick the post up is what each covering source's own harvest reads now
(harvest_one) and normalise's tag rule make of it, so check and the run cannot disagree.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from pipelines.config import (BlogSource, BlueskySource, DevtoSource, DiscourseSource, FeedSource, GitHubSource,
                              MarkdownSource, MastodonSource, PageSource, SourceBase, SourceRegistry)
from pipelines.errors import FAILED_STATUSES, BlockedByRobots, HarvestError
from pipelines.sources.harvester import harvest_one
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import Fetcher, FetchStats, HttpSettings
from pipelines.parse import ParseOptions, parse_document
from pipelines.parse.discovery import looks_like_html
from pipelines.normalise.classify import ClassifyInput, classify
from pipelines.parse.commonmark import markdown_excerpt
from pipelines.parse.page_metadata import TAG_PLACES, parse_page_metadata
from pipelines.entry import Entry, json_object
from pipelines.net.redaction import redact
from pipelines.parse.slugs import slugify
from pipelines.sources.api import get_json
from pipelines.sources import bluesky, devto, discourse, mastodon
from pipelines.sources.github import README_EXCERPT_CHARS
from pipelines.sources.github_api import RAW_ACCEPT, api_url_from_env
from pipelines.sources.page import page_record
from pipelines.app.sources_file import dump_entry
from pipelines.parse.tags import ON_TOPIC_REASON, first_wanted, match_stored_entry, normalise_tag, repository_tag_matches
from pipelines.parse.urls import canonical_url, origin_of, url_identity
from pipelines.store.warehouse import FetchState

EXIT_PICKED_UP, EXIT_NOT_PICKED_UP, EXIT_ERROR = 0, 1, 2
# What check reads from a platform's API as that kind's harvest does: its tags are the run's, so a
# post they lack is one the source leaves out rather than one it has not listed yet.
POST_KINDS = ("Mastodon post", "Bluesky post", "dev.to article", "Discourse topic", "GitHub repository")
MASTODON_POST = re.compile(r"^/@([\w.]+)(?:@[\w.-]+)?/(\d+)/?$")
BLUESKY_POST = re.compile(r"^/profile/([^/]+)/post/([\w~.-]+)/?$")
DISCOURSE_TOPIC = re.compile(r"^/t/([^/]+)/(\d+)/?$")
GITHUB_REPO = re.compile(r"^/([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")
DEFAULT_BLUESKY_SERVICE = "https://public.api.bsky.app"


@dataclass
class CheckReport:
    url: str
    what: str = "web page"                       # web page, feed, Mastodon post, Bluesky post, …
    covered_by: list[str] = field(default_factory=list)   # "id (kind)"
    proposed_source: str | None = None           # a sources.yaml entry, when nothing covers it
    proposed_entry: dict | None = None           # the same entry as data
    reachable: bool | None = None
    http_status: int | None = None
    robots_allowed: bool | None = None
    tag_found: list[str] = field(default_factory=list)    # where, in words
    looked_at: list[str] = field(default_factory=list)    # places checked that lacked the tag
    kind: str | None = None
    in_hub: dict | None = None                   # {id, title, url, sources}
    reasons: list[str] = field(default_factory=list)      # why it would not be picked up
    verdict: str = ""
    exit_code: int = EXIT_NOT_PICKED_UP

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Found:
    """What reading the URL told us."""

    what: str
    canonical: str | None = None
    tags_found: list[str] = field(default_factory=list)
    looked_at: list[str] = field(default_factory=list)
    kind: str = "story"
    owner: str | None = None          # account, user or org the post or repo belongs to
    owner_type: str | None = None     # github: Organization | User
    feeds: list[str] = field(default_factory=list)


def check_url(url: str, registry: SourceRegistry | None, warehouse_path: Path | None,
              fetcher: Fetcher | None = None, tags: list[str] | None = None) -> CheckReport:
    """`tags`: the tags to look for, when not the registry's own (a publisher's own tag)."""
    report = asyncio.run(_check(url, registry, warehouse_path, fetcher, tags))
    # What services answered is printed and posted on issues: never with a credential in it.
    report.reasons = [redact(reason) for reason in report.reasons]
    return report


async def _check(url: str, registry, warehouse_path, fetcher, tags=None) -> CheckReport:
    report = CheckReport(url=url)
    wanted = list(tags) if tags else list(registry.defaults.tags) if registry else ["opengovtech"]
    own_fetcher = fetcher is None
    if fetcher is None:
        from pipelines.config import Defaults

        fetcher = Fetcher(HttpSettings.from_defaults(registry.defaults if registry else Defaults()))
    allow_private = registry.allow_private_for(_probe(url)) if registry else False
    try:
        found = await read_url(url, registry, fetcher, allow_private, wanted, report)
        if found is not None:
            report.what = found.what
            report.tag_found = found.tags_found
            report.looked_at = found.looked_at
            report.kind = found.kind
        covering = covering_sources(registry, url, found) if registry else []
        report.covered_by = [f"{s.id} ({s.kind})" for s in covering]
        report.in_hub = lookup_in_hub(warehouse_path, url, found.canonical if found else None)
        # A source picks a post up from what it reads (a feed, a timeline, a search, a forum tag, a
        # folder of files, the page itself), not from the post's own page: what decides is whether
        # the source is healthy and what it reads now holds the post, tagged.
        verdicts = []
        if covering and not (found is not None and found.what.startswith("feed")) and not report.in_hub:
            verdicts = [await source_verdict(s, registry, warehouse_path, fetcher, url, found) for s in covering]
    finally:
        if own_fetcher:
            await fetcher.__aexit__(None, None, None)
    on_topic_source = any(not s.tagged_only for s in covering)
    picked = [v for v in verdicts if v.picks_up]
    if picked:
        # The run reads the post from its source: that its own page could not be read does not matter.
        report.reasons = []
        report.kind = picked[0].kind or report.kind
        report.tag_found = report.tag_found or picked[0].tagged
        report.looked_at = [] if report.tag_found else report.looked_at

    if report.in_hub:
        report.verdict = "already in the hub"
        report.exit_code = EXIT_PICKED_UP
        return report
    if not covering:
        report.proposed_entry = proposed_entry(url, found, wanted)
        report.proposed_source = dump_entry(report.proposed_entry)
        report.reasons.append("no source in sources.yaml covers this URL" +
                              ("; add the entry below (or ask the hub's maintainers to)" if report.proposed_source else ""))
    if verdicts and not picked:
        report.reasons.extend(v.why_not for v in verdicts)
    elif found is not None and not found.tags_found and not on_topic_source and not picked:
        report.reasons.append(f"the tag {' or '.join('#' + t for t in wanted)} was not found "
                              f"(looked at: {', '.join(found.looked_at) or 'nothing readable'})")
    if report.reasons:
        report.verdict = "would not be picked up"
        report.exit_code = EXIT_NOT_PICKED_UP
    else:
        report.verdict = "would be picked up on the next run"
        report.exit_code = EXIT_PICKED_UP
    return report


@dataclass
class SourceVerdict:
    """What a run of one source would do with the post."""

    picks_up: bool
    why_not: str = ""
    kind: str | None = None
    tagged: list[str] = field(default_factory=list)   # where the run's tag rule found the tag


# What each kind's run reads, in the words a "why not" uses.
CONTENT_NAMES = {"feed": "feed", "blog": "feed", "page": "page", "github": "repositories", "mastodon": "timeline",
                 "bluesky": "search results", "devto": "article list", "discourse": "tag listing",
                 "markdown": "files"}


async def source_verdict(source: SourceBase, registry: SourceRegistry, warehouse_path: Path | None,
                         fetcher: Fetcher, url: str, found: Found | None) -> SourceVerdict:
    """Read what the source reads now with the run's own harvest of its kind (harvest_one, from a
    fresh state so everything it lists is read), find the post in it, and decide with normalise's
    own tag rule; a source that failed its last run, or fails now, says so."""
    health = source_health(warehouse_path, source.id)
    if health and health["status"] in ("failed", "blocked"):
        return SourceVerdict(False, f"the source {source.id} is failing: its last run ended "
                                    f"{health['status']} ({health['error'] or 'no reason recorded'})")
    ctx = HarvestContext(registry=registry, fetcher=fetcher, state=FetchState({}, {}), parse=_parse_in_thread)
    outcome = await harvest_one(source, ctx)
    content = CONTENT_NAMES.get(source.kind, "content")
    if outcome.status in FAILED_STATUSES:
        return SourceVerdict(False, f"the source {source.id} could not read its {content} now: "
                                    f"{outcome.error or outcome.status}")
    targets = {url_identity(u) for u in (canonical_url(url), found.canonical if found else None) if u}
    record = next((r for r in outcome.records if targets & record_urls(r)), None)
    wanted = registry.wanted_tags(source)
    tag_words = " or ".join("#" + t for t in wanted)
    if record is None:
        if found is not None and found.what in POST_KINDS and not found.tags_found and source.tagged_only:
            return SourceVerdict(False, f"the post is not tagged {tag_words}, so the source {source.id} "
                                        f"leaves it out of what it reads")
        return SourceVerdict(False, f"the post is not in the source {source.id}'s {content} yet "
                                    f"({outcome.entries_read} entries read)")
    matched, reasons = match_stored_entry(wanted, source.tagged_only, tags=record.tags, reasons=record.match_reasons)
    if not matched:
        return SourceVerdict(False, f"the post is in the source {source.id}'s {content} but not tagged "
                                    f"{tag_words} there")
    return SourceVerdict(True, kind=record_kind(record, source.kind, source.item_kind),
                         tagged=[r for r in reasons if r != ON_TOPIC_REASON])


async def _parse_in_thread(body: bytes, url: str, content_type: str | None, options: ParseOptions):
    return await asyncio.to_thread(parse_document, body, url, content_type, options)


def record_urls(record: Entry) -> set[str]:
    """The URLs a record answers to: its own, its canonical one, and the post that shared it."""
    urls = (record.url, record.canonical_url, json_object(record.mention).get("url"))
    return {url_identity(canonical_url(u) or u) for u in urls if u}


def tagged_reasons(record: Entry, wanted: list[str]) -> list[str]:
    """Where normalise's tag rule finds one of `wanted` on a record read by a kind's harvest code."""
    matched, reasons = match_stored_entry(wanted, True, tags=record.tags, reasons=record.match_reasons)
    return reasons if matched else []


def record_kind(record: Entry, source_kind: str, source_hint: str | None = None) -> str:
    """The kind normalise's classifier gives the record."""
    return classify(ClassifyInput.from_row(vars(record), source_kind=source_kind, source_hint=source_hint)).kind


def source_health(warehouse_path: Path | None, source_id: str) -> dict | None:
    if warehouse_path is None or not warehouse_path.exists():
        return None
    from pipelines.store.warehouse import open_for_reading

    with open_for_reading(warehouse_path) as con:
        row = con.execute("SELECT status, error FROM source_health WHERE source_id = ?", [source_id]).fetchone()
    return {"status": row[0], "error": row[1]} if row else None


def _probe(url: str) -> SourceBase:
    return PageSource(id="check", kind="page", url=url)


async def read_url(url: str, registry, fetcher: Fetcher, allow_private, wanted: list[str],
                   report: CheckReport) -> Found | None:
    ctx = HarvestContext(registry=registry, fetcher=fetcher, state=FetchState({}, {}), parse=_parse_in_thread)
    stats = FetchStats()
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        if host in ("github.com", "www.github.com") and GITHUB_REPO.match(parts.path):
            return await read_github_repo(ctx, parts.path, stats, allow_private, wanted, report)
        if host == "bsky.app" and BLUESKY_POST.match(parts.path):
            return await read_bluesky_post(ctx, registry, parts.path, stats, allow_private, wanted, report)
        devto_source = _devto_source_for(registry, url)
        if (host == "dev.to" or devto_source) and parts.path.count("/") == 2 and parts.path != "/":
            api = devto_source.api_url if devto_source else "https://dev.to"
            return await read_devto_article(ctx, api, parts.path, stats, allow_private, wanted, report)
        if MASTODON_POST.match(parts.path):
            return await read_mastodon_post(ctx, url, stats, allow_private, wanted, report)
        forum = _discourse_source_for(registry, url)
        if forum and DISCOURSE_TOPIC.match(parts.path):
            return await read_discourse_topic(ctx, registry, forum, parts.path, stats, report)
        return await read_web(ctx, url, stats, allow_private, wanted, report)
    except BlockedByRobots as exc:
        report.robots_allowed = False
        report.reachable = True
        report.reasons.append(f"robots.txt forbids the hub to read it: {exc.reason}")
    except HarvestError as exc:
        report.reachable = False
        report.http_status = exc.http_status
        report.reasons.append(f"not reachable: {exc.reason}")
    return None


async def read_web(ctx, url, stats, allow_private, wanted, report) -> Found:
    result = await ctx.fetcher.fetch(url, allow_private=allow_private, stats=stats,
                                     accept="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5")
    report.reachable, report.robots_allowed, report.http_status = True, True, result.status
    if looks_like_html(result.body, result.content_type):
        meta = await asyncio.to_thread(parse_page_metadata, result.body, result.url)
        found_places = meta.tag_matches(wanted)
        looked = [p for p in TAG_PLACES if not any(f.startswith(p + " ") for f in found_places)]
        record = page_record(meta, source_id="check", entry_key=url, wanted_tags=wanted, tagged_only=True)
        kind = record_kind(record, "page")
        return Found(what="web page", canonical=meta.best_url(), tags_found=found_places, looked_at=looked,
                     kind=kind, feeds=meta.feeds)
    document = parse_document(result.body, result.url, result.content_type, ParseOptions("check", tuple(wanted), True))
    if document.error:
        raise HarvestError(f"{url} is neither a web page nor a feed: {document.error}", url=url,
                           http_status=result.status)
    tagged = [r for r in document.records if r.matched]
    places = [f"{len(tagged)} of {len(document.records)} entries carry the tag"] if tagged else []
    if tagged:
        example = tagged[0]
        places.append(f"e.g. '{example.title}': {', '.join(example.match_reasons)}")
    return Found(what=f"feed ({document.format})", canonical=canonical_url(url), tags_found=places,
                 looked_at=[] if tagged else ["entry categories", "hashtags in titles, summaries and content"],
                 feeds=[result.url])


async def read_mastodon_post(ctx, url, stats, allow_private, wanted, report) -> Found:
    parts = urlsplit(url)
    status_id = MASTODON_POST.match(parts.path).group(2)
    origin = f"{parts.scheme}://{parts.netloc}"
    page = await get_json(ctx, f"{origin}/api/v1/statuses/{status_id}", stats, service="Mastodon",
                          allow_private=allow_private)
    report.reachable, report.http_status = True, page.status
    status = page.data.get("reblog") or page.data
    # The post read as the mastodon harvest reads it, then judged by normalise's tag rule. The probe
    # stands for no configured source (model_construct: the wanted tags need not be a valid setting).
    probe = MastodonSource.model_construct(id="check", kind="mastodon", instance=origin, hashtag=wanted[0])
    facts, _ = mastodon.post_facts(probe, status, wanted, [])
    record = mastodon.status_record(facts, status)
    found = tagged_reasons(record, wanted)
    return Found(what="Mastodon post", canonical=canonical_url(status.get("url") or url), tags_found=found,
                 looked_at=[] if found else ["the post's hashtags", "its text"], kind=record_kind(record, "mastodon"),
                 owner=facts.mention.author)


async def read_bluesky_post(ctx, registry, path, stats, allow_private, wanted, report) -> Found:
    handle, rkey = BLUESKY_POST.match(path).groups()
    services = [s.service for s in (registry.enabled("bluesky") if registry else [])] or [DEFAULT_BLUESKY_SERVICE]
    service = services[0]
    did = handle
    if not handle.startswith("did:"):
        resolved = await get_json(ctx, f"{service}/xrpc/com.atproto.identity.resolveHandle?handle={quote(handle)}",
                                  stats, service="Bluesky", allow_private=allow_private)
        did = resolved.data.get("did", handle)
    uri = f"at://{did}/app.bsky.feed.post/{rkey}"
    thread = await get_json(ctx, f"{service}/xrpc/app.bsky.feed.getPostThread?uri={quote(uri)}&depth=0",
                            stats, service="Bluesky", allow_private=allow_private)
    report.reachable, report.http_status = True, thread.status
    # The thread's post is the same post view searchPosts lists: read as the bluesky harvest reads it.
    post = (thread.data.get("thread") or {}).get("post") or {"uri": uri}
    probe = BlueskySource.model_construct(id="check", kind="bluesky", hashtag=wanted[0], service=service)
    facts, _ = bluesky.post_facts(probe, post, wanted)
    record = bluesky.skeet_record(facts, post)
    found = tagged_reasons(record, wanted)
    return Found(what="Bluesky post", canonical=f"https://bsky.app{path}", tags_found=found,
                 looked_at=[] if found else ["the post's tag facets", "its text"],
                 kind=record_kind(record, "bluesky"), owner=handle)


async def read_devto_article(ctx, api, path, stats, allow_private, wanted, report) -> Found:
    user, slug = path.strip("/").split("/", 1)
    page = await get_json(ctx, f"{api}/api/articles/{quote(user)}/{quote(slug)}", stats, service="dev.to",
                          allow_private=allow_private)
    report.reachable, report.http_status = True, page.status
    probe = DevtoSource.model_construct(id="check", kind="devto", username=user, api_url=api)
    record = devto.article_record(probe, page.data, wanted)
    found = tagged_reasons(record, wanted)
    return Found(what="dev.to article", canonical=record.canonical_url, tags_found=found,
                 looked_at=[] if found else [f"the article's tags ({', '.join(record.tags) or 'none'})"],
                 kind=record_kind(record, "devto"), owner=user)


async def read_discourse_topic(ctx, registry, forum: DiscourseSource, path, stats, report) -> Found:
    """A forum topic as the discourse harvest reads it (its JSON, robots.txt applying); it is in
    the source when it carries the tag the source lists."""
    page = await get_json(ctx, discourse.json_url(forum.base_url, path.rstrip("/")), stats, service="Discourse",
                          allow_private=registry.allow_private_for(forum), robots=True)
    report.reachable, report.robots_allowed, report.http_status = True, True, page.status
    topic = page.data if isinstance(page.data, dict) else {}
    posts = (topic.get("post_stream") or {}).get("posts") or []
    record = discourse.topic_record(forum, {**topic, "id": topic.get("id") or DISCOURSE_TOPIC.match(path).group(2)},
                                    posts[0] if posts else {})
    tags = discourse.topic_tags(topic)
    tag = first_wanted(registry.wanted_tags(forum), tags)
    return Found(what="Discourse topic", canonical=record.url, tags_found=[f"Discourse tag '{tag}'"] if tag else [],
                 looked_at=[] if tag else [f"the topic's tags ({', '.join(tags) or 'none'})"],
                 kind=record_kind(record, "discourse"))


async def read_github_repo(ctx, path, stats, allow_private, wanted, report) -> Found:
    owner, name = GITHUB_REPO.match(path).groups()
    api = api_url_from_env()
    headers = {"Authorization": f"Bearer {os.environ['GITHUB_TOKEN']}"} if os.environ.get("GITHUB_TOKEN") else None
    page = await get_json(ctx, f"{api}/repos/{owner}/{name}", stats, service="GitHub", allow_private=allow_private,
                          headers=headers)
    report.reachable, report.http_status = True, page.status
    repo = page.data
    readme = await ctx.fetcher.fetch(f"{api}/repos/{owner}/{name}/readme", allow_private=allow_private, stats=stats,
                                     accept=RAW_ACCEPT, headers=headers, robots=False, raise_for_status=False)
    readme_text = readme.body.decode("utf-8", "replace") if readme.status == 200 else ""
    topics = [t for t in repo.get("topics") or [] if isinstance(t, str)]
    found = repository_tag_matches(wanted, topics=topics, description=repo.get("description") or "",
                                   readme_excerpt=markdown_excerpt(readme_text, README_EXCERPT_CHARS))
    looked = [] if found else ["repository topics", "description", "README"]
    return Found(what="GitHub repository", canonical=canonical_url(repo.get("html_url") or f"https://github.com{path}"),
                 tags_found=found, looked_at=looked, kind="asset", owner=(repo.get("owner") or {}).get("login", owner),
                 owner_type=(repo.get("owner") or {}).get("type"))


def _same_origin_key(url: str) -> str:
    """Origins compared without regard to case (host names are case-insensitive)."""
    return origin_of(url).lower()


def _devto_source_for(registry, url: str) -> DevtoSource | None:
    origin = _same_origin_key(url)
    for source in registry.enabled("devto") if registry else []:
        if _same_origin_key(source.api_url) == origin:
            return source
    return None


def _discourse_source_for(registry, url: str) -> DiscourseSource | None:
    return next((s for s in registry.enabled("discourse") if url.startswith(s.base_url + "/")), None) \
        if registry else None


def covering_sources(registry: SourceRegistry, url: str, found: Found | None) -> list[SourceBase]:
    """The enabled sources that would read this URL."""
    what = found.what if found else ""
    origin = _same_origin_key(url)
    target = canonical_url(url)
    covering: list[SourceBase] = []
    for source in registry.enabled():
        if isinstance(source, PageSource):
            hit = canonical_url(source.url) in (target, found.canonical if found else None)
        elif isinstance(source, (FeedSource, BlogSource)):
            hit = _same_origin_key(source.url) == origin or (found is not None and source.url in found.feeds)
        elif isinstance(source, MastodonSource):
            hit = what == "Mastodon post" and (
                bool(source.hashtag) or (found is not None and found.owner == "@" + (source.account or "")))
        elif isinstance(source, BlueskySource):
            hit = what == "Bluesky post"
        elif isinstance(source, DevtoSource):
            hit = what == "dev.to article" and (source.tag is not None or source.username == (found and found.owner))
        elif isinstance(source, GitHubSource):
            owner = (found.owner or "").lower() if found else ""
            hit = what == "GitHub repository" and (
                (source.org or source.user or "").lower() == owner
                or (source.repo or "").lower() == urlsplit(url).path.strip("/").lower()
                or bool(source.topic) or bool(source.search))
        elif isinstance(source, DiscourseSource):
            hit = url.startswith(source.base_url + "/")
        elif isinstance(source, MarkdownSource):
            # Where its files are published, or the files themselves on GitHub.
            published = [p for p in (source.site_url, f"https://github.com/{source.repo}/" if source.repo else None) if p]
            hit = any(url.startswith(p) for p in published)
        else:
            hit = False
        if hit:
            covering.append(source)
    return covering


def proposed_entry(url: str, found: Found | None, wanted: list[str]) -> dict:
    """The sources.yaml entry that would pick this URL's publisher up."""
    parts = urlsplit(url)
    host = (parts.hostname or "site").lower()
    slug = slugify(host.removeprefix("www."))
    tag = wanted[0]
    what = found.what if found else "web page"
    if what == "Mastodon post" and found and found.owner:
        user = found.owner.lstrip("@").split("@")[0]
        return {"id": f"{slug}-{user.lower()}", "kind": "mastodon", "account": found.owner}
    if what == "Bluesky post":
        return {"id": f"bluesky-{normalise_tag(tag)}", "kind": "bluesky", "hashtag": tag}
    if what == "dev.to article" and found and found.owner:
        return {"id": f"devto-{found.owner.lower()}", "kind": "devto", "username": found.owner}
    if what == "GitHub repository" and found and found.owner:
        key = "org" if found.owner_type == "Organization" else "user"
        return {"id": f"github-{found.owner.lower()}", "kind": "github", key: found.owner}
    if what.startswith("feed"):
        return {"id": slug, "kind": "feed", "url": url}
    return {"id": slug, "kind": "blog", "url": f"{parts.scheme}://{parts.netloc}/", "tag": tag}


def lookup_in_hub(warehouse_path: Path | None, url: str, canonical: str | None) -> dict | None:
    if warehouse_path is None or not warehouse_path.exists():
        return None
    from pipelines.store.warehouse import open_for_reading

    candidates = [u for u in {canonical_url(url), canonical} if u]
    with open_for_reading(warehouse_path) as con:
        row = con.execute(
            """SELECT id, title, url, source_ids FROM hub_items
               WHERE list_contains($urls, url)
                  OR len(list_filter(mentions, m -> list_contains($urls, json_extract_string(m, '$.url')))) > 0
               LIMIT 1""", {"urls": candidates}).fetchone()
    if row is None:
        return None
    return {"id": row[0], "title": row[1], "url": row[2], "sources": row[3]}


def report_facts(report: CheckReport) -> list[tuple[str, str | list[str]]]:
    """What a check found, as (fact, value) pairs in the order they are shown; the terminal and an
    issue comment each give the facts their own labels."""
    facts: list[tuple[str, str | list[str]]] = [("what", report.what)]
    if report.reachable is not None:
        facts.append(("reachable", ("yes" if report.reachable else "no")
                      + (f" (HTTP {report.http_status})" if report.http_status else "")))
    if report.robots_allowed is not None:
        facts.append(("robots", "allows the hub" if report.robots_allowed else "forbids the hub"))
    facts.append(("covered_by", list(report.covered_by)))
    if report.tag_found:
        facts.append(("tag_found", list(report.tag_found)))
    elif report.looked_at:
        facts.append(("tag_not_found_in", list(report.looked_at)))
    if report.kind:
        facts.append(("kind", report.kind))
    return facts


TERMINAL_LABELS = {"what": "what it is:     ", "reachable": "reachable:      ", "robots": "robots.txt:     ",
                   "covered_by": "covered by:     ", "tag_found": "tag found:      ",
                   "tag_not_found_in": "tag not found in:", "kind": "kind:           "}


def format_report(report: CheckReport) -> str:
    lines = [f"{report.url}"]
    for fact, value in report_facts(report):
        if fact == "covered_by":
            value = value or "no source in sources.yaml"
        text = value if isinstance(value, str) else ("; " if fact == "tag_found" else ", ").join(value)
        lines.append(f"  {TERMINAL_LABELS[fact]} {text}")
    if report.in_hub:
        lines.append(f"  in the hub:      yes — '{report.in_hub['title']}' ({report.in_hub['url']})")
    else:
        lines.append("  in the hub:      no")
    lines.append(f"verdict: {report.verdict}")
    for reason in report.reasons:
        lines.append(f"  - {reason}")
    if report.proposed_source:
        lines.append("proposed sources.yaml entry:")
        lines.extend("  " + line for line in report.proposed_source.splitlines())
    return "\n".join(lines)
