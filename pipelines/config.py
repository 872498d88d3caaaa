"""sources.yaml: the validated source registry.

One pydantic model per source kind, chosen by `kind`. Every validation problem is
reported as `<file>:<line> source '<id>': <what is wrong>` so a publisher can fix
the line without reading a traceback.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from pipelines import PROJECT_URL, __version__
from pipelines.errors import ConfigError
from pipelines.safe_yaml import document_too_large, load_yaml_tree
from pipelines.tuning import GLOBAL_CONCURRENCY, PER_ORIGIN_CONCURRENCY

DEFAULT_SOURCES_PATH = Path("sources.yaml")
SOURCE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


def check_http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value.strip():
        raise ValueError(f"invalid URL {value!r}: must be an absolute http(s) URL")
    return value.strip()


PrivateNetworks = bool | list[str]


def check_private_networks(value: PrivateNetworks | None) -> PrivateNetworks | None:
    """true/false, or a list of networks (CIDR) that private addresses may be reached in."""
    if isinstance(value, list):
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network such as 127.0.0.1/32 or 10.0.0.0/8") from None
    return value


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=lambda: ["opengovtech"])
    user_agent: str = f"OpenGovTechHub/{__version__} (+{PROJECT_URL})"
    timeout_s: float = Field(20.0, gt=0, le=600)
    connect_timeout_s: float = Field(10.0, gt=0, le=120)
    allow_private_networks: PrivateNetworks = False
    per_origin_concurrency: int = Field(PER_ORIGIN_CONCURRENCY, ge=1, le=64)
    global_concurrency: int = Field(GLOBAL_CONCURRENCY, ge=1, le=1024)
    max_body_mb: float = Field(10.0, gt=0, le=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    retries: int = Field(3, ge=0, le=10)
    retry_after_cap_s: float = Field(60.0, ge=0, le=3600)
    obey_robots: bool = True
    parse_workers: int = Field(0, ge=0, le=64)  # 0: tuning.DEFAULT_PARSE_WORKERS
    run_deadline_s: float = Field(3600.0, gt=0, le=86400)  # a harvest of one kind ends by then, whatever hangs
    # A source failing `backoff_after_failures` runs in a row waits backoff_base_hours, then twice
    # as long after each further failure, up to backoff_max_days; it is never dropped.
    backoff_after_failures: int = Field(3, ge=1, le=100)
    backoff_base_hours: float = Field(24.0, gt=0, le=24 * 365)
    backoff_max_days: float = Field(30.0, gt=0, le=365)
    # GitHub repositories linked from harvested stories are fetched as assets, related to the
    # story, by an implicit github source (LINKED_REPOS_SOURCE_ID) when any github source is listed.
    fetch_linked_repos: bool = True
    linked_repos_max: int = Field(500, ge=1, le=100_000)   # per run; the rest wait for the next run

    @field_validator("allow_private_networks")
    @classmethod
    def _private_networks(cls, value: PrivateNetworks) -> PrivateNetworks:
        return check_private_networks(value)

    @field_validator("tags")
    @classmethod
    def _tags_not_empty(cls, tags: list[str]) -> list[str]:
        cleaned = [t.strip() for t in tags if t and t.strip()]
        if not cleaned:
            raise ValueError("tags must list at least one tag")
        return cleaned


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = "0 6 * * *"
    timezone: str = "Europe/London"
    link_check_cron: str = "0 7 * * 1"   # weekly: Monday morning
    link_check_max_urls: int = Field(5000, ge=1, le=1_000_000)   # per run; the oldest checks go first
    link_check_recheck_days: float = Field(6.0, ge=0, le=365)     # a URL checked more recently is skipped

    @field_validator("cron", "link_check_cron")
    @classmethod
    def _five_fields(cls, cron: str) -> str:
        if len(cron.split()) != 5:
            raise ValueError(f"cron {cron!r} must have five fields (minute hour day month weekday)")
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        # A region name without a city ("Europe") is a directory of the tz database: OSError.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown timezone {tz!r} (use an IANA name such as Europe/London)") from None
        return tz


class SourceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SOURCE_ID_PATTERN)
    kind: str
    org: str | None = None
    tags: list[str] | None = None
    tagged_only: bool = True
    allow_private_networks: PrivateNetworks | None = None
    enabled: bool = True
    # What this source's posts are when nothing more specific says (a technique blog, an events feed).
    item_kind: Literal["story", "technique", "asset", "event", "community"] | None = None

    @field_validator("allow_private_networks")
    @classmethod
    def _private_networks(cls, value: PrivateNetworks | None) -> PrivateNetworks | None:
        return check_private_networks(value)


class FeedSource(SourceBase):
    """An RSS/Atom/JSON feed, or a page whose <link rel=alternate> names one."""

    kind: Literal["feed"]
    url: str

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return check_http_url(url)


GITHUB_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
GITHUB_REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"


class GitHubSource(SourceBase):
    """GitHub repositories: every repo of an `org` or `user`, one `repo`, a `topic`, or a `search` query.

    The API is `$GITHUB_API_URL` (default https://api.github.com); `$GITHUB_TOKEN` is optional.
    """

    kind: Literal["github"]
    org: str | None = None    # the organisation's login; also names the organisation on its items
    organisation: str | None = None  # display name for the items, when the login is not it
    user: str | None = None
    repo: str | None = None   # owner/name
    topic: str | None = None
    search: str | None = Field(None, min_length=1, max_length=256)
    include_forks: bool = False
    include_archived: bool = False
    linked: bool = False      # the repositories stories link to (see Defaults.fetch_linked_repos)
    readme: bool = True       # read each repository's README (one request per changed repository)
    publiccode: bool = True   # look for publiccode.yml (one request per changed repository)

    @field_validator("org", "user")
    @classmethod
    def _login(cls, login: str | None) -> str | None:
        if login is not None and not re.match(GITHUB_NAME_PATTERN, login):
            raise ValueError(f"{login!r} is not a GitHub login (letters, digits and hyphens, up to 39)")
        return login

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, repo: str | None) -> str | None:
        if repo is not None and not re.match(GITHUB_REPO_PATTERN, repo):
            raise ValueError(f"{repo!r} is not owner/name, e.g. odileeds/OpenGovTech")
        return repo

    @field_validator("topic")
    @classmethod
    def _topic(cls, topic: str | None) -> str | None:
        if topic is not None and not re.match(r"^[a-z0-9][a-z0-9-]{0,49}$", topic):
            raise ValueError(f"{topic!r} is not a GitHub topic (lower-case letters, digits and hyphens)")
        return topic

    @model_validator(mode="after")
    def _one_target(self) -> "GitHubSource":
        chosen = [name for name in ("org", "user", "repo", "topic", "search", "linked") if getattr(self, name)]
        if len(chosen) != 1:
            raise ValueError("a github source needs exactly one of org, user, repo, topic, search or linked"
                             + (f" (it has {', '.join(chosen)})" if chosen else ""))
        return self

    @property
    def url(self) -> str:
        """Where a person sees what this source reads, on github.com."""
        if self.org or self.user:
            return f"https://github.com/{self.org or self.user}"
        if self.repo:
            return f"https://github.com/{self.repo}"
        if self.topic:
            return f"https://github.com/topics/{self.topic}"
        if self.linked:
            return "https://github.com/"
        return "https://github.com/search?" + urlencode({"q": self.search, "type": "repositories"})

    @property
    def target(self) -> str:
        """What the source reads, in words: 'org leedsdatamill', 'search "…"'."""
        if self.linked:
            return "repositories linked from harvested stories"
        for name in ("org", "user", "repo", "topic", "search"):
            value = getattr(self, name)
            if value:
                return f"{name} {value}" if name != "search" else f'search "{value}"'
        raise AssertionError("validated: one target")


HASHTAG_PATTERN = r"^[^\W_][\w]*$"


def check_hashtag(tag: str | None) -> str | None:
    """'#OpenGovTech' and 'OpenGovTech' are the same hashtag; store it without the '#'."""
    if tag is None:
        return None
    tag = tag.strip().lstrip("#")
    if not re.match(HASHTAG_PATTERN, tag):
        raise ValueError(f"{tag!r} is not a hashtag (letters, digits and underscores, no spaces)")
    return tag


def check_origin(value: str) -> str:
    """An API's base URL: absolute http(s), no trailing slash."""
    return check_http_url(value).rstrip("/")


class MastodonSource(SourceBase):
    """Posts from a Mastodon server: a `hashtag`'s timeline on `instance`, or one `account`'s posts
    (`@user@instance`) that carry the hub's tags."""

    kind: Literal["mastodon"]
    instance: str | None = None   # https://mastodon.social (or just the host name)
    hashtag: str | None = None
    account: str | None = None    # @user@instance
    max_pages: int = Field(10, ge=1, le=1000)   # how far back the first run reads (40 posts a page)
    follow_links: bool = True     # read the pages posts link to, as the stories they share

    @field_validator("instance")
    @classmethod
    def _instance(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if "://" not in value:
            value = "https://" + value
        return check_origin(value)

    @field_validator("hashtag")
    @classmethod
    def _hashtag(cls, value: str | None) -> str | None:
        return check_hashtag(value)

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^@?[A-Za-z0-9_]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", value.strip()):
            raise ValueError(f"{value!r} is not a Mastodon account such as @user@mastodon.social")
        return value.strip().lstrip("@") if value else value

    @model_validator(mode="after")
    def _one_target(self) -> "MastodonSource":
        if bool(self.hashtag) == bool(self.account):
            raise ValueError("a mastodon source needs either hashtag (with instance) or account, not both")
        if self.hashtag and not self.instance:
            raise ValueError("a mastodon hashtag source needs the instance whose timeline to read")
        return self

    @property
    def server(self) -> str:
        """The server the API calls go to."""
        if self.instance:
            return self.instance
        return "https://" + (self.account or "").split("@", 1)[1]

    @property
    def url(self) -> str:
        if self.hashtag:
            return f"{self.server}/tags/{self.hashtag}"
        return f"{self.server}/@{(self.account or '').split('@', 1)[0]}"


class BlueskySource(SourceBase):
    """Bluesky posts carrying a hashtag, found with app.bsky.feed.searchPosts on `service`.

    When the service wants a signed-in client, set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD;
    the session is made at `auth_service`."""

    kind: Literal["bluesky"]
    hashtag: str
    service: str = "https://public.api.bsky.app"
    auth_service: str = "https://bsky.social"
    max_pages: int = Field(10, ge=1, le=1000)   # 100 posts a page
    follow_links: bool = True

    @field_validator("hashtag")
    @classmethod
    def _hashtag(cls, value: str) -> str:
        return check_hashtag(value)

    @field_validator("service", "auth_service")
    @classmethod
    def _origin(cls, value: str) -> str:
        return check_origin(value)

    @property
    def url(self) -> str:
        return f"https://bsky.app/hashtag/{self.hashtag}"


class DevtoSource(SourceBase):
    """dev.to (Forem) articles by `tag`, by `username`, or both (articles of that user with that tag)."""

    kind: Literal["devto"]
    tag: str | None = None
    username: str | None = None
    api_url: str = "https://dev.to"
    max_pages: int = Field(5, ge=1, le=100)   # 100 articles a page

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        value = check_hashtag(value)
        return value.lower() if value else value

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_]{1,60}$", value):
            raise ValueError(f"{value!r} is not a dev.to username")
        return value

    @field_validator("api_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        return check_origin(value)

    @model_validator(mode="after")
    def _something(self) -> "DevtoSource":
        if not (self.tag or self.username):
            raise ValueError("a devto source needs a tag, a username, or both")
        return self

    @property
    def url(self) -> str:
        return f"{self.api_url}/t/{self.tag}" if self.tag and not self.username else f"{self.api_url}/{self.username}"


class DiscourseSource(SourceBase):
    """A Discourse forum's topics with a tag; each new topic's first post is read."""

    kind: Literal["discourse"]
    base_url: str
    tag: str
    max_pages: int = Field(5, ge=1, le=100)   # 30 topics a page

    @field_validator("base_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        return check_origin(value)

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not re.match(r"^[\w-]+$", value.strip()):
            raise ValueError(f"{value!r} is not a Discourse tag")
        return value.strip()

    @property
    def url(self) -> str:
        return f"{self.base_url}/tag/{self.tag}"


class BlogSource(SourceBase):
    """A blog's home page and a tag: the platform is detected and its tag feed found
    (WordPress, Ghost, Medium, Blogger, Hugo, Jekyll), else the site feed is filtered by the tag."""

    kind: Literal["blog"]
    url: str
    tag: str | None = None   # default: the hub's first tag

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return check_http_url(url)


class MarkdownSource(SourceBase):
    """Markdown files with YAML front matter: a GitHub `repo` (optional `path`, `branch`) or a local
    `directory`. Jekyll collections map to kinds: _posts stories, _assets assets, _contributors
    organisations (community)."""

    kind: Literal["markdown"]
    repo: str | None = None
    directory: str | None = None   # relative to sources.yaml
    path: str = ""                 # folder inside the repository or directory
    branch: str | None = None      # default: the repository's default branch
    site_url: str | None = None    # where the site is published, for item URLs (Jekyll permalinks)

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, repo: str | None) -> str | None:
        if repo is not None and not re.match(GITHUB_REPO_PATTERN, repo):
            raise ValueError(f"{repo!r} is not owner/name, e.g. odileeds/OpenGovTech")
        return repo

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        value = value.strip().strip("/")
        if ".." in value.split("/"):
            raise ValueError(f"path {value!r} may not contain '..'")
        return value

    @field_validator("site_url")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        return check_http_url(value).rstrip("/") + "/" if value else value

    @model_validator(mode="after")
    def _one_place(self) -> "MarkdownSource":
        if bool(self.repo) == bool(self.directory):
            raise ValueError("a markdown source needs either repo (owner/name) or directory, not both")
        return self

    @property
    def url(self) -> str:
        if self.repo:
            tail = f"/tree/{self.branch or 'HEAD'}/{self.path}" if self.path or self.branch else ""
            return f"https://github.com/{self.repo}{tail}"
        return self.site_url or f"file:{self.directory}"


class PageSource(SourceBase):
    """One web page to track; it counts when it carries the hub's tags (or tagged_only is false)."""

    kind: Literal["page"]
    url: str

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return check_http_url(url)


class SiteConfig(BaseModel):
    """The published hub site: where it will live (for feeds and the sitemap) and what it is called."""
    model_config = ConfigDict(extra="forbid")

    base_url: str = "http://127.0.0.1:8000/"
    title: str = "OpenGovTech Hub"
    description: str = "Stories, techniques and assets of public-sector technology work, tagged #OpenGovTech."
    # Item pages per Pagefind bundle: Pagefind holds a bundle in memory while indexing,
    # so this bounds the site build's memory; searches merge the bundles in the browser.
    search_bundle_items: int = Field(2_000, ge=10, le=1_000_000)
    # The hub's GitHub repository: "Get listed" links to its Suggest a source issue form.
    repository_url: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url {url!r} must be an absolute http(s) URL")
        return url if url.endswith("/") else url + "/"

    @field_validator("repository_url")
    @classmethod
    def _repository(cls, url: str | None) -> str | None:
        return check_http_url(url).rstrip("/") if url else None


SITE_BASE_URL_ENV = "OPENGOVTECH_SITE_BASE_URL"
SITE_REPOSITORY_URL_ENV = "OPENGOVTECH_SITE_REPOSITORY_URL"


def site_published_at(site: SiteConfig, base_url: str | None = None) -> SiteConfig:
    """The site settings with `base_url` (else $OPENGOVTECH_SITE_BASE_URL) in place of sources.yaml's,
    and $OPENGOVTECH_SITE_REPOSITORY_URL for repository_url: what a deploy knows only when it runs
    (GitHub Pages' address under /REPO/, the repository the workflow runs in)."""
    overrides = {"base_url": (base_url or os.environ.get(SITE_BASE_URL_ENV) or "").strip(),
                 "repository_url": (os.environ.get(SITE_REPOSITORY_URL_ENV) or "").strip()}
    overrides = {key: value for key, value in overrides.items() if value}
    if not overrides:
        return site
    try:
        return SiteConfig.model_validate({**site.model_dump(), **overrides})
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigError([f"--base-url, {SITE_BASE_URL_ENV} or {SITE_REPOSITORY_URL_ENV}: {message}"]) from None


# A source of sources.yaml: its `kind` picks the model (a discriminated union).
AnySource = Annotated[FeedSource | GitHubSource | MastodonSource | BlueskySource | DevtoSource | DiscourseSource
                      | BlogSource | MarkdownSource | PageSource, Field(discriminator="kind")]
SOURCE_ADAPTER: TypeAdapter[SourceBase] = TypeAdapter(AnySource)
SOURCE_MODELS: dict[str, type[SourceBase]] = {
    get_args(model.model_fields["kind"].annotation)[0]: model for model in get_args(get_args(AnySource)[0])}


@dataclass
class SourceRegistry:
    path: Path
    defaults: Defaults
    schedule: ScheduleConfig
    sources: list[SourceBase]
    site: SiteConfig = field(default_factory=SiteConfig)
    lines: dict[str, int] = field(default_factory=dict)  # source id -> line in the file

    def enabled(self, kind: str | None = None) -> list[SourceBase]:
        return [s for s in self.sources if s.enabled and (kind is None or s.kind == kind)]

    def get(self, source_id: str) -> SourceBase:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    def tags_for(self, source: SourceBase) -> list[str]:
        return source.tags or self.defaults.tags

    def wanted_tags(self, source: SourceBase) -> list[str]:
        """Every tag that puts a source's entry in the hub: its tags, and the tag or hashtag the
        source itself follows (a blog's tag feed, a dev.to tag, a Mastodon or Bluesky hashtag)."""
        own = [getattr(source, name, None) for name in ("tag", "hashtag")]
        return list(dict.fromkeys([*[t for t in own if isinstance(t, str) and t], *self.tags_for(source)]))

    def count_by_kind(self, sources: list[SourceBase] | None = None) -> dict[str, int]:
        counts = Counter(s.kind for s in (self.sources if sources is None else sources))
        return dict(sorted(counts.items()))

    def rows(self) -> list[dict]:
        """The registry as rows of the warehouse's `sources` table."""
        return [
            {"source_id": s.id, "kind": s.kind, "url": getattr(s, "url", None),
             "org": getattr(s, "organisation", None) or s.org,
             "tagged_only": s.tagged_only, "line": self.lines.get(s.id),
             # the tags it wants, defaults included: normalise matches stored entries against them
             "config_json": s.model_copy(update={"tags": self.wanted_tags(s)}).model_dump_json()}
            for s in self.sources
        ]

    def allow_private_for(self, source: SourceBase) -> bool | tuple[str, ...]:
        """True (any address), False (public only) or the private networks this source may reach."""
        value = source.allow_private_networks
        if value is None:
            value = self.defaults.allow_private_networks
        return tuple(value) if isinstance(value, list) else value


LINKED_REPOS_SOURCE_ID = "github-linked-repos"


def _linked_repos_source(defaults: Defaults, sources: list[SourceBase]) -> GitHubSource | None:
    """The implicit source reading repositories that harvested stories link to: there when
    `fetch_linked_repos` is on and the registry already reads GitHub, unless one is listed."""
    if not defaults.fetch_linked_repos or not any(s.kind == "github" and s.enabled for s in sources):
        return None
    if any(s.kind == "github" and getattr(s, "linked", False) for s in sources) \
            or any(s.id == LINKED_REPOS_SOURCE_ID for s in sources):
        return None
    # A story on topic vouches for the repositories it links to: no tag needed on the repository.
    return GitHubSource(id=LINKED_REPOS_SOURCE_ID, kind="github", linked=True, tagged_only=False)


def resolve_sources_path(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path)
    return Path(os.environ.get("OPENGOVTECH_SOURCES") or DEFAULT_SOURCES_PATH)


# Room for a few hundred thousand sources; a file past it is refused before it is read.
MAX_CONFIG_BYTES = 32_000_000
_loaded: dict[tuple, SourceRegistry] = {}


def load_registry(path: str | os.PathLike | None = None) -> SourceRegistry:
    """Read and validate sources.yaml; raise ConfigError listing every problem.

    A run reads the registry in several stages; the result is reused while the file's
    path, size and modification time are unchanged.
    """
    path = resolve_sources_path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key in _loaded:
        return _loaded[key]
    if key is not None and key[2] > MAX_CONFIG_BYTES:
        raise document_too_large(str(path), MAX_CONFIG_BYTES)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read file: {exc}"]) from None
    # Rebuilt from its pickle once the parse is gone, so the registry's objects sit together
    # rather than scattered through the memory the parse's temporaries (YAML nodes and their
    # marks) took, which the allocator could then not give back for the whole run.
    registry = pickle.loads(pickle.dumps(parse_registry(text, path), protocol=pickle.HIGHEST_PROTOCOL))
    if key is not None:
        if len(_loaded) >= 4:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = registry
    return registry


def parse_registry(text: str, path: Path) -> SourceRegistry:
    name = str(path)
    # One parse gives both the node tree (for line numbers) and the data built from it: composing
    # and loading separately parsed the file twice and held two trees.
    root, data = load_yaml_tree(text, name, max_bytes=MAX_CONFIG_BYTES)

    lines: dict[tuple, int] = {}
    problems: list[str] = []
    if root is not None:
        _record_lines(root, (), lines, problems, name)
    if problems:
        raise ConfigError(problems)
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: expected a mapping with a 'sources:' list at the top level"])

    def at(loc: tuple) -> int:
        while loc:
            if loc in lines:
                return lines[loc]
            loc = loc[:-1]
        return 1

    for key in data:
        if key not in ("defaults", "schedule", "site", "sources"):
            problems.append(f"{name}:{at((key,))}: unknown top-level key {key!r}"
                            f"{_suggest(key, ['defaults', 'schedule', 'site', 'sources'])}")

    defaults = _validate_section(Defaults, data.get("defaults") or {}, ("defaults",), at, name, problems)
    schedule = _validate_section(ScheduleConfig, data.get("schedule") or {}, ("schedule",), at, name, problems)
    site = _validate_section(SiteConfig, data.get("site") or {}, ("site",), at, name, problems)

    raw_sources = data.get("sources")
    if raw_sources is None:
        problems.append(f"{name}:1: missing 'sources:' list")
        raw_sources = []
    elif not isinstance(raw_sources, list):
        problems.append(f"{name}:{at(('sources',))}: 'sources' must be a list")
        raw_sources = []

    sources: list[SourceBase] = []
    seen: dict[str, int] = {}
    id_lines: dict[str, int] = {}
    for index, raw in enumerate(raw_sources):
        loc = ("sources", index)
        if not isinstance(raw, dict):
            problems.append(f"{name}:{at(loc)} source #{index + 1}: expected a mapping of keys (id, kind, url, …)")
            continue
        label = f"source {raw['id']!r}" if isinstance(raw.get("id"), str) else f"source #{index + 1}"
        try:
            source = SOURCE_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            for err in exc.errors():
                if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
                    kind = raw.get("kind")
                    what = "missing required key 'kind'" if kind is None else f"unknown kind {kind!r}"
                    problems.append(f"{name}:{at(loc + ('kind',))} {label}: {what} "
                                    f"(allowed: {', '.join(sorted(SOURCE_MODELS))})")
                else:  # the union puts the kind first in the error's location
                    kind, *field_loc = err["loc"]
                    problems.append(f"{name}:{at(loc + tuple(field_loc))} {label}: "
                                    f"{_describe({**err, 'loc': tuple(field_loc)}, SOURCE_MODELS[kind])}")
            continue
        if source.id in seen:
            problems.append(f"{name}:{at(loc + ('id',))} {label}: duplicate id (first defined on line {seen[source.id]})")
            continue
        seen[source.id] = at(loc + ("id",))
        id_lines[source.id] = at(loc)
        sources.append(source)

    if problems:
        raise ConfigError(problems)
    linked = _linked_repos_source(defaults, sources)
    if linked is not None:
        sources.append(linked)
    return SourceRegistry(path=path, defaults=defaults, schedule=schedule, site=site, sources=sources,
                          lines=id_lines)


def _validate_section(model, raw, loc, at, name, problems):
    if not isinstance(raw, dict):
        problems.append(f"{name}:{at(loc)}: '{loc[0]}' must be a mapping")
        return model()
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{name}:{at(loc + tuple(err['loc']))} {loc[0]}: {_describe(err, model)}")
        return model()


def _describe(err: dict, model: type[BaseModel]) -> str:
    loc = err["loc"]
    key = str(loc[-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        return f"unknown key {key!r}{_suggest(key, list(model.model_fields))}"
    if err["type"] == "missing":
        return f"missing required key {key!r}"
    if err["type"] == "string_pattern_mismatch" and key == "id":
        return f"id {err.get('input')!r} must be a slug: lower-case letters, digits and hyphens"
    message = err["msg"].removeprefix("Value error, ")
    field_path = ".".join(str(p) for p in loc)
    return f"{field_path!r}: {message}" if field_path else message


def _suggest(key: Any, options: list[str]) -> str:
    close = difflib.get_close_matches(str(key), options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _record_lines(node: yaml.Node, path: tuple, lines: dict, problems: list[str], name: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        keys_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            # A key may itself be a list or mapping in YAML; only scalar keys can name anything.
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else f"<{key_node.tag}>"
            line = key_node.start_mark.line + 1
            if key in keys_seen:
                problems.append(f"{name}:{line}: duplicate key {key!r} (first on line {keys_seen[key]})")
            keys_seen[key] = line
            lines[path + (key,)] = line
            _record_lines(value_node, path + (key,), lines, problems, name)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, path + (index,), lines, problems, name)

