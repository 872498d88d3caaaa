"""`kind: markdown`: Markdown files with YAML (or TOML) front matter, from a GitHub repository or a
local directory — Jekyll sites such as opengovtech.org (odileeds/OpenGovTech) and Hugo sites among them.

Jekyll collections say what a file is: `_posts` are stories (dated by their file name),
`_assets` assets (opengovtech.org's catalogue: originator, external_url, date_added,
date_checked), `_contributors` organisations (kind community). From a repository, the tree is
read in one request and only files whose blob changed since the last run are fetched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import re
import stat
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone, tzinfo
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import frontmatter
import frontmatter.default_handlers

from pipelines.config import MarkdownSource
from pipelines.dates import parse_datetime, utc_now
from pipelines.errors import APIResponseError, ConfigError, FeedParseError, FileRefused, RateLimited, RetryDeferred
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.parse.commonmark import inline_markdown_to_text, markdown_to_html
from pipelines.entry import Entry
from pipelines.safe_yaml import load_yaml
from pipelines.sanitize import html_to_text, summarise
from pipelines.sources.github import shared_api
from pipelines.sources import docusaurus, hugo, jekyll, middleman
from pipelines.sources.github_api import RAW_ACCEPT
from pipelines.parse.tags import first_wanted, merge_tags
from pipelines.parse.urls import canonical_url, item_id
from pipelines.outcomes import SourceOutcome

EXTENSIONS = (".md", ".markdown", ".mdown", ".txt")
COLLECTION_KINDS = {"_posts": "story", "_assets": "asset", "_contributors": "community"}
# Jekyll folders that are not content, and drafts, which are not published.
NOT_CONTENT = {"_drafts", "_layouts", "_includes", "_sass", "_site", "_data", "_plugins", "node_modules",
               ".github", "vendor"}
ASSET_TYPES = {"repo", "dataset", "tool", "standard", "other"}
POST_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")
# A larger file is not read: from a directory it is named in the warning, from a repository left out.
MAX_FILE_BYTES = 1_000_000
# Front matter is a page of keys; a file whose front matter is larger is not read.
MAX_FRONT_MATTER_BYTES = 64_000
# How many unread files a source's warning names (the rest are counted).
NAMED_UNREAD = 20


@dataclass
class FileListing:
    """What a repository or directory holds: the files to read this run, every file's blob id,
    and the Jekyll site's _config.yml (with the blob it was read from)."""

    files: list["MarkdownFile"]
    blobs: dict[str, str]
    config: dict | None = None
    config_sha: str | None = None
    # Jekyll's _config.yml or Docusaurus' configuration (at or above the source's path), one of
    # hugo.CONFIG_FILES, or Middleman's config.rb
    config_file: str | None = None
    branch: str = ""
    refused: list[str] = field(default_factory=list)   # "path: why it was not read"

    @property
    def hugo_site(self) -> hugo.HugoSite | None:
        return hugo.hugo_site(self.config) if self.config_file in hugo.CONFIG_FILES else None

    @property
    def middleman_site(self) -> bool:
        return self.config_file == middleman.CONFIG_FILE

    @property
    def docusaurus_root(self) -> str | None:
        """The folder of a Docusaurus site's configuration as a prefix ("website/", "" for the root),
        if the site is one."""
        if self.config_file is None or PurePosixPath(self.config_file).name not in docusaurus.CONFIG_FILES:
            return None
        return self.config_file[:-len(PurePosixPath(self.config_file).name)]

    @property
    def jekyll_site(self) -> jekyll.JekyllSite | None:
        if self.config_file is None or not jekyll.is_config_file(self.config_file):
            return None
        return jekyll.JekyllSite(self.config if isinstance(self.config, dict) else {},
                                 jekyll.root_of(self.config_file))

    def wanted(self, under: str) -> Callable[[str], bool]:
        """Whether a file of this site is content to read, for a source reading `under` (the site's
        kind worked out once, not for every file)."""
        hugo_site, middleman_site = self.hugo_site, self.middleman_site
        jekyll_html = self.jekyll_site is not None
        whole_jekyll_site = self.config_file == "_config.yml" and not under
        return lambda path: wanted_file(path, jekyll_site=whole_jekyll_site, under=under, hugo_site=hugo_site,
                                        jekyll_html=jekyll_html, middleman_site=middleman_site)

    @property
    def timezone(self) -> tzinfo:
        """The zone the site's times without an offset are in: its `timezone` (Jekyll, Hugo), else UTC."""
        name = self.config.get("timezone") if isinstance(self.config, dict) else None
        try:
            return ZoneInfo(name) if isinstance(name, str) and name.strip() else timezone.utc
        except (ZoneInfoNotFoundError, ValueError):
            return timezone.utc


