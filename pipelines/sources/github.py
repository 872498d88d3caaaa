"""`kind: github`: repositories of an org or user, one repo, a topic, or a search, as assets.

A run reads each listing page with its stored ETag: an unchanged page answers 304 and costs
nothing, and the pages after it are found from the `Link` chain the last run stored. A
repository's README and publiccode.yml are read again only when it was pushed to since.
Search results stop at 1,000, so a larger search is split into creation-date ranges until
every range is under the cap.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pipelines.config import GitHubSource
from pipelines.dates import parse_datetime
from pipelines.errors import ConfigError, HarvestError, RateLimited, RetryDeferred
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.parse.commonmark import markdown_excerpt
from pipelines.entry import Entry, json_object
from pipelines.safe_yaml import load_yaml
from pipelines.sources.github_api import RAW_ACCEPT, APIResponse, GitHubAPI, api_url_from_env
from pipelines.parse.tags import hashtags, merge_tags, normalise_tag, repository_tag_matches
from pipelines.parse.urls import canonical_url, item_id
from pipelines.outcomes import SourceOutcome

SEARCH_CAP = 1000
PER_PAGE = 100
GITHUB_FOUNDED = date(2007, 10, 1)   # no repository was created before this
# Search ranges are halved between fixed ends, so the same slices (and their stored ETags)
# come up run after run rather than moving with today's date.
SEARCH_HORIZON = date(2099, 12, 31)
README_EXCERPT_CHARS = 2000
# A publiccode.yml is a page of metadata; one larger is refused (its problem recorded).
MAX_PUBLICCODE_BYTES = 1_000_000
# publiccode.yml keys the standard requires (publiccode.yml 0.4); missing ones are recorded.
PUBLICCODE_REQUIRED = ("publiccodeYmlVersion", "name", "url", "platforms", "developmentStatus",
                       "softwareType", "description", "legal", "maintenance", "localisation")


def shared_api(ctx: HarvestContext, source: GitHubSource) -> GitHubAPI:
    """The run's one client per private-address policy; they share the rate-limit budgets."""
    allow_private = ctx.registry.allow_private_for(source)
    clients: dict = ctx.shared.setdefault("github", {})
    if allow_private not in clients:
        budgets = next(iter(clients.values())).budgets if clients else {}
        clients[allow_private] = GitHubAPI(ctx.fetcher, api_url_from_env(), os.environ.get("GITHUB_TOKEN") or None,
                                           allow_private=allow_private, budgets=budgets)
    return clients[allow_private]


@dataclass
class RepoListing:
    """What one run learnt: repositories to store, page validators and the page chain."""

    records: list[Entry] = field(default_factory=list)
    validators: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    pages: dict[str, dict] = field(default_factory=dict)   # page URL -> {"next": url|None, "total": n}
    repos_listed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # why -> how many (forks, archived, untagged)
    warnings: list[str] = field(default_factory=list)
    pages_unchanged: int = 0


async def harvest_github(source: GitHubSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    reader = GitHubReader(source, ctx, stats)
    outcome = SourceOutcome(source_id=source.id, status="ok")
    try:
        await reader.read()
    except (RateLimited, RetryDeferred) as exc:
        # Keep every repository read before the limit; the pages not finished are read next run.
        outcome.cut_short(exc, f"kept the {len(reader.listing.records)} repositories read before it, "
                               "the rest are read next run")
    listing = reader.listing
    outcome.records = listing.records
    outcome.entries_read = listing.repos_listed
    outcome.validators = listing.validators
    # A finished listing replaces the page chain; one cut short adds to what was known.
    pages = listing.pages if outcome.status == "ok" else {**reader.previous_pages, **listing.pages}
    outcome.state = {"pages": pages}
    if outcome.status == "ok" and listing.repos_listed == 0 and listing.pages_unchanged == 0 and not source.linked:
        listing.warnings.append(f"GitHub lists no repositories for {source.target}")
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(listing.skipped.items()) if n)
    notes = listing.warnings + ([f"skipped {skipped}"] if skipped else [])
    outcome.warning = "; ".join(notes) or None
    if outcome.status == "ok" and not listing.records and listing.pages_unchanged:
        outcome.status = "not_modified"
    return outcome


