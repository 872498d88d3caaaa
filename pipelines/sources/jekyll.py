"""Jekyll sites as Jekyll publishes them: `_config.yml`'s permalink (a pattern or one of Jekyll's
named styles), its front matter `defaults` and its collections' permalinks. Plain functions the
markdown kind calls; no I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import quote

# Jekyll's named permalink styles, as `permalink: pretty` in _config.yml means them.
STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_TOKEN = re.compile(r":(\w+)")
_OUTPUT_EXT = ":output_ext"


def post_pattern(config: dict | None) -> str:
    """The pattern a site's posts are published by: its `permalink` (a style's name or a pattern)."""
    value = config.get("permalink") if isinstance(config, dict) else None
    return _pattern(value) or STYLES["date"]


def collection_pattern(config: dict | None, label: str) -> str | None:
    """The pattern a collection's documents are published by: its own `permalink`, else Jekyll's
    default for collections (a folder per document when the site's style is pretty); None when the
    collection is not declared with `output: true`, as Jekyll then writes no page for its documents."""
    collections = config.get("collections") if isinstance(config, dict) else None
    settings = collections.get(label) if isinstance(collections, dict) else None
    if not isinstance(settings, dict) or settings.get("output") is not True:
        return None
    own = _pattern(settings.get("permalink"))
    if own:
        return own
    pretty = isinstance(config, dict) and config.get("permalink") == "pretty"
    return "/:collection/:path/" if pretty else "/:collection/:path:output_ext"


def _pattern(value) -> str | None:
    """A `permalink` setting as a pattern: a style's name means its pattern; a pattern starts at the root."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return STYLES.get(value, value if value.startswith("/") else "/" + value)


def with_defaults(config: dict | None, path: str, kind: str, meta: dict) -> dict:
    """The file's front matter over the `defaults` whose scope (a path prefix, a type: "posts",
    "pages" or a collection's label) covers it; the more specific scope wins, then the later one."""
    defaults = config.get("defaults") if isinstance(config, dict) else None
    if not isinstance(defaults, list):
        return meta
    matching = []
    for order, rule in enumerate(defaults):
        if not isinstance(rule, dict) or not isinstance(rule.get("values"), dict):
            continue
        scope = rule.get("scope") if isinstance(rule.get("scope"), dict) else {}
        scope_path = str(scope.get("path") or "").strip("/")
        scope_type = scope.get("type")
        if scope_path and not _covers(scope_path, path):
            continue
        if scope_type and scope_type != kind:
            continue
        matching.append((len(scope_path), bool(scope_type), order, rule["values"]))
    merged: dict = {}
    for *_, values in sorted(matching, key=lambda m: m[:3]):
        merged.update({str(k): v for k, v in values.items()})
    return {**merged, **meta}


def document_type(collection: str | None) -> str:
    """The type a `defaults` scope names the file by: "posts", a collection's label, or "pages"."""
    return collection.lstrip("_") if collection else "pages"


def expand(pattern: str, values: dict[str, str]) -> str:
    """A permalink pattern with its placeholders filled; the address path it gives, from the root."""
    route = pattern.replace(_OUTPUT_EXT, "\x00")
    route = _TOKEN.sub(lambda m: values.get(m.group(1), m.group(0)), route).replace("\x00", ".html")
    route = re.sub(r"/+", "/", route)
    # A pattern ending in a folder publishes the page as that folder's index.html.
    return route.lstrip("/")


def placeholders(*, slug: str, date: datetime | None, categories: list[str], collection: str | None,
                 path_in_collection: str) -> dict[str, str]:
    """The values of Jekyll's placeholders for one document."""
    values = {"title": slug, "slug": slug.lower(), "name": slug,
              "categories": "/".join(quote(c.lower().replace(" ", "-")) for c in categories),
              "collection": (collection or "").lstrip("_"), "path": path_in_collection}
    if date is not None:
        values.update(year=f"{date:%Y}", month=f"{date:%m}", day=f"{date:%d}", i_month=str(date.month),
                      i_day=str(date.day), short_year=f"{date:%y}", y_day=f"{date.timetuple().tm_yday:03d}")
    return values


def _covers(scope_path: str, path: str) -> bool:
    if "*" in scope_path:
        return PurePosixPath(path).match(scope_path) or PurePosixPath(path).parent.match(scope_path)
    return path == scope_path or path.startswith(scope_path + "/")


@dataclass(frozen=True)
class JekyllSite:
    """A Jekyll site's configuration and the folder its _config.yml is in ("" for the root)."""

    config: dict
    root: str = ""

    def front_matter(self, path: str, collection: str | None, meta: dict) -> dict:
        """The front matter Jekyll gives the file at `path`: its own over the site's defaults."""
        inside = path[len(self.root) + 1:] if self.root and path.startswith(self.root + "/") else path
        return with_defaults(self.config, inside, document_type(collection), meta)


def is_config_file(name: str) -> bool:
    return PurePosixPath(name).name == "_config.yml"


def root_of(config_file: str) -> str:
    parent = str(PurePosixPath(config_file).parent)
    return "" if parent == "." else parent

