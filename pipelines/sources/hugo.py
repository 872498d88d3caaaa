"""Hugo sites as Hugo publishes them: the site's configuration (hugo.toml, config.yaml, … at the root
or in config/_default/), its content folders (one per language) and `permalinks`, and the path Hugo
makes of a file name, slug or title. Plain functions the markdown kind calls; no I/O here."""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import quote

from pipelines.errors import ConfigError
from pipelines.parse.urls import canonical_url
from pipelines.safe_yaml import load_yaml

# Where Hugo looks for its configuration, in its order.
CONFIG_FILES = tuple(f"{folder}{name}.{ext}" for folder in ("", "config/_default/") for name in ("hugo", "config")
                     for ext in ("toml", "yaml", "yml", "json"))
MAX_CONFIG_BYTES = 1_000_000
_TOKEN = re.compile(r":(\w+)")
_DATED_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-(.+)$")


@dataclass(frozen=True)
class ContentFolder:
    """A folder of content (`contentDir`) and what Hugo publishes it under."""

    path: str                      # relative to the site root, e.g. "content/en"
    language: str | None = None
    base_url: str | None = None    # the language's own host, when the site has one per language
    prefix: str = ""               # "fr/" when the language is published under the site's address
    permalinks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HugoSite:
    folders: tuple[ContentFolder, ...]
    lower_paths: bool = True
    # `frontmatter: {date: [":filename", …]}`: a file named 2017-02-01-my-post.md is dated by its name
    # and, without a slug of its own, published as my-post.
    date_from_filename: bool = False

    def folder_of(self, path: str) -> ContentFolder | None:
        """The content folder holding `path` (the deepest, when one holds another)."""
        holding = [f for f in self.folders if path.startswith(f.path + "/")]
        return max(holding, key=lambda f: len(f.path)) if holding else None


def read_config(name: str, text: str) -> dict | None:
    """A Hugo configuration file's settings, keys lower-cased as Hugo reads them; None if unreadable."""
    try:
        if name.endswith(".toml"):
            data = tomllib.loads(text[:MAX_CONFIG_BYTES])
        elif name.endswith(".json"):
            data = json.loads(text[:MAX_CONFIG_BYTES])
        else:
            data = load_yaml(text, name, max_bytes=MAX_CONFIG_BYTES)
    except (ConfigError, tomllib.TOMLDecodeError, ValueError):
        return None
    return _lower_keys(data) if isinstance(data, dict) else None


def hugo_site(config: dict | None) -> HugoSite | None:
    """The site a Hugo configuration describes, or None when it is no Hugo configuration (a file
    named config.yml may be anything's: Hugo's names a baseURL, languages or permalinks)."""
    if not config or not any(k in config for k in ("baseurl", "languages", "permalinks", "contentdir")):
        return None
    site_permalinks = _permalinks(config.get("permalinks"))
    default_language = str(config.get("defaultcontentlanguage") or "en").lower()
    in_subdir = bool(config.get("defaultcontentlanguageinsubdir"))
    languages = config.get("languages") if isinstance(config.get("languages"), dict) else {}
    folders = []
    for code, settings in languages.items():
        settings = settings if isinstance(settings, dict) else {}
        base_url = settings.get("baseurl") if isinstance(settings.get("baseurl"), str) else None
        # A language with its own host is published at its root; otherwise under /<code>/ unless it
        # is the default language (and the site does not put that one in a folder too).
        prefix = "" if base_url or (code == default_language and not in_subdir) else f"{code}/"
        folders.append(ContentFolder(
            path=_folder(settings.get("contentdir") or config.get("contentdir")), language=code,
            base_url=base_url.rstrip("/") + "/" if base_url else None, prefix=prefix,
            permalinks={**site_permalinks, **_permalinks(settings.get("permalinks"))}))
    if not any(f.path == _folder(config.get("contentdir")) for f in folders):
        folders.append(ContentFolder(path=_folder(config.get("contentdir")), permalinks=site_permalinks))
    dates = config.get("frontmatter", {}).get("date") if isinstance(config.get("frontmatter"), dict) else None
    date_from_filename = isinstance(dates, list) and ":filename" in [str(d).lower() for d in dates]
    return HugoSite(tuple(folders), lower_paths=not config.get("disablepathtolower"),
                    date_from_filename=date_from_filename)


