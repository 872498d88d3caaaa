"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0: well-formed UTF-8 RSS 2.0 and Atom 1.0 on lxml's fast path
(pipelines.parse.fastfeed), everything it is not sure of through feedparser."""

from __future__ import annotations

import re

import feedparser

from pipelines.dates import FeedDateReader, from_struct_time
from pipelines.parse.entry_limits import ENTRIES_PER_SOURCE, TAGS_PER_ENTRY
from pipelines.parse.entries import EntryFields, FeedFields, summary_unless_content
from pipelines.parse.fastfeed import feedparser_headers, parse_well_formed_feed
from pipelines.parse.sniff import first_tag

# Our own sanitiser (nh3) runs on every entry and makes content URLs absolute, so feedparser's
# slower passes over the HTML are switched off (together about 50% of its parse time). Entry
# links are still resolved by feedparser against xml:base and the document URL.
_PARSE_ARGS = {"sanitize_html": False, "resolve_relative_uris": False}
# Copies of `title` and `summary` that feedparser keeps again in the *_detail dicts.
_DUPLICATED_DETAILS = ("title_detail", "summary_detail")

# An internal DTD subset can declare entities that expand into gigabytes ("billion laughs") or
# name local files (external entities). expat gives up on the first after amplifying a little
# and feedparser never resolves the second, but each bomb still cost a parse worker memory
# that it held until the next garbage collection. Feeds need neither: only entities whose value
# is plain text or character references are kept, every other declaration is dropped before
# parsing (their references are then left as text by the loose parser).
_DOCTYPE = b"<!DOCTYPE"
_PROLOG_LIMIT = 65536
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_SUBSET_END = re.compile(rb"\]\s*>")
_PLAIN_ENTITY = re.compile(rb"""<!ENTITY\s+([\w.:-]+)\s+(?:"((?:[^"&%<]|&\#\w+;)*)"|'((?:[^'"&%<]|&\#\w+;)*)')\s*>""")


def parse_xml_feed(body: bytes, url: str, content_type: str | None) -> FeedFields:
    body, cut = within_entry_limits(without_impossible_characters(body))
    fast = parse_well_formed_feed(body, url, content_type)
    if fast is not None:
        fast.warning = "; ".join(filter(None, (cut, fast.warning))) or None
        return fast
    return parse_with_feedparser(body, url, content_type, cut)


def parse_with_feedparser(body: bytes, url: str, content_type: str | None, cut: str | None = None) -> FeedFields:
    """The feedparser path, for `body` already held to the entry limits (`cut` says how)."""
    parsed = feedparser.parse(without_expanding_entities(body), response_headers=feedparser_headers(url, content_type),
                              **_PARSE_ARGS)
    if not parsed.get("version") and not parsed.entries:
        root = first_tag(body)
        if root:
            raise ValueError(f"not an RSS, Atom or JSON feed (root element <{root}>)")
        problem = parsed.get("bozo_exception")
        raise ValueError(f"not an RSS, Atom or JSON feed: {problem or 'no XML element found'}")
    feed = parsed.feed
    dates = FeedDateReader(feed.get("language"))
    warning = cut
    if parsed.get("bozo") and parsed.get("bozo_exception") is not None:
        problem = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"
        warning = f"{cut}; {problem}" if cut else problem
    return FeedFields(
        format=parsed.get("version") or "unknown",
        title=feed.get("title", ""),
        link=feed.get("link"),
        language=feed.get("language"),
        entries=[_entry_fields(e, dates) for e in parsed.entries],
        warning=warning,
    )


# Where entries and their categories end and begin, in RSS and Atom with or without a prefix
# (each repetition bounded, so a hostile document cannot make the search quadratic).
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>")
_ENTRY_START_OR_CATEGORY = re.compile(
    rb"(?P<start><(?:[\w.-]+:)?(?:item|entry)[\s>])"
    rb"|<(?:[\w.-]+:)?(?:category|subject)\b[^>]{0,256}?/>"
    rb"|<(?P<name>(?:[\w.-]+:)?(?:category|subject))\b[^>]{0,256}>.{0,1024}?</(?P=name)\s*>", re.DOTALL)


def within_entry_limits(body: bytes) -> tuple[bytes, str | None]:
    """`body` with entries past ENTRIES_PER_SOURCE and categories past TAGS_PER_ENTRY in one entry
    removed before feedparser reads it (its time grows with the square of an entry's
    categories), and a warning saying so; the body itself when it is within them."""
    warnings = []
    if body.count(b"<item") + body.count(b"<entry") + body.count(b":item") + body.count(b":entry") > ENTRIES_PER_SOURCE:
        ends = [m.end() for m in _ENTRY_END.finditer(body)]
        if len(ends) > ENTRIES_PER_SOURCE:
            # The text after the last entry closes the document, so it stays well-formed.
            body = body[:ends[ENTRIES_PER_SOURCE - 1]] + body[ends[-1]:]
            warnings.append(f"the feed lists {len(ends):,} entries; the first {ENTRIES_PER_SOURCE:,} were read")
    if body.count(b"categor") + body.count(b"subject") > TAGS_PER_ENTRY:
        in_entry = 0
        dropped = 0

        def keep_within_limit(match: re.Match) -> bytes:
            nonlocal in_entry, dropped
            if match.group("start"):
                in_entry = 0
                return match.group(0)
            in_entry += 1
            if in_entry <= TAGS_PER_ENTRY:
                return match.group(0)
            dropped += 1
            return b""

        body = _ENTRY_START_OR_CATEGORY.sub(keep_within_limit, body)
        if dropped:
            warnings.append(f"{dropped:,} categories past the first {TAGS_PER_ENTRY} of an entry were dropped")
    return body, "; ".join(warnings) or None