@dataclass
class MarkdownFile:
    path: str          # relative to the repository or directory root, with '/'
    text: str
    blob: str          # git blob sha, or a content hash for local files


def collection_of(path: str) -> str | None:
    for part in PurePosixPath(path).parts[:-1]:
        if part.startswith("_"):
            return part
    return None


def content_folder(name: str) -> bool:
    return name not in NOT_CONTENT and not name.startswith(".")


def site_config_file(exists, under: str) -> str | None:
    """The site's configuration file, by the names `exists` accepts: Jekyll's _config.yml in the
    source's folder or the nearest above it (a site's `_posts` is read with its site's permalinks),
    else the first of Hugo's."""
    jekyll_config = next((f"{folder}_config.yml" for folder in folders_above(under)
                          if exists(f"{folder}_config.yml")), None)
    if jekyll_config:
        return jekyll_config
    for folder in folders_above(under):
        found = next((f"{folder}{name}" for name in docusaurus.CONFIG_FILES if exists(f"{folder}{name}")), None)
        if found:
            return found
    hugo_config = next((name for name in hugo.CONFIG_FILES if exists(name)), None)
    if hugo_config:
        return hugo_config
    # A config.rb may be any Ruby tool's; it is Middleman's when the source reads Middleman's pages folder.
    in_source = under == middleman.SOURCE_FOLDER or under.startswith(middleman.SOURCE_FOLDER + "/")
    return middleman.CONFIG_FILE if in_source and exists(middleman.CONFIG_FILE) else None


def folders_above(folder: str) -> list[str]:
    """`folder` and each folder above it, each written as a prefix ("a/b/", "a/", "")."""
    parents = [folder, *(str(p) for p in PurePosixPath(folder).parents)] if folder else []
    return [f"{p}/" for p in parents if p not in ("", ".")] + [""]


def read_site_config(name: str, text: str) -> dict | None:
    if PurePosixPath(name).name in docusaurus.CONFIG_FILES or name == middleman.CONFIG_FILE:
        return {}   # JavaScript or Ruby, not read: the generator's defaults are assumed
    config = _yaml(text) if jekyll.is_config_file(name) else hugo.read_config(name, text)
    # Kept in the source's state as JSON (a TOML date is written as its text).
    return _plain(config) if config is not None else None


def wanted_file(path: str, *, jekyll_site: bool, under: str, hugo_site: hugo.HugoSite | None = None,
                jekyll_html: bool = False, middleman_site: bool = False) -> bool:
    """Whether a file is content to read. `jekyll_site`: the whole Jekyll site is read, so only its
    collections are content; `jekyll_html`: the site is Jekyll's, whose posts may be HTML;
    `middleman_site`: Middleman's pages (logging.html.md.erb) are read."""
    parts = PurePosixPath(path).parts
    if hugo_site is not None and not hugo.is_page(hugo_site, path):
        return False
    if middleman_site:
        return (middleman.is_page(path) and (not under or path.startswith(under + "/"))
                and all(content_folder(p) for p in parts[:-1]))
    # Jekyll reads HTML posts too (WordPress imports write them); other underscore folders' HTML is
    # often an import's leftovers (menus, attachments), so only posts are read.
    html_document = jekyll_html and path.lower().endswith(".html") and collection_of(path) == "_posts"
    if not (path.lower().endswith(EXTENSIONS) or html_document) or (under and not path.startswith(under + "/")):
        return False
    if not all(content_folder(p) for p in parts[:-1]):
        return False
    if PurePosixPath(path).name.lower() in ("readme.md", "license.md", "contributing.md", "changelog.md"):
        return False
    # In a Jekyll site, pages outside collections (index, about, 404) are the site, not its content.
    return not jekyll_site or collection_of(path) is not None


