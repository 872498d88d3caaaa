"""Middleman sites (GOV.UK's tech-docs-template among them) as Middleman publishes them: `config.rb`
at the root, pages in `source/`, named by their output and template extensions (standards/logging.html.md.erb
is published as /standards/logging.html). Plain functions the markdown kind calls; no I/O here."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

CONFIG_FILE = "config.rb"
SOURCE_FOLDER = "source"
# Markdown pages, with or without ERB run over them first.
PAGE_ENDINGS = (".md", ".markdown", ".md.erb", ".markdown.erb")


def is_page(path: str) -> bool:
    """Whether Middleman publishes the file at `path` as a Markdown page: under `source/`, not a
    partial (a name starting with `_`), named with a Markdown ending."""
    name = PurePosixPath(path).name
    return (path.startswith(SOURCE_FOLDER + "/") and not name.startswith("_")
            and name.lower().endswith(PAGE_ENDINGS))


def page_route(path: str) -> str:
    """The address path of the page at `path`: its path under `source/` with its template
    extensions taken off, ending in .html (the output extension it is named with, or Middleman's
    default); an index page's is its folder's."""
    inside = PurePosixPath(path[len(SOURCE_FOLDER) + 1:])
    name = re.sub(r"(\.(md|markdown|erb))+$", "", inside.name, flags=re.I)
    if not PurePosixPath(name).suffix:
        name += ".html"
    route = str(inside.with_name(name))
    # An index page is its folder's address, as Middleman's own links to it are.
    return route[:-len("index.html")] if route == "index.html" or route.endswith("/index.html") else route