class GitHubReader:
    def __init__(self, source: GitHubSource, ctx: HarvestContext, stats: FetchStats):
        self.source = source
        self.ctx = ctx
        self.stats = stats
        self.api = shared_api(ctx, source)
        self.listing = RepoListing()
        self.previous_pages: dict[str, dict] = ctx.state.source_state.get(source.id, {}).get("pages", {})
        self.previous_details = ctx.state.previous_details.get(source.id, {})
        self.wanted_tags = {normalise_tag(t) for t in ctx.registry.tags_for(source)}

    async def read(self) -> None:
        source, api = self.source, self.api
        if source.linked:
            await self.read_linked()
        elif source.repo:
            await self.read_pages(api.url(f"/repos/{source.repo}"))
        elif source.org:
            await self.read_pages(api.url(f"/orgs/{source.org}/repos", type="public", per_page=PER_PAGE))
        elif source.user:
            await self.read_pages(api.url(f"/users/{source.user}/repos", type="owner", per_page=PER_PAGE))
        else:
            query = f"topic:{source.topic}" if source.topic else source.search
            if not source.include_archived:
                query += " archived:false"
            if source.include_forks:
                query += " fork:true"
            await self.read_search(query, GITHUB_FOUNDED, SEARCH_HORIZON)

    async def read_linked(self) -> None:
        """The repositories harvested stories link to, each read like a `repo:` source (with its
        ETag, so an unchanged one costs a free 304). One gone or renamed is noted, not fatal."""
        names = list(self.ctx.state.linked_repos)
        limit = self.ctx.registry.defaults.linked_repos_max
        if len(names) > limit:
            self.listing.warnings.append(f"{len(names)} linked repositories, {limit} read this run "
                                         "(defaults.linked_repos_max); the rest next run")
        missing = []
        for name in names[:limit]:
            try:
                await self.read_pages(self.api.url(f"/repos/{name}"))
            except (RateLimited, RetryDeferred):
                raise
            except HarvestError as exc:
                missing.append(f"{name} ({exc.reason})")
        if missing:
            self.listing.warnings.append(f"{len(missing)} linked repositories could not be read: "
                                         + "; ".join(missing[:5]) + (" …" if len(missing) > 5 else ""))

    async def read_search(self, query: str, first: date, last: date) -> None:
        """Read every result of `query` created between `first` and `last`, halving the range
        while it matches more than the API will return."""
        dated = query if (first, last) == (GITHUB_FOUNDED, SEARCH_HORIZON) else f"{query} created:{first}..{last}"
        url = self.api.url("/search/repositories", q=dated, per_page=PER_PAGE)
        total = await self.read_pages(url, stop_if_over=SEARCH_CAP if first < last else None)
        if total is not None and total > SEARCH_CAP:
            if first >= last:
                self.listing.warnings.append(f"{total} repositories created on {first} match {query!r}; "
                                             f"GitHub returns only the first {SEARCH_CAP}")
                return
            middle = first + (last - first) // 2
            await self.read_search(query, first, middle)
            await self.read_search(query, middle + timedelta(days=1), last)

    async def read_pages(self, url: str | None, *, stop_if_over: int | None = None) -> int | None:
        """Follow a listing from `url`; return the search total of its first page (None otherwise).

        With `stop_if_over`, a first page reporting more results than that is not read further
        (the caller splits the query instead)."""
        first_total = None
        first = True
        while url:
            page = await self.get_page(url)
            repos = None
            if page is None:  # 304: unchanged since the last run, as are the repositories on it
                self.listing.pages_unchanged += 1
                entry = self.previous_pages.get(url, {})
            else:
                total, repos = self.repos_on(page)
                entry = {"next": page.links.get("next"), "total": total}
            if first:
                first_total = entry.get("total")
                if stop_if_over is not None and isinstance(first_total, int) and first_total > stop_if_over:
                    # The caller splits the query; the slices read these results.
                    if page is not None:
                        self.listing.validators.append((url, page.etag, page.last_modified))
                    self.listing.pages[url] = {"next": None, "total": first_total}
                    return first_total
            if page is not None:
                await self.add_repos(repos)
                # Only now, with every repository on it stored, may the page be skipped next time.
                self.listing.validators.append((url, page.etag, page.last_modified))
            self.listing.pages[url] = entry
            url, first = entry.get("next"), False
        return first_total

    def repos_on(self, page: APIResponse) -> tuple[int | None, list[Any]]:
        """The repositories on one page (a listing, a search page or one repository), and the
        search's total count when it is a search."""
        body = page.json()
        if self.source.repo or self.source.linked:
            return None, [body] if isinstance(body, dict) else []
        if isinstance(body, dict) and isinstance(body.get("items"), list):  # search
            if body.get("incomplete_results"):
                self.listing.warnings.append("GitHub search timed out and reported incomplete results; "
                                             "some repositories may be missing until the next run")
            return body.get("total_count"), body["items"]
        if isinstance(body, list):
            return None, body
        raise HarvestError(f"GitHub API returned {type(body).__name__} where a list of repositories "
                           f"was expected, from {page.url}", url=page.url, http_status=page.status)

    async def get_page(self, url: str) -> APIResponse | None:
        # A validator without the page chain it belongs to cannot be used: the 304 would leave
        # the pages after it unknown.
        validators = self.ctx.state.validators.get(url, (None, None)) if url in self.previous_pages else (None, None)
        response = await self.api.get(url, stats=self.stats, validators=validators)
        return None if response.not_modified else response

    async def add_repos(self, repos: list[Any]) -> None:
        kept = []
        for repo in repos:
            if not isinstance(repo, dict) or not repo.get("full_name") or not repo.get("html_url"):
                self.listing.skipped["malformed entries"] += 1
                continue
            self.listing.repos_listed += 1
            if repo.get("private"):
                continue
            # A repository named on its own (`repo:`, or linked from a story) is wanted as it is.
            named = bool(self.source.repo or self.source.linked)
            if repo.get("fork") and not self.source.include_forks and not named:
                self.listing.skipped["forks"] += 1
                continue
            if repo.get("archived") and not self.source.include_archived and not named:
                self.listing.skipped["archived"] += 1
                continue
            kept.append(repo)
        records = await asyncio.gather(*(self.repo_record(repo) for repo in kept))
        for record in records:
            if record.matched:
                self.listing.records.append(record)
            else:
                self.listing.skipped["untagged"] += 1

    async def repo_record(self, repo: dict) -> Entry:
        entry_key = f"repo:{repo.get('id') or repo['full_name'].lower()}"
        previous = json_object(self.previous_details.get(entry_key))
        if previous.get("pushed_at") == repo.get("pushed_at") and "readme_markdown_sha" in previous:
            # Not pushed to since the last run: its README and publiccode.yml are as we read them.
            readme_excerpt, publiccode = previous.get("readme_excerpt", ""), previous.get("publiccode")
            readme_sha = previous["readme_markdown_sha"]
            reasons = self.match_reasons(repo, readme_excerpt)
        else:
            readme = await self.read_file(repo, "readme")
            readme_excerpt = markdown_excerpt(readme, README_EXCERPT_CHARS) if readme else ""
            readme_sha = hashlib.sha1((readme or "").encode()).hexdigest()
            reasons = self.match_reasons(repo, readme_excerpt)
            publiccode = None
            if reasons or not self.source.tagged_only:
                # Only a repository the hub keeps is worth a request for its publiccode.yml.
                publiccode_text = await self.read_file(repo, "publiccode.yml")
                publiccode = parse_publiccode(publiccode_text) if publiccode_text is not None else None
        return self.build_record(repo, entry_key, readme_excerpt, readme_sha, publiccode, reasons)

    def match_reasons(self, repo: dict, readme_excerpt: str) -> list[str]:
        """Where the hub's tag was found: a topic, or a hashtag in the description or README."""
        topics = [t for t in repo.get("topics") or [] if isinstance(t, str)]
        reasons = repository_tag_matches(self.wanted_tags, topics=topics, description=repo.get("description") or "",
                                         readme_excerpt=readme_excerpt)
        if self.source.topic and not reasons:
            reasons.append(f"GitHub search for topic:{self.source.topic}")
        return reasons

    async def read_file(self, repo: dict, name: str) -> str | None:
        if (name == "readme" and not self.source.readme) or (name == "publiccode.yml" and not self.source.publiccode):
            return None
        path = f"/repos/{repo['full_name']}/readme" if name == "readme" else \
            f"/repos/{repo['full_name']}/contents/{name}"
        response = await self.api.get(self.api.url(path), stats=self.stats, accept=RAW_ACCEPT, missing_ok=True)
        return response.text if response is not None else None

    def build_record(self, repo: dict, entry_key: str, readme_excerpt: str, readme_sha: str,
                     publiccode: dict | None, reasons: list[str]) -> Entry:
        source = self.source
        full_name = repo["full_name"]
        description = (repo.get("description") or "").strip()
        topics = [t for t in repo.get("topics") or [] if isinstance(t, str)]
        owner = (repo.get("owner") or {}).get("login") or full_name.split("/")[0]
        url = canonical_url(repo["html_url"])
        if source.linked:
            linking = self.ctx.state.linked_repos.get(full_name) or \
                next((v for k, v in self.ctx.state.linked_repos.items() if k.lower() == full_name.lower()), None)
            reasons = reasons + [f"linked from {linking}" if linking else "linked from a harvested story"]
        elif not source.tagged_only:
            reasons = reasons + ["source is on topic as a whole (tagged_only: false)"]
        licence = repo.get("license") or {}
        details = {
            "full_name": full_name,
            "homepage": (repo.get("homepage") or "").strip() or None,
            "topics": topics,
            "license": licence.get("spdx_id") if isinstance(licence, dict) else None,
            "language": repo.get("language"),
            "stars": repo.get("stargazers_count", repo.get("watchers_count")),
            "forks": repo.get("forks_count", repo.get("forks")),
            "open_issues": repo.get("open_issues_count", repo.get("open_issues")),
            "archived": bool(repo.get("archived")),
            "fork": bool(repo.get("fork")),
            "created_at": repo.get("created_at"),
            "pushed_at": repo.get("pushed_at"),
            "default_branch": repo.get("default_branch"),
            "readme_excerpt": readme_excerpt,
            "readme_markdown_sha": readme_sha,
            "publiccode": publiccode,
        }
        details_json = json.dumps(details, sort_keys=True, ensure_ascii=False)
        paragraphs = [p.strip() for p in readme_excerpt.split("\n") if p.strip()]
        content_html = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        return Entry(
            source_id=source.id,
            entry_key=entry_key,
            item_id=item_id(url, source.id, entry_key),
            url=url,
            canonical_url=url,
            title=full_name,
            summary=description,
            content_html=content_html,
            content_text=readme_excerpt,
            author=owner,
            published_at=parse_datetime(repo.get("created_at")),
            updated_at=parse_datetime(repo.get("pushed_at")),
            date_missing=not repo.get("created_at"),
            tags=merge_tags(topics, hashtags(description)),
            match_reasons=reasons,
            matched=bool(reasons) if source.tagged_only else True,
            language=None,
            raw_json=json.dumps(repo_facts(repo), ensure_ascii=False, sort_keys=True),
            kind_hint="asset",
            asset_type="repo",
            organisation=owner,
            details=details_json,
        )