async def harvest_markdown(source: MarkdownSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    outcome = SourceOutcome(source_id=source.id, status="ok")
    previous: dict[str, str] = ctx.state.source_state.get(source.id, {}).get("blobs", {})
    try:
        listing = await read_repository(source, ctx, stats, previous) if source.repo else read_directory(source, ctx)
    except (RateLimited, RetryDeferred) as exc:
        outcome.cut_short(exc, "files are read next run")
        return outcome
    files, blobs, config = listing.files, listing.blobs, listing.config
    jekyll_site = listing.jekyll_site
    records, problems, unpublished_files = [], [], 0
    wanted = ctx.registry.tags_for(source)
    for file in files:
        try:
            post = read_post(file)
            if jekyll_site is not None:
                post.metadata = jekyll_site.front_matter(file.path, collection_of(file.path), post.metadata)
            if unpublished(post.metadata):
                unpublished_files += 1
                continue
            records.append(file_record(source, file, wanted, branch=listing.branch,
                                       hugo_site=listing.hugo_site, jekyll_site=jekyll_site,
                                       docusaurus_root=listing.docusaurus_root, middleman_site=listing.middleman_site,
                                       zone=listing.timezone, post=post))
        except ConfigError as exc:   # front matter the YAML loader refused: "path:line: why"
            problems.extend(exc.problems)
        except ValueError as exc:
            problems.append(f"{file.path}: {exc}")
    outcome.records = at_own_page_when_shared(records)
    outcome.entries_read = len(files)
    # Files that could not be read keep their old blob id out of the state, so they are tried again.
    failed = {p.split(":", 1)[0] for p in problems}
    outcome.state = {"blobs": {path: blob for path, blob in blobs.items() if path not in failed}}
    if listing.config_sha:
        outcome.state["site_config"] = {"sha": listing.config_sha, "config": config, "file": listing.config_file}
    unchanged = len(blobs) - len(files)
    unread = listing.refused + problems
    notes = unread[:NAMED_UNREAD] + ([f"{len(unread) - NAMED_UNREAD} more files not read"]
                                     if len(unread) > NAMED_UNREAD else [])
    if unpublished_files:
        notes.append(f"{unpublished_files} files not published (a draft, published: false or past their expirydate)")
    notes += [f"{unchanged} files unchanged since the last run"] if unchanged and files else []
    if not files and blobs:
        outcome.status = "not_modified"
    elif not blobs:
        notes.insert(0, f"no Markdown files found in {source.url}" + (f" under {source.path}/" if source.path else ""))
    outcome.warning = "; ".join(notes) or None
    return outcome


async def read_repository(source: MarkdownSource, ctx: HarvestContext, stats: FetchStats,
                          previous: dict[str, str]) -> FileListing:
    api = shared_api(ctx, source)
    branch = source.branch
    if branch is None:
        repo = (await api.get(api.url(f"/repos/{source.repo}"), stats=stats)).json()
        branch = repo.get("default_branch") or "main"
    tree = (await api.get(api.url(f"/repos/{source.repo}/git/trees/{quote(branch, safe='')}", recursive=1),
                          stats=stats)).json()
    if not isinstance(tree, dict) or not isinstance(tree.get("tree"), list):
        raise APIResponseError(f"GitHub sent no file tree for {source.repo}@{branch}")
    entries = {e["path"]: e for e in tree["tree"] if isinstance(e, dict) and e.get("type") == "blob" and "path" in e}
    config_file = site_config_file(lambda name: name in entries, source.path)
    config, config_sha = None, None
    if config_file:
        # The site's configuration is read again only when its blob changed.
        known = ctx.state.source_state.get(source.id, {}).get("site_config") or {}
        config_sha = entries[config_file].get("sha")
        if known.get("sha") == config_sha and known.get("file", "_config.yml") == config_file:
            config = known.get("config")
        else:
            config = read_site_config(config_file, await _raw(api, source.repo, config_file, branch, stats) or "")
    listing = FileListing([], {}, config, config_sha, config_file, branch)
    wanted = listing.wanted(source.path)
    blobs = {path: e.get("sha", "") for path, e in entries.items()
             if wanted(path) and (e.get("size") or 0) <= MAX_FILE_BYTES}
    changed = [path for path, sha in blobs.items() if previous.get(path) != sha]

    async def fetch(path: str) -> MarkdownFile | None:
        text = await _raw(api, source.repo, path, branch, stats)
        return MarkdownFile(path, text, blobs[path]) if text is not None else None

    listing.files = [f for f in await asyncio.gather(*(fetch(p) for p in changed)) if f is not None]
    listing.blobs = blobs
    return listing


async def _raw(api, repo: str, path: str, branch: str, stats: FetchStats) -> str | None:
    response = await api.get(api.url(f"/repos/{repo}/contents/{quote(path)}", ref=branch), stats=stats,
                             accept=RAW_ACCEPT, missing_ok=True)
    return response.text if response is not None else None


def read_directory(source: MarkdownSource, ctx: HarvestContext) -> FileListing:
    """The wanted files of a local directory. It is often a clone that others push to, so a link
    is followed only while it stays inside the directory, and only regular files are read."""
    root = Path(source.directory or "")
    if not root.is_absolute():
        root = ctx.registry.path.resolve().parent / root
    if not root.is_dir():
        raise FeedParseError(f"directory {root} does not exist", url=str(root))
    root = root.resolve()
    previous = ctx.state.source_state.get(source.id, {}).get("blobs", {})
    config_file = site_config_file(lambda name: (root / name).is_file(), source.path)
    refused: list[str] = []
    config = None
    if config_file:
        try:
            config = read_site_config(config_file, read_local_file(root, config_file).decode("utf-8", errors="replace"))
        except FileRefused as exc:
            refused.append(f"{config_file}: {exc.reason}")
    listing = FileListing([], {}, config, config_file=config_file, refused=refused)
    files, blobs = [], {}
    for path in local_files(root, refused, under=source.path, wanted=listing.wanted(source.path)):
        try:
            data = read_local_file(root, path)
        except FileRefused as exc:
            refused.append(f"{path}: {exc.reason}")
            continue
        blob = hashlib.sha1(data).hexdigest()
        blobs[path] = blob
        if previous.get(path) != blob:
            files.append(MarkdownFile(path, data.decode("utf-8", errors="replace"), blob))
    listing.files, listing.blobs = files, blobs
    return listing


def local_files(root: Path, refused: list[str], *, under: str, wanted) -> list[str]:
    """The paths (relative to `root`, which is resolved) of the files under it that `wanted`
    accepts, sorted. Links to folders are not descended into (no cycles, no folder read twice):
    one leading outside `root` from a content folder is named in `refused`."""
    found: list[str] = []
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            refused.append(f"{prefix or './'}: cannot be listed ({exc.strerror})")
            continue
        for entry in entries:
            path = prefix + entry.name
            try:
                is_link, is_folder = entry.is_symlink(), entry.is_dir()
            except OSError:
                is_link, is_folder = True, False
            if not is_folder:
                if wanted(path):
                    found.append(path)
                continue
            on_the_way = not under or path.startswith(under + "/") or (under + "/").startswith(path + "/")
            if not content_folder(entry.name) or not on_the_way:
                continue
            if not is_link:
                pending.append((Path(entry.path), path + "/"))
            elif not Path(os.path.realpath(entry.path)).is_relative_to(root):
                refused.append(f"{path}/: links outside the directory")
    return sorted(found)


def read_local_file(root: Path, path: str) -> bytes:
    """The bytes of the regular file at `path` under `root` (resolved), or FileRefused. Checked
    before it is opened (a FIFO would block the open, a device may act on it) and again once open."""
    real = Path(os.path.realpath(root / path))
    if not real.is_relative_to(root):
        raise FileRefused("links outside the directory")
    try:
        before = os.stat(real, follow_symlinks=False)
        if not stat.S_ISREG(before.st_mode):
            raise FileRefused("not a regular file")
        if before.st_size > MAX_FILE_BYTES:
            raise FileRefused(f"larger than {MAX_FILE_BYTES:,} bytes")
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as opened:
            if not stat.S_ISREG(os.fstat(opened.fileno()).st_mode):   # replaced since it was checked
                raise FileRefused("not a regular file")
            data = opened.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FileRefused(f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused(f"larger than {MAX_FILE_BYTES:,} bytes")
    return data


def _yaml(text: str) -> dict | None:
    try:
        data = load_yaml(text, "_config.yml", max_bytes=MAX_FILE_BYTES)
    except ConfigError:
        return None
    return data if isinstance(data, dict) else None


class BoundedFrontMatter(frontmatter.YAMLHandler):
    """Jekyll's front matter, YAML between `---` lines at the top of a file, read with the hub's
    bounded YAML loader. Only YAML: a file that does not start with `---` is all body."""

    def __init__(self, name: str, first_line: int):
        super().__init__()
        self.name, self.first_line = name, first_line

    def split(self, text: str) -> tuple[str, str]:
        if not self.detect(text):
            raise ValueError("no front matter")   # frontmatter.parse then reads the whole text as body
        return super().split(text)

    def load(self, fm: str, **kwargs) -> object:
        return load_yaml(fm, self.name, max_bytes=MAX_FRONT_MATTER_BYTES, first_line=self.first_line, page=True)


class BoundedTomlFrontMatter(frontmatter.default_handlers.BaseHandler):
    """Hugo's TOML front matter, between `+++` lines, read with Python's own TOML reader."""

    FM_BOUNDARY = re.compile(r"^\+{3,}\s*$", re.MULTILINE)

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def load(self, fm: str, **kwargs) -> object:
        if len(fm.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
            raise ValueError(f"front matter larger than {MAX_FRONT_MATTER_BYTES:,} bytes")
        try:
            return tomllib.loads(fm)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"TOML front matter: {exc}") from None


def unpublished(meta: dict) -> bool:
    """Whether the site leaves the file out: Jekyll's `published: false`, Hugo's drafts and pages
    past their expiry date."""
    if meta.get("published") is False or meta.get("draft") is True:
        return True
    expiry = _date(meta.get("expirydate") or meta.get("expiryDate"))
    return expiry is not None and expiry <= utc_now()


def read_post(file: MarkdownFile) -> frontmatter.Post:
    """The file's front matter (YAML between `---` lines, or TOML between `+++`) and body."""
    # The front matter handed to the loader starts at the end of its opening `---` line, so its
    # lines are the file's, below any blank lines python-frontmatter strips first.
    leading_lines = file.text[:len(file.text) - len(file.text.lstrip())].count("\n")
    handler = (BoundedTomlFrontMatter(file.path) if file.text.lstrip().startswith("+++")
               else BoundedFrontMatter(file.path, first_line=leading_lines + 1))
    return frontmatter.loads(file.text, handler=handler)


def file_record(source: MarkdownSource, file: MarkdownFile, wanted, *, branch: str,
                hugo_site: hugo.HugoSite | None = None, jekyll_site: jekyll.JekyllSite | None = None,
                docusaurus_root: str | None = None, middleman_site: bool = False, zone: tzinfo = timezone.utc,
                post: frontmatter.Post | None = None) -> Entry:
    """The item a file is (its front matter and body already read, as `post`, or read here)."""
    post = post if post is not None else read_post(file)
    meta = {str(k): v for k, v in post.metadata.items()}
    name = PurePosixPath(file.path).stem
    collection = collection_of(file.path)
    kind = COLLECTION_KINDS.get(collection or "")
    name_match = POST_NAME.match(name)
    slug = name_match.group(4) if name_match else name

    published = _date(meta.get("date"), zone) or _date(meta.get("date_added"), zone)
    blog_post = None
    if docusaurus_root is not None and file.path.startswith(docusaurus_root):
        blog_post = docusaurus.blog_post(file.path[len(docusaurus_root):], _text(meta.get("slug")) or None)
    if published is None and blog_post is not None:
        published = blog_post.date
    if published is None and name_match:
        published = datetime(*(int(g) for g in name_match.groups()[:3]), tzinfo=timezone.utc)
    body = without_templates(without_erb(post.content) if file.path.lower().endswith(".erb") else post.content)
    title = _text(meta.get("title")) or _text(meta.get("name")) or _first_heading(body) or slug
    # Jekyll publishes an HTML document as it is written.
    body_html = body if file.path.lower().endswith(".html") else markdown_to_html(body)
    body_text = html_to_text(body_html)
    # Front matter text may carry HTML entities ("&#58;" is how a colon is kept out of YAML's way).
    description = html_to_text(without_templates(
        _text(meta.get("description")) or _text(meta.get("summary")) or _text(meta.get("excerpt"))))
    if hugo_site is not None:
        # Hugo sites show titles and summaries as Markdown (`markdownify` in digital.gov's and
        # digital.canada.ca's templates); Jekyll's show them as written.
        title, description = inline_markdown_to_text(title), inline_markdown_to_text(description)

    tags = _strings(meta.get("tags")) + _strings(meta.get("categories")) + _strings(meta.get("category"))
    tag = first_wanted(wanted, tags)
    reasons = [f"front matter tag '{tag}' in {file.path}"] if tag else []
    matched = bool(reasons) or not source.tagged_only
    if not source.tagged_only:
        reasons.append("source is on topic as a whole (tagged_only: false)")

    # Jekyll dates a post's URL by its front matter date as written (not in UTC), else by its file name.
    url_date = _written_date(meta.get("date")) or (
        datetime(*(int(g) for g in name_match.groups()[:3]), tzinfo=timezone.utc) if name_match else published)
    if blog_post is not None and source.site_url:
        page_url = canonical_url(quote(blog_post.route), base=source.site_url)
    elif middleman_site and source.site_url:
        route = middleman.page_route(file.path)
        page_url = canonical_url(quote(route), base=source.site_url) if route else canonical_url(source.site_url)
    elif hugo_site is not None and source.site_url:
        page_url = hugo.page_url(hugo_site, file.path, meta, url_date, source.site_url)
    else:
        page_url = _page_url(source, file.path, collection, slug, url_date, meta, jekyll_site, branch)
    external = canonical_url(_text(meta.get("external_url")) or "")
    elsewhere = _published_elsewhere(meta, source.site_url)
    url = external or elsewhere or page_url
    originator = _strings(meta.get("originator"))
    details = {k: v for k, v in {
        "path": file.path, "collection": collection, "page_url": page_url if url != page_url else None,
        "external_url": external, "originator": originator or None,
        "date_added": _iso(meta.get("date_added")), "date_checked": _iso(meta.get("date_checked")),
        "location": _text(meta.get("location")) or None, "website": _text(meta.get("website") or meta.get("homepage")) or None,
        "logo_url": _text(meta.get("logo_url") or meta.get("logo")) or None,
        "social": meta.get("social") if isinstance(meta.get("social"), dict) else None,
    }.items() if v}
    asset_type = None
    if kind == "asset":
        declared = _text(meta.get("asset_type") or meta.get("type")).lower()
        asset_type = declared if declared in ASSET_TYPES else "other"
    organisation = _text(meta.get("organisation") or meta.get("organization")) or None
    if kind == "community":
        organisation = title
    raw = {"path": file.path, "front_matter": _plain(meta)}
    raw_json = json.dumps(raw, ensure_ascii=False, default=str)
    return Entry(
        source_id=source.id,
        entry_key=f"file:{file.path}",
        item_id=item_id(url, source.id, file.path),
        url=url,
        canonical_url=url,
        title=html_to_text(title),
        summary=summarise(description or body_text),
        content_html=body_html,
        content_text=body_text,
        author=_text(meta.get("author")) or ", ".join(_strings(meta.get("authors"))) or None,
        published_at=published,
        updated_at=_date(meta.get("last_modified_at") or meta.get("date_checked"), zone),
        date_missing=published is None,
        tags=merge_tags(tags),
        match_reasons=reasons,
        matched=matched,
        language=_text(meta.get("lang") or meta.get("language")) or _hugo_language(hugo_site, file.path),
        raw_json=raw_json,
        kind_hint=kind,
        asset_type=asset_type,
        organisation=organisation,
        details=json.dumps(details, ensure_ascii=False, default=str),
    )


def at_own_page_when_shared(records: list[Entry]) -> list[Entry]:
    """Files of one source naming the same address elsewhere (two re-shares of one post) stay two
    items, as distinct entries of a source always do (README, Identity): each at its own page."""
    shared = {url for url, n in Counter(r.url for r in records).items() if n > 1}
    if not shared:
        return records
    separated = []
    for record in records:
        details = json.loads(record.details or "{}")
        page = details.pop("page_url", None)
        if record.url in shared and page:
            record = dataclasses.replace(record, url=page, canonical_url=page,
                                         item_id=item_id(page, record.source_id, details.get("path")),
                                         details=json.dumps(details, ensure_ascii=False, default=str))
        separated.append(record)
    return separated


def _page_url(source: MarkdownSource, path: str, collection: str | None, slug: str, published: datetime | None,
              meta: dict, site: jekyll.JekyllSite | None, branch: str) -> str | None:
    """Where the file is published: Jekyll's permalink on `site_url`, else the file on GitHub."""
    if source.site_url:
        own = _text(meta.get("permalink"))
        if own:
            pattern = own if own.startswith("/") else "/" + own
        elif collection == "_posts":
            pattern = jekyll.post_pattern(site.config if site else None) if published else None
        elif collection and site is not None:
            pattern = jekyll.collection_pattern(site.config, collection.lstrip("_"))
        else:
            pattern = None
        if pattern:
            inside = PurePosixPath(path).relative_to(site.root) if site is not None and site.root else PurePosixPath(path)
            in_collection = _path_in_collection(inside, collection)
            values = jekyll.placeholders(slug=_text(meta.get("slug")) or slug, date=published,
                                         categories=_strings(meta.get("categories")), collection=collection,
                                         path_in_collection=in_collection)
            return canonical_url(jekyll.expand(pattern, values), base=source.site_url)
        # A collection Jekyll writes no pages for (shown on the site's other pages), or not a Jekyll site.
        if collection:
            return canonical_url(f"{collection.lstrip('_')}/{slug}/", base=source.site_url)
        return canonical_url(str(PurePosixPath(path).with_suffix(".html")), base=source.site_url)
    if source.repo:
        return f"https://github.com/{source.repo}/blob/{quote(branch)}/{quote(path)}"
    return None


def _path_in_collection(path: PurePosixPath, collection: str | None) -> str:
    """Jekyll's `:path` of a collection's document: its path inside the collection, without its extension."""
    parts = path.parts
    inside = parts[parts.index(collection) + 1:] if collection in parts else parts
    return str(PurePosixPath(*inside).with_suffix("")) if inside else ""


def _date(value, zone: tzinfo = timezone.utc) -> datetime | None:
    """A front matter date in UTC. A time written without an offset is in the site's `zone`, as its
    generator reads it; a day without a time stays the day written."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time.min, timezone.utc)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        # Jekyll writes '2019-10-08 00:00:00 +01:00' and '2024-06-04 09:11:00 Z'.
        text = re.sub(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}(?::\d{2})?)\s*", r"\1T\2", text).replace(" ", "")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?", text):
            try:
                return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(timezone.utc)
            except ValueError:
                return None
        return parse_datetime(text)
    return None


def _written_date(value) -> datetime | None:
    """The calendar date a front matter `date` is written in, whatever its offset from UTC."""
    if isinstance(value, datetime):
        return datetime.combine(value.date(), time.min, timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time.min, timezone.utc)
    match = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value) if isinstance(value, str) else None
    try:
        return datetime(*(int(g) for g in match.groups()), tzinfo=timezone.utc) if match else None
    except ValueError:
        return None


# Hugo shortcodes, {{< name … >}} and {{% name … %}}: dropped, a pair keeping the text between them.
_SHORTCODE = re.compile(r"{{[<%].*?[>%]}}", re.S)
# Liquid, which Jekyll renders before Markdown: a raw block keeps its text, a capture block and
# any other tag are dropped, an output of a quoted string is that string, any other output dropped.
_LIQUID_RAW = re.compile(r"{%-?\s*raw\s*-?%}(.*?){%-?\s*endraw\s*-?%}", re.S)
_LIQUID_CAPTURE = re.compile(r"{%-?\s*capture\b.*?{%-?\s*endcapture\s*-?%}", re.S)
_LIQUID_TAG = re.compile(r"{%.*?%}", re.S)
_LIQUID_STRING_OUTPUT = re.compile(r"""{{-?\s*(?:"([^"]*)"|'([^']*)')\s*(?:\|[^}]*)?-?}}""")
_LIQUID_OUTPUT = re.compile(r"{{.*?}}", re.S)
# ERB, which Middleman runs over a .md.erb page first: a content_for block fills another part of the
# layout (a sidebar), so it goes with its text; any other tag is dropped.
_ERB_CONTENT_FOR = re.compile(r"<%-?\s*content_for\b.*?%>.*?<%-?\s*end\s*-?%>", re.S)
_ERB_TAG = re.compile(r"<%.*?%>", re.S)


def without_erb(text: str) -> str:
    """A .erb page's Markdown without its ERB tags (only such pages are run through ERB: elsewhere
    `<%` is text, an example in a post about Rails)."""
    return _ERB_TAG.sub("", _ERB_CONTENT_FOR.sub("", text))


def without_templates(text: str) -> str:
    """Markdown without its Hugo shortcodes and Liquid tags and outputs, which would otherwise be
    shown as text."""
    if "{%" not in text and "{{" not in text:
        return text
    text = _SHORTCODE.sub("", text)
    raw: list[str] = []

    def keep_raw(match: re.Match) -> str:
        raw.append(match.group(1))
        return f"\x00{len(raw) - 1}\x00"

    text = _LIQUID_RAW.sub(keep_raw, text)
    text = _LIQUID_CAPTURE.sub("", text)
    text = _LIQUID_TAG.sub("", text)
    text = _LIQUID_STRING_OUTPUT.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    text = _LIQUID_OUTPUT.sub("", text)
    return re.sub("\x00(\d+)\x00", lambda m: raw[int(m.group(1))], text)


# Front matter naming where a post is really published, its site's page pointing there: a
# canonical link (jekyll-seo-tag's canonical_url, Hugo themes' canonical/canonicalURL), a
# redirect (jekyll-redirect-from), digital.gov's source_url ("originally published at", redirected to).
ELSEWHERE_KEYS = ("canonical_url", "canonicalurl", "canonical", "redirect_to", "source_url")


def _published_elsewhere(meta: dict, site_url: str | None) -> str | None:
    by_key = {k.lower(): v for k, v in meta.items()}
    for key in ELSEWHERE_KEYS:
        value = _text(by_key.get(key))
        if value:
            return canonical_url(value if "://" in value or not site_url else value.lstrip("/"), base=site_url)
    return None


def _hugo_language(site: hugo.HugoSite | None, path: str) -> str | None:
    folder = site.folder_of(path) if site is not None else None
    return folder.language if folder is not None else None


def _iso(value) -> str | None:
    parsed = _date(value)
    return parsed.isoformat() if parsed else None


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()] if "," in value else ([value.strip()] if value.strip() else [])
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return []


def _text(value) -> str:
    # YAML's true/false are not text: `permalink: false` is no permalink (it was the URL …/False).
    if isinstance(value, bool):
        return ""
    return value.strip() if isinstance(value, str) else (str(value) if isinstance(value, (int, float)) else "")


def _first_heading(markdown: str) -> str:
    match = re.search(r"^#{1,3}\s+(.+)$", markdown, re.M)
    return match.group(1).strip() if match else ""


def _plain(meta: dict) -> dict:
    return json.loads(json.dumps(meta, default=str))

