"""`kind: blog`: a blog's home page and a tag. The platform is detected from the page (generator
meta, host name) and its tag feed tried; when there is none, the site feed is read and
filtered by the tag. The URL that worked is recorded and read directly on later runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from pipelines.config import BlogSource
from pipelines.errors import FeedParseError, HarvestError, HTTPStatusFailure
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.parse import ParsedDocument, ParseOptions
from pipelines.parse.page_metadata import PageMetadata
from pipelines.sources.page import read_page
from pipelines.outcomes import SourceOutcome

PLATFORM_HOSTS = {"medium.com": "medium", "blogspot.com": "blogger", "wordpress.com": "wordpress",
                  "ghost.io": "ghost", "github.io": "jekyll"}
GENERATORS = ("wordpress", "ghost", "blogger", "hugo", "jekyll", "medium")


@dataclass
class FeedChoice:
    url: str
    scoped: bool        # a feed of the tag alone (every entry counts) or the whole site's (filtered)
    platform: str


def detect_platform(home: str, meta: PageMetadata) -> str | None:
    generator = (meta.generator or "").lower()
    for name in GENERATORS:
        if name in generator:
            return name
    host = urlsplit(home).hostname or ""
    for suffix, platform in PLATFORM_HOSTS.items():
        if host == suffix or host.endswith("." + suffix):
            return platform
    if (meta.site_name or "").lower() == "medium" or any("medium.com/feed" in f for f in meta.feeds):
        return "medium"
    return None


def tag_feed_candidates(home: str, platform: str | None, tag: str) -> list[str]:
    """Where each platform serves one tag's feed, in the order to try them."""
    root = home if home.endswith("/") else home + "/"
    slug = quote(tag.lower())
    parts = urlsplit(root)
    if platform == "wordpress":
        return [f"{root}tag/{slug}/feed/", f"{root}category/{slug}/feed/"]
    if platform == "ghost":
        return [f"{root}tag/{slug}/rss/"]
    if platform == "blogger":
        # Blogger labels are case-sensitive: the tag as written first.
        return [f"{root}feeds/posts/default/-/{quote(tag)}"] + (
            [f"{root}feeds/posts/default/-/{slug}"] if quote(tag) != slug else [])
    if platform == "hugo":
        return [f"{root}tags/{slug}/index.xml", f"{root}categories/{slug}/index.xml"]
    if platform == "jekyll":
        return [f"{root}feed/by_tag/{slug}.xml"]   # jekyll-feed with `feed: tags: true`
    if platform == "medium":
        path = parts.path.strip("/")
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.hostname == "medium.com" and path:   # a publication or @user on medium.com
            return [f"{origin}/feed/{path.split('/')[0]}/tagged/{slug}"]
        if parts.hostname == "medium.com":
            return [f"{origin}/feed/tag/{slug}"]
        return [f"{origin}/feed/tagged/{slug}"]       # a publication on its own domain
    return []


async def harvest_blog(source: BlogSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    allow_private = ctx.registry.allow_private_for(source)
    tag = source.tag or ctx.registry.tags_for(source)[0]
    wanted = tuple(dict.fromkeys([tag, *ctx.registry.wanted_tags(source)]))
    outcome = SourceOutcome(source_id=source.id, status="ok")
    state = ctx.state.source_state.get(source.id, {})
    tried: list[str] = []

    async def read(choice: FeedChoice) -> ParsedDocument | None:
        validators = ctx.state.validators.get(choice.url, (None, None))
        result = await ctx.fetcher.fetch(choice.url, allow_private=allow_private, etag=validators[0],
                                         last_modified=validators[1], stats=stats)
        outcome.http_status = result.status
        if result.not_modified:
            return None
        options = ParseOptions(source.id, wanted, tagged_only=not choice.scoped)
        document = await ctx.parse(result.body, result.url, result.content_type, options)
        if document.error or document.format == "html":
            raise FeedParseError(f"{choice.url} is not a feed" + (f": {document.error}" if document.error else ""),
                                 url=choice.url, http_status=result.status)
        outcome.validators.append((choice.url, result.etag, result.last_modified))
        return document

    choice = FeedChoice(state["feed_url"], state.get("scoped", False), state.get("platform", "")) \
        if state.get("feed_url") else None
    document: ParsedDocument | None = None
    if choice is not None:
        try:
            document = await read(choice)
        except (HTTPStatusFailure, FeedParseError):
            choice = None   # moved or gone: find the feed again from the home page
    if choice is None:
        choice, document = await discover(source, ctx, stats, tag, allow_private, read, tried)

    outcome.feed_url = choice.url
    outcome.state = {"feed_url": choice.url, "scoped": choice.scoped, "platform": choice.platform}
    if document is None:
        outcome.status = "not_modified"
        return outcome
    how = f"the blog's '{tag}' tag feed {choice.url}" if choice.scoped else f"the site feed {choice.url}"
    for record in document.records:
        if choice.scoped:
            record.match_reasons = [r for r in record.match_reasons if not r.startswith("source is on topic")]
            record.match_reasons.append(f"listed in {how}")
            record.matched = True
    outcome.records = document.records
    outcome.entries_read = document.entries_read
    notes = [f"read {how}" + (f" (platform: {choice.platform})" if choice.platform else "")]
    if tried:
        notes.append("no tag feed at " + ", ".join(tried))
    if not choice.scoped:
        kept = sum(r.matched for r in document.records)
        notes.append(f"{kept} of {len(document.records)} entries carry the tag '{tag}'")
    outcome.warning = "; ".join(notes)
    return outcome


async def discover(source: BlogSource, ctx: HarvestContext, stats: FetchStats, tag: str, allow_private, read,
                   tried: list[str]) -> tuple[FeedChoice, ParsedDocument | None]:
    _, meta = await read_page(ctx, source.url, stats, allow_private=allow_private)
    if meta is None:   # the home page answered 304 to a request that sent no validators
        raise FeedParseError(f"{source.url} sent no page", url=source.url)
    platform = detect_platform(source.url, meta)
    for url in tag_feed_candidates(source.url, platform, tag):
        choice = FeedChoice(url, scoped=True, platform=platform or "")
        try:
            return choice, await read(choice)
        except HarvestError as exc:
            if exc.status != "failed":
                raise   # robots.txt or a rate limit: say so rather than try around it
            tried.append(url)
    if not meta.feeds:
        raise FeedParseError(f"{source.url} names no feed (<link rel=\"alternate\">) and no tag feed was found"
                             + (f" (tried {', '.join(tried)})" if tried else ""), url=source.url)
    choice = FeedChoice(meta.feeds[0], scoped=False, platform=platform or "")
    return choice, await read(choice)
