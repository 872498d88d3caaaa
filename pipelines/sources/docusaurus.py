"""Docusaurus sites' blogs as Docusaurus publishes them: posts in `blog/`, dated and addressed by
their file names (2023-11-28-title.md, 2023/11/28-title.md, 2023/11/28/title/index.md). The site's
configuration is JavaScript, so its defaults are assumed: the blog in `blog/`, published under /blog/.
Plain functions the markdown kind calls; no I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

CONFIG_FILES = tuple(f"docusaurus.config.{ext}" for ext in ("js", "ts", "mjs", "cjs", "mts", "cts"))
BLOG_FOLDER = "blog"
# Docusaurus' own pattern for a post's file name (plugin-content-blog, parseBlogFileName).
_FILE_NAME = re.compile(r"^(?P<folder>.*)\b(?P<date>\d{4}[-/]\d{1,2}[-/]\d{1,2})[-/]?(?P<text>.*?)(?:/index)?\.mdx?$")


@dataclass(frozen=True)
class BlogPost:
    route: str                    # the address path under the site, e.g. "blog/2023/11/28/title"
    date: datetime | None         # the date its file name gives


def blog_post(path: str, slug: str | None) -> BlogPost | None:
    """Where Docusaurus publishes the file at `path` (from the site's root), or None when it is no
    blog post: its front matter `slug`, else its file name's date as written and the rest of its name."""
    if not path.startswith(BLOG_FOLDER + "/"):
        return None
    inside = path[len(BLOG_FOLDER) + 1:]
    match = _FILE_NAME.match(inside)
    date = None
    if match:
        year, month, day = (int(p) for p in re.split(r"[-/]", match["date"]))
        try:
            date = datetime(year, month, day, tzinfo=timezone.utc)
        except ValueError:
            date = None
        route = f"{match['date'].replace('-', '/')}/{match['folder']}{match['text']}"
    else:
        route = re.sub(r"(?:/index)?\.mdx?$", "", inside)
    if slug:
        route = slug
    return BlogPost(route=f"{BLOG_FOLDER}/{route.strip('/')}", date=date)
