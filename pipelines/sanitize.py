"""HTML that is safe to store and show, and plain text for search."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
_BLOCK_BREAK = re.compile(r"</?(p|div|br|li|h[1-6]|tr|blockquote|pre|ul|ol|table|figure)\b[^>]*>", re.I)
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF], nothing else.
_NOT_IN_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


URL_ATTRIBUTES = {"href", "src"}
# The HTML parser behind nh3 takes time in the square of how deeply elements nest; real posts
# nest a few dozen deep. Deeper markup is kept as its text only.
NESTING_LIMIT = 500
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]{0,2000}?(/?)>")  # bounded: no quadratic scans
_VOID_OR_OPTIONAL_END = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
    "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "rt", "rp",
}


def nesting_depth(fragment: str) -> int:
    """How deeply `fragment`'s elements nest (void elements and optional end tags aside)."""
    depth = deepest = 0
    for closing, name, self_closing in _TAG.findall(fragment):
        if self_closing or name.lower() in _VOID_OR_OPTIONAL_END:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def within_nesting_limit(fragment: str) -> str:
    """`fragment`, or its text as escaped paragraphs when it nests deeper than NESTING_LIMIT."""
    if fragment.count("<") <= NESTING_LIMIT or nesting_depth(fragment) <= NESTING_LIMIT:
        return fragment
    text = html.unescape(_TAG.sub(" ", fragment))
    return "".join(f"<p>{html.escape(' '.join(p.split()))}</p>" for p in text.split("\n\n") if p.strip())


def sanitize_html(fragment: str | None, base_url: str | None = None, *, tags: set[str] = ALLOWED_TAGS) -> str:
    """Keep structure and links; drop scripts, styles, event handlers and non-http(s) URLs.

    Relative href/src values are made absolute against `base_url` here, in nh3's attribute
    pass, which is far cheaper than feedparser re-parsing every body to do it.
    """
    if not fragment:
        return ""

    def absolute(tag: str, attribute: str, value: str) -> str:
        return urljoin(base_url, value.strip()) if attribute in URL_ATTRIBUTES else value

    return nh3.clean(
        within_nesting_limit(fragment),
        attribute_filter=absolute if base_url else None,
        tags=tags,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (control characters but tab and line breaks, lone
    surrogates, U+FFFE, U+FFFF): one of them in a title made the hub's own feeds unreadable."""
    return _NOT_IN_XML.sub("", text)


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, whitespace folded."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return _SPACE.sub(" ", fragment).strip()
    # Mark block boundaries before nh3 drops every tag, so paragraphs stay apart.
    marked = _BLOCK_BREAK.sub("\n", within_nesting_limit(fragment))
    text = html.unescape(nh3.clean(marked, tags=set(), clean_content_tags={"script", "style"}))
    text = _SPACE.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def summarise(text: str, limit: int = 280) -> str:
    """The first sentences of `text`, cut at a word boundary within `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-") + "…"


UNTITLED = "(untitled)"   # what a record without a title stored before titles were derived from text
TITLE_LIMIT = 100
# A sentence ends at . ! ? or … followed by a space (so "3.5" or "example.org" do not end one).
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")


def title_from_text(text: str, limit: int = TITLE_LIMIT) -> str:
    """A title for a post that has none (a micro-post): its first line when that fits in `limit`,
    else its first sentence, cut at a word when that is too long as well."""
    first_line = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    if len(first_line) <= limit:
        return first_line
    sentence = _SENTENCE_END.split(first_line, 1)[0].strip()
    if len(sentence) <= limit:
        return sentence
    return cut_at_word(sentence, limit)


def cut_at_word(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary where one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ", limit // 2)
    return (cut[:space] if space > 0 else cut).rstrip().rstrip(",;:-") + "…"


SITE_TAGS = ALLOWED_TAGS - {"img"}


def sanitize_for_site(fragment: str | None) -> str:
    """Stored content cleaned again as the hub site renders it, with images dropped.

    The stored HTML is already clean; cleaning again at the last step means a warehouse
    written by an older or buggier version can never put script on the site. Images are
    dropped because the site loads nothing from other hosts (its Content-Security-Policy
    would block them anyway).
    """
    return sanitize_html(fragment, tags=SITE_TAGS)
