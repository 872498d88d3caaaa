"""Markdown (READMEs, Jekyll posts) to sanitised HTML and plain text."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt

from pipelines.sanitize import html_to_text, sanitize_html


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    # CommonMark plus GitHub's tables and strikethrough; raw HTML in the source is passed to the
    # sanitiser like any other HTML, never trusted.
    return MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])


def markdown_to_html(text: str, base_url: str | None = None) -> str:
    return sanitize_html(_renderer().render(text or ""), base_url=base_url)


def inline_markdown_to_text(text: str) -> str:
    """The text of one line of Markdown (a title, a summary): emphasis, links and code as their words."""
    return html_to_text(_renderer().renderInline(text or ""))


def markdown_excerpt(text: str, limit: int = 2000) -> str:
    """The first `limit` characters of the rendered text, cut at a word boundary."""
    plain = html_to_text(_renderer().render(text or ""))
    if len(plain) <= limit:
        return plain
    cut = plain[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip() + "…"