def repo_facts(repo: dict) -> dict:
    """The repository as the API gave it, without its ~40 API-link fields (each derivable from
    the full name), which would triple what is stored per repository."""
    kept = {k: v for k, v in repo.items() if not (k.endswith("_url") and k not in ("html_url", "mirror_url"))
            and k not in ("url", "owner", "permissions")}
    owner = repo.get("owner") if isinstance(repo.get("owner"), dict) else {}
    kept["owner"] = {k: owner.get(k) for k in ("login", "id", "type", "html_url", "avatar_url") if k in owner}
    return kept


def parse_publiccode(text: str) -> dict:
    """The parts of a publiccode.yml the hub shows, and what is wrong with it (never fatal)."""
    problems: list[str] = []
    try:
        data = load_yaml(text, "publiccode.yml", max_bytes=MAX_PUBLICCODE_BYTES)
    except ConfigError as exc:
        return {"problems": exc.problems}
    if not isinstance(data, dict):
        return {"problems": ["not a mapping of keys"]}
    problems += [f"missing required key '{key}'" for key in PUBLICCODE_REQUIRED if key not in data]
    description = data.get("description") if isinstance(data.get("description"), dict) else {}
    localised = description.get("en") or description.get("en-GB") or next(iter(description.values()), None) \
        if description else None
    localised = localised if isinstance(localised, dict) else {}
    if description and not localised.get("shortDescription"):
        problems.append("description has no shortDescription")
    legal = data.get("legal") if isinstance(data.get("legal"), dict) else {}
    if "legal" in data and not legal.get("license"):
        problems.append("legal.license is missing")
    maintenance = data.get("maintenance") if isinstance(data.get("maintenance"), dict) else {}
    if "maintenance" in data and maintenance.get("type") not in ("internal", "contract", "community", "none"):
        problems.append(f"maintenance.type {maintenance.get('type')!r} is not internal, contract, community or none")
    contacts = maintenance.get("contacts") if isinstance(maintenance.get("contacts"), list) else []
    return {
        "name": _text(data.get("name")),
        "version": _text(data.get("publiccodeYmlVersion")),
        "description": _text(localised.get("shortDescription")) or _text(localised.get("longDescription"))[:500],
        "maintenance": {"type": _text(maintenance.get("type")),
                        "contacts": [_text(c.get("name")) for c in contacts if isinstance(c, dict)]},
        "legal": {"license": _text(legal.get("license")), "mainCopyrightOwner": _text(legal.get("mainCopyrightOwner"))},
        "problems": problems,
    }


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""

