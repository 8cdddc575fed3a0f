"""Time helpers: SQLite hands back naive datetimes, everything here is UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def aware(dt: datetime) -> datetime:
    """``dt`` as a timezone-aware UTC datetime (naive values from SQLite are UTC)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC text of ``dt`` (None stays None)."""
    return None if dt is None else aware(dt).isoformat().replace("+00:00", "Z")


def parse_time(text: str | None) -> datetime | None:
    """Parse an ISO 8601 / RFC 3339 time (``Z`` allowed, nanoseconds trimmed); None when empty or invalid."""
    if not text:
        return None
    t = text.strip().replace("Z", "+00:00")
    # trim fractional seconds beyond microseconds (Go emits nanoseconds)
    if "." in t:
        head, _, rest = t.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tail = rest[len(digits):]
        t = f"{head}.{digits[:6]}{tail}" if digits else head + tail
    try:
        return aware(datetime.fromisoformat(t))
    except ValueError:
        return None