_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]{1,8})|0*([0-9]{1,10}));")


def without_impossible_characters(body: bytes) -> bytes:
    """`body` without references to characters no text can hold (surrogates, past U+10FFFF):
    feedparser's lenient parser raises on them and the whole feed would be lost."""
    if b"&#" not in body:
        return body

    def possible(match: re.Match) -> bytes:
        code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        return b"" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else match.group(0)

    return _CHARACTER_REFERENCE.sub(possible, body)


def without_expanding_entities(body: bytes) -> bytes:
    """`body` with its internal DTD subset reduced to plain-text entity declarations."""
    wide = _wide_encoding(body)
    if wide is None:
        return _reduced_subset(body)
    # UTF-16 and UTF-32 documents hide "<!DOCTYPE" between NUL bytes: reduce their UTF-8 form
    # and write the result back in the document's own encoding (and byte order mark).
    codec, mark = wide
    try:
        utf8 = body[len(mark):].decode(codec).encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return body  # the parser reports the bad encoding
    reduced = _reduced_subset(utf8)
    return body if reduced is utf8 else mark + reduced.decode("utf-8").encode(codec)


# Byte order marks first, then the first bytes of "<?" without one (the XML spec's appendix F).
_WIDE_STARTS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_WIDE_UNMARKED = ((b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
                  (b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))


def _wide_encoding(body: bytes) -> tuple[str, bytes] | None:
    """(codec, byte order mark) of a UTF-16 or UTF-32 document, None for any other."""
    for mark, codec in _WIDE_STARTS:
        if body.startswith(mark):
            return codec, mark
    for start, codec in _WIDE_UNMARKED:
        if body.startswith(start):
            return codec, b""
    return None


def _reduced_subset(body: bytes) -> bytes:
    start = body.find(_DOCTYPE, 0, _PROLOG_LIMIT)
    if start < 0:
        return body
    element = _FIRST_ELEMENT.search(body, start)
    open_bracket = body.find(b"[", start, element.start() if element else len(body))
    if open_bracket < 0:
        return body
    close = _SUBSET_END.search(body, open_bracket)
    if close is None:
        return body  # malformed: the parser reports it
    subset = body[open_bracket + 1:close.start()]
    # Written the way feedparser's own doctype pass expects (it matches declarations, and the
    # doctype, only at the start of a line, and keeps only double-quoted values): otherwise it
    # cuts the doctype at the first ">" inside the subset.
    kept = b"".join(b'\n<!ENTITY %s "%s">' % (m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
                    for m in _PLAIN_ENTITY.finditer(subset))
    line_start = b"" if start == 0 or body[start - 1:start] == b"\n" else b"\n"
    return body[:start] + line_start + body[start:open_bracket + 1] + kept + b"\n" + body[close.start():]


def _entry_fields(entry, dates: FeedDateReader) -> EntryFields:
    content, content_base = "", None
    if entry.get("content"):
        # Prefer the HTML alternative when a feed offers several.
        parts = sorted(entry.content, key=lambda c: "html" not in (c.get("type") or ""))
        content, content_base = parts[0].get("value", ""), parts[0].get("base")
    summary = summary_unless_content(entry.get("summary", ""), content)
    categories = [t.get("term") or t.get("label") for t in entry.get("tags", [])]
    return EntryFields(
        guid=entry.get("id"),
        link=entry.get("link"),
        title=entry.get("title", ""),
        summary_html=summary,
        content_html=content,
        author=entry.get("author"),
        published_at=_entry_date(entry, ("published", "created"), dates),
        updated_at=_entry_date(entry, ("updated",), dates),
        categories=[c for c in categories if c],
        raw=_raw_entry(entry),
        language=(entry.get("language") or None),
        content_base=content_base or (entry.get("summary_detail") or {}).get("base"),
    )


def _entry_date(entry, names: tuple[str, ...], dates: FeedDateReader):
    """The first of the entry's dates `names` that feedparser read, else one written in the
    feed's own language that it could not ("Seg, 24 Set 2018")."""
    for name in names:
        if entry.get(f"{name}_parsed"):
            return from_struct_time(entry[f"{name}_parsed"])
    for name in names:
        if entry.get(name):
            return dates.read(entry[name])
    return None


def _raw_entry(entry) -> dict:
    raw = dict(entry)
    for key in _DUPLICATED_DETAILS:
        if isinstance(raw.get(key), dict):
            raw[key] = {k: v for k, v in raw[key].items() if k != "value"}
    return raw