def is_page(site: HugoSite, path: str) -> bool:
    """Whether Hugo publishes the file at `path` as a page of its own: it is in a content folder and
    is no section's list page (`_index.md`)."""
    return site.folder_of(path) is not None and PurePosixPath(path).stem != "_index"


def page_url(site: HugoSite, path: str, meta: dict, date: datetime | None, site_url: str) -> str | None:
    """Where Hugo publishes the page at `path`: its front matter `url`, else its section's permalink
    pattern, else its folders and its slug or file name; on its language's host or `site_url`."""
    folder = site.folder_of(path)
    if folder is None:
        return None
    base = folder.base_url or site_url
    own = meta.get("url")
    if isinstance(own, str) and own.strip():
        return canonical_url(own.strip().lstrip("/"), base=base)
    inside = PurePosixPath(path[len(folder.path) + 1:])
    # A leaf bundle (posts/my-post/index.md) is named by its folder.
    name = inside.parent.name if inside.stem == "index" and inside.parent.name else inside.stem
    folders = inside.parent.parts[:-1] if inside.stem == "index" else inside.parent.parts
    section = folders[0] if folders else ""
    slug = meta.get("slug") if isinstance(meta.get("slug"), str) and meta.get("slug").strip() else None
    dated_name = _DATED_NAME.match(name) if site.date_from_filename else None
    if dated_name and slug is None:
        slug = dated_name.group(1)
    title = meta.get("title") if isinstance(meta.get("title"), str) else ""
    pattern = folder.permalinks.get(section.lower())
    if pattern:
        values = {
            "section": urlize(section, site.lower_paths),
            "sections": "/".join(urlize(f, site.lower_paths) for f in folders),
            "title": urlize(title or name, site.lower_paths),
            "slug": urlize(slug or title or name, site.lower_paths),
            "filename": urlize(name, site.lower_paths),
            "slugorfilename": urlize(slug or name, site.lower_paths),
            "contentbasename": urlize(name, site.lower_paths),
        }
        if date is not None:
            values.update(year=f"{date:%Y}", month=f"{date:%m}", day=f"{date:%d}",
                          monthname=f"{date:%B}".lower(), yearday=f"{date.timetuple().tm_yday}")
        route = _TOKEN.sub(lambda m: values.get(m.group(1).lower(), ""), pattern)
    else:
        route = "/".join([*(urlize(f, site.lower_paths) for f in folders), urlize(slug or name, site.lower_paths)])
    route = re.sub(r"/+", "/", f"{folder.prefix}{route}").strip("/")
    # Hugo writes each page as a folder's index.html, so its address ends in a slash.
    if not PurePosixPath(route).suffix:
        route += "/"
    return canonical_url(route, base=base)


def urlize(text: str, lower: bool = True) -> str:
    """The path Hugo makes of a name: letters, digits, marks and `. _ ~ + # /` kept, each run of
    spaces and hyphens one hyphen (none at the start or end), anything else dropped; lower-cased unless
    the site says not to; escaped for a URL. As the audited sites were built: their own links show
    "covid-19-–-email" published as "covid-19-email" (newer Hugo keeps each hyphen written)."""
    kept: list[str] = []
    hyphen_pending = False
    for char in text:
        category = unicodedata.category(char)
        if char in "._~+#/" or category[0] in "LM" or category == "Nd":
            if hyphen_pending:
                kept.append("-")
                hyphen_pending = False
            kept.append(char)
        elif kept and (char == "-" or char.isspace()):
            hyphen_pending = True
    path = "".join(kept)
    return quote(path.lower() if lower else path, safe="/~+#")


def _permalinks(value) -> dict[str, str]:
    """Section → pattern, from `permalinks: {posts: …}` or the newer `permalinks: {page: {posts: …}}`."""
    if not isinstance(value, dict):
        return {}
    if isinstance(value.get("page"), dict):
        value = value["page"]
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _folder(value) -> str:
    return str(value).strip().strip("/") if isinstance(value, str) and value.strip() else "content"


def _lower_keys(value):
    # Hugo reads its settings' names in any case (baseURL, baseUrl), section names too.
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    return value
