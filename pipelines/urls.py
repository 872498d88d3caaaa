"""Canonical URLs and stable item ids."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAM_PREFIXES = ("utm_", "mc_")
TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "_hsenc", "_hsmi", "igshid"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str, base: str | None = None) -> str | None:
    """Absolute http(s) URL with lower-case scheme/host, no default port, fragment or tracking parameters."""
    if not url:
        return None
    url = url.strip()
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PARAM_PREFIXES) and k.lower() not in TRACKING_PARAMS
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def item_id(canonical: str | None, source_id: str, guid: str | None) -> str:
    """Stable id: from the canonical URL when there is one, else from the source and entry guid."""
    key = f"url:{canonical}" if canonical else f"guid:{source_id}:{guid}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
