"""Canonical URLs and stable item ids.

url-normalize does the RFC 3986 part (case, default ports, percent-encoding, dot segments,
IDNA hosts); what it does not know is which query parameters only track the reader, so
those are dropped here, with the fragment.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from url_normalize import url_normalize

TRACKING_PARAM_PREFIXES = ("utm_", "mc_")
TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "_hsenc", "_hsmi", "igshid", "mkt_tok"}
SCHEMES = ("http", "https")
# github.com/owner/name, ignoring what follows (/tree/main, /issues, .git)
GITHUB_REPO_RE = re.compile(r"^https?://(?:www\.)?github\.com/([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+?)(?:\.git)?(?:[/?#]|$)")
GITHUB_NOT_OWNERS = {"about", "features", "orgs", "topics", "sponsors", "marketplace", "settings", "login",
                     "join", "explore", "collections", "site", "pricing", "enterprise", "search", "apps"}


def canonical_url(url: str, base: str | None = None) -> str | None:
    """Absolute http(s) URL, normalised, with no fragment or tracking parameters; None if not one."""
    if not url:
        return None
    url = url.strip()
    if base:
        url = urljoin(base, url)
    return _canonical(url)


# The same links (a site's own pages, its repositories) recur across thousands of entries.
@lru_cache(maxsize=65536)
def _canonical(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        return None
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PARAM_PREFIXES) and k.lower() not in TRACKING_PARAMS
    ]
    stripped = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query, doseq=True), ""))
    try:
        return url_normalize(stripped)
    except (ValueError, UnicodeError):
        return None


def permalink(url: str | None) -> str | None:
    """The canonical URL with the link's own #fragment kept: a post's address on a page of many posts."""
    canonical = canonical_url(url or "")
    if canonical is None:
        return None
    fragment = urlsplit(url.strip()).fragment
    return f"{canonical}#{fragment}" if fragment else canonical


def url_identity(canonical: str) -> str:
    """What makes two canonical URLs the same page: `/post` and `/post/` are one."""
    parts = urlsplit(canonical)
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def item_id(canonical: str | None, source_id: str, guid: str | None) -> str:
    """Stable id: from the canonical URL when there is one, else from the source and entry guid."""
    key = f"url:{url_identity(canonical)}" if canonical else f"guid:{source_id}:{guid}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def github_repo(url: str | None, *, root_only: bool = False) -> str | None:
    """'owner/name' when the URL is a GitHub repository, or a page inside one unless `root_only`."""
    match = GITHUB_REPO_RE.match(url or "")
    if not match or match.group(1).lower() in GITHUB_NOT_OWNERS:
        return None
    if root_only and urlsplit(url).path.rstrip("/").count("/") != 2:
        return None
    return f"{match.group(1)}/{match.group(2)}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
