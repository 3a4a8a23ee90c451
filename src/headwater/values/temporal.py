"""Temporal strings (TYPES-39): the one ISO 8601 subset headwater reads, the same on every Python."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Final

from headwater.values.kinds import UTC

__all__ = ["parse_temporal"]

_TEMPORAL_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?)?"
)


def parse_temporal(text: str) -> date | datetime | None:
    """Parse the TYPES-39 grammar after stripping whitespace; ``None`` when ``text`` does not match.

    ``YYYY-MM-DD`` gives a date; with a time part (``T`` or one space, ``HH:MM``, optional ``:SS``
    and 1 to 9 fraction digits, truncated to microseconds) a datetime, aware when a zone is given
    (``Z``, ``z``, ``+HH:MM``, ``+HHMM``, ``+HH`` or the same with ``-``). A fraction needs seconds.
    Works the same on Python 3.10 and later (no ``datetime.fromisoformat``).

        >>> parse_temporal(" 2024-12-31 ")
        datetime.date(2024, 12, 31)
        >>> parse_temporal("2024-01-02T03:04:05+0130")
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(seconds=5400)))
        >>> parse_temporal("2024-01-02T03") is None
        True
    """
    match = _TEMPORAL_RE.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        if hour is None:
            return date(int(year), int(month), int(day))
        tz: timezone | None = None
        if zulu is not None:
            tz = UTC
        elif sign is not None:
            off_minutes = int(off_m) if off_m is not None else 0
            if off_minutes > 59:
                return None
            offset = timedelta(hours=int(off_h), minutes=off_minutes)
            tz = timezone(-offset if sign == "-" else offset) if offset else UTC
        micro = int(fraction[:6].ljust(6, "0")) if fraction is not None else 0
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute),
            int(second) if second is not None else 0, micro, tz,
        )
    except ValueError:  # day 31 of a 30-day month, hour 24, offset of 24 hours or more...
        return None
