"""Publication dates, always timezone-aware UTC."""

from __future__ import annotations

import calendar
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime


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
