"""Cleaning one entry's text: mojibake repaired (ftfy), a summary when none was given, the language.

ftfy is only run where its own badness check finds mojibake, so clean text (nearly all of
it) costs a regex scan, not a full repair pass.
"""

from __future__ import annotations

import re

import ftfy
import pycld2
from ftfy.badness import is_bad


MIN_TEXT_FOR_LANGUAGE = 60   # characters: below this a detector guesses
# CLD2 still answers with a few pre-2002 codes: the hub stores current ISO 639-1.
_CLD2_CODES = {"iw": "he", "jw": "jv", "in": "id", "ji": "yi"}
# UTF-8 read as Latin-1 or Windows-1252 always shows a lead byte as one of À…ï (Ã, Â, â, Ð, …):
# text without any is left alone without running ftfy's fuller check.
_LEAD_BYTES = re.compile("[\u00c0-\u00ef]")


def has_mojibake(*texts: str | None) -> bool:
    return any(t and _LEAD_BYTES.search(t) and is_bad(t) for t in texts)


def fix_text(text: str | None) -> str:
    if not text:
        return ""
    if not has_mojibake(text):
        return text
    # Leave HTML entities alone: content_html must stay HTML, and text was already unescaped.
    return ftfy.fix_text(text, unescape_html=False, normalization="NFC")


def primary_language(tag: str | None) -> str | None:
    """'en-GB' → 'en'; the hub filters on the language, not the region."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code guessed from the text, or None when there is too little to go on.

    CLD2 (Chrome's detector, models compiled into its extension): far less memory and time than
    py3langid's model, and it agreed with py3langid on nearly all of the corpus (docs/scaling.md)."""
    text = " ".join(text.split())[:2000]
    if len(text) < MIN_TEXT_FOR_LANGUAGE:
        return None
    try:
        reliable, _, details = pycld2.detect(text)
    except (pycld2.error, UnicodeError):   # invalid UTF-8 (lone surrogates) or control characters
        return None
    code = primary_language(details[0][1]) if reliable else None
    return _CLD2_CODES.get(code, code) if code and code != "un" else None
