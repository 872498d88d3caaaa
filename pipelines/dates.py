"""Publication dates, always timezone-aware UTC."""

from __future__ import annotations

import calendar
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# A date is a few dozen characters: a longer "date" is not read (dateparser's time grows with it).
DATE_TEXT_LIMIT = 80
# Only absolute dates with a day, month and year: "yesterday" in a feed is not a publication date.
_ANY_LANGUAGE_SETTINGS = {"RETURN_AS_TIMEZONE_AWARE": True, "TO_TIMEZONE": "UTC", "PARSERS": ["absolute-time"],
                          "REQUIRE_PARTS": ["day", "month", "year"]}


def from_struct_time(value: time.struct_time | None) -> datetime | None:
    """feedparser's *_parsed fields are UTC struct_time values."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def parse_datetime(text: str | None) -> datetime | None:
    """RFC 3339 / ISO 8601 (JSON Feed) or RFC 822 dates; naive values are taken as UTC."""
    if not text or not isinstance(text, str):
        return None
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_date_in_any_language(text: str | None, language: str | None = None) -> datetime | None:
    """A date written in its feed's own language ("Seg, 24 Set 2018 19:42:40 -0300"), which the
    RFC 822 and ISO parsers refuse; `language` (the feed's, e.g. "pt-BR") is tried first."""
    return FeedDateReader(language).read(text)


class FeedDateReader:
    """Dates in one feed's own language. A date read in an undeclared language costs dateparser
    a search of every language, even with try_previous_locales; so the locale it found is kept
    in a parser of its own, tried before the search for the rest of the feed. Given up on after
    MISSES unread dates: a hostile feed may carry thousands of entries."""

    MISSES = 20

    def __init__(self, language: str | None) -> None:
        self.language = (language or "").split("-")[0].split("_")[0].lower()
        self.misses = 0
        self._declared = self._found = self._any = None   # dateparser's parsers, made on first use

    def read(self, text: str | None) -> datetime | None:
        if not text or not isinstance(text, str) or len(text) > DATE_TEXT_LIMIT or self.misses >= self.MISSES:
            return None
        value = self._parse(text)
        self.misses += value is None
        return value.astimezone(timezone.utc) if value else None

    def _parse(self, text: str) -> datetime | None:
        # Imported on first use: its language data is tens of MB that most runs never need.
        from dateparser.date import DateDataParser

        if self.language and self._declared is None:
            try:
                self._declared = DateDataParser(languages=[self.language], settings=_ANY_LANGUAGE_SETTINGS)
            except ValueError:  # a language dateparser does not know
                self.language = ""
        value = self._declared.get_date_data(text).date_obj if self._declared else None
        if value is None and self._found is not None:
            value = self._found.get_date_data(text).date_obj
        if value is None:
            if self._any is None:
                self._any = DateDataParser(try_previous_locales=True, settings=_ANY_LANGUAGE_SETTINGS)
            found = self._any.get_date_data(text)
            value = found.date_obj
            if value is not None and found.locale and self._found is None:
                self._found = DateDataParser(locales=[found.locale], settings=_ANY_LANGUAGE_SETTINGS)
        return value


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_datetime(value)
    if when is None:
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now) / timedelta(seconds=1))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
