"""What one entry and one source may bring into the hub, and the one function that holds a
harvested source to it.

A hostile or broken source must not take the run with it: a title of megabytes, a feed of
hundreds of thousands of entries or an entry with half a million tags is cut down here, with
the reason recorded in the source's warning, before anything is written. The parsers bound
their own input earlier where a library would be slow on it (see `pipelines.parse.xmlfeed`
and `pipelines.sanitize`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pipelines.entry import Entry
from pipelines.sanitize import cut_at_word, sanitize_html  # sanitize_html closes what a cut left open

ENTRIES_PER_SOURCE = 5_000        # per source per run; feeds list their newest first
SOURCE_TEXT_CHARS = 50_000_000    # all the text one source's entries may bring in one run
TITLE_CHARS = 500
NAME_CHARS = 300                  # an author or an organisation
URL_CHARS = 4_096                 # an entry whose link is longer is dropped: a cut URL is wrong
TAGS_PER_ENTRY = 100
TAG_CHARS = 100
CONTENT_HTML_CHARS = 1_000_000
CONTENT_TEXT_CHARS = 500_000
JSON_FIELD_CHARS = 1_000_000      # raw_json, details, mention: kept as valid JSON, long values cut
JSON_STRING_CHARS = 20_000        # one string inside those JSON fields, when they are too long
JSON_LIST_ITEMS = 200
PARSE_SECONDS = 60.0              # one document in a parse worker; the run deadline also applies


@dataclass
class LimitsReport:
    """What holding a source's records to the limits changed, in words for its warning."""

    dropped: dict[str, int]
    cut: dict[str, int]

    def __bool__(self) -> bool:
        return bool(self.dropped or self.cut)

    def __str__(self) -> str:
        parts = [f"{count:,} {why}" for why, count in self.dropped.items()]
        parts += [f"{field} cut on {count:,} entr{'y' if count == 1 else 'ies'}" for field, count in self.cut.items()]
        return "limits applied: " + "; ".join(parts)


def hold_records_to_limits(records: list[Entry], entries_read: int = 0) -> tuple[list[Entry], LimitsReport]:
    """`records` within the limits above: long fields cut, extra tags and entries dropped."""
    report = LimitsReport(dropped={}, cut={})
    listed = max(entries_read, len(records))
    if listed > ENTRIES_PER_SOURCE:
        report.dropped[f"entries past the first {ENTRIES_PER_SOURCE:,} of {listed:,} dropped"] = \
            listed - min(len(records), ENTRIES_PER_SOURCE)
        records = records[:ENTRIES_PER_SOURCE]
    kept: list[Entry] = []
    text_chars = 0
    for record in records:
        if record.url is not None and len(record.url) > URL_CHARS:
            _count(report.dropped, f"entries with a link longer than {URL_CHARS:,} characters dropped")
            continue
        for field_name in _cut_fields(record):
            _count(report.cut, field_name)
        text_chars += len(record.content_html) + len(record.content_text) + len(record.raw_json)
        if text_chars > SOURCE_TEXT_CHARS:
            _count(report.dropped, f"entries past the source's {SOURCE_TEXT_CHARS // 1_000_000} MB of text dropped")
            continue
        kept.append(record)
    return kept, report


def _cut_fields(record: Entry) -> list[str]:
    """Cut `record`'s fields to their limits in place; the names of those it cut."""
    cut = []
    if len(record.title) > TITLE_CHARS:
        record.title = cut_at_word(record.title, TITLE_CHARS)
        cut.append("title")
    for name in ("author", "organisation"):
        value = getattr(record, name)
        if value is not None and len(value) > NAME_CHARS:
            setattr(record, name, cut_at_word(value, NAME_CHARS))
            cut.append(name)
    if len(record.tags) > TAGS_PER_ENTRY or any(len(t) > TAG_CHARS for t in record.tags):
        record.tags = [t[:TAG_CHARS] for t in record.tags[:TAGS_PER_ENTRY]]
        cut.append("tags")
    if len(record.match_reasons) > TAGS_PER_ENTRY:
        record.match_reasons = record.match_reasons[:TAGS_PER_ENTRY]
    if len(record.content_html) > CONTENT_HTML_CHARS:
        record.content_html = sanitize_html(record.content_html[:CONTENT_HTML_CHARS])
        cut.append("content")
    if len(record.content_text) > CONTENT_TEXT_CHARS:
        record.content_text = cut_at_word(record.content_text, CONTENT_TEXT_CHARS)
        if "content" not in cut:
            cut.append("content")
    for name in ("raw_json", "details", "mention"):
        value = getattr(record, name)
        if value is not None and len(value) > JSON_FIELD_CHARS:
            setattr(record, name, bounded_json_text(value))
            cut.append(name)
    return cut


def bounded_json_text(text: str) -> str:
    """A JSON text too long to keep whole, as valid JSON with long strings and lists cut."""
    try:
        value = json.loads(text)
    except ValueError:
        return json.dumps({"unreadable": text[:JSON_STRING_CHARS]})
    bounded = json.dumps(_bounded(value), ensure_ascii=False, default=str)
    if len(bounded) > JSON_FIELD_CHARS:  # many medium strings: keep the shape, not the values
        bounded = json.dumps({"cut": "entry too large to keep as given"})
    return bounded


def _bounded(value):
    if isinstance(value, str):
        return value[:JSON_STRING_CHARS]
    if isinstance(value, list):
        return [_bounded(v) for v in value[:JSON_LIST_ITEMS]]
    if isinstance(value, dict):
        return {str(k)[:JSON_STRING_CHARS]: _bounded(v) for k, v in list(value.items())[:JSON_LIST_ITEMS]}
    return value


def _count(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1
