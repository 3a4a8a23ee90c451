"""Incremental cursors: remember how far each table was synced, and never skip a record.

A :class:`Cursor` keeps one table's position in the connector's state. The connector asks the
source for the records changed since :attr:`Cursor.since`, upserts them, tells the cursor about
each one *after* upserting it, and commits the cursor right before each checkpoint. The stored
position only ever moves to a value that was upserted, so a run that fails half-way resumes from
its last checkpoint without losing anything::

    from fivetran_connector_sdk import Connector, Operations as op
    from headwater.incremental import Cursor

    def update(configuration, state):
        cursor = Cursor(state, "orders", field="updated_at", primary_key="id")
        # The source returns orders with updated_at >= cursor.since, oldest first.
        for page in api.orders(updated_since=cursor.since):
            for order in page:
                if cursor.skip(order):     # a tie at the boundary, upserted by an earlier page or run
                    continue
                op.upsert("orders", order)  # 1. upsert the record
                cursor.track(order)         # 2. then let the cursor cover it
            cursor.commit()                 # 3. move the stored cursor to what was upserted
            op.checkpoint(state)            # 4. save the rows and that cursor together

The state then holds, per table::

    {"cursors": {"orders": {"value": "2024-05-01T12:00:00Z", "tie_keys": [41, 42]}}}

``value`` is the greatest cursor value upserted so far, stored as the record carried it (an
ISO-8601 string as given, an int, a float; a ``datetime`` becomes its ISO-8601 text).
``tie_keys`` holds the primary keys of the upserted records whose value equals ``value``: a
scalar for a one-column key, a list for a composite key.

Boundaries:

- ``boundary="inclusive"`` (the default): ask the source for values ``>= since``
  (:attr:`Cursor.operator`). Records equal to the cursor come back; :meth:`Cursor.skip` drops the
  ones already upserted (their keys are in ``tie_keys``) and keeps the new ones, so a record
  written at the same instant as the last one synced is never lost. This needs ``primary_key``.
- ``boundary="exclusive"``: ask for values ``> since``. Nothing is fetched twice and no keys are
  stored, but a record whose value equals the stored cursor and that reached the source after
  the checkpoint (or sat on the next page when the page limit cut a group of equal values) is
  never fetched: it is lost. Use it only when cursor values are unique (an auto-increment id, a
  strictly increasing sequence number).

Cursor values may be ints, floats, ``datetime``/``date`` objects or ISO-8601 strings
(``2024-05-01``, ``2024-05-01T12:00:00Z``, ``2024-05-01 12:00:00.123456789+02:00``). They are
compared parsed: timestamps in UTC (naive ones are taken as UTC) with nanosecond precision, so
``...T12:00:00Z`` and ``...T14:00:00+02:00`` are the same instant. One cursor holds either numbers
or timestamps; mixing them raises :class:`CursorError`. For any other form pass ``field`` a
function returning one of these (``field=lambda r: int(r["seq"])``). A record whose cursor value
is ``None`` is upserted as usual but does not move the cursor.

:meth:`Cursor.skip` assumes that a record whose cursor value did not change did not change. When
the source can modify a record without moving its value (a timestamp in whole seconds, written
twice within one second), do not call ``skip``: upserting the boundary ties again is harmless and
picks such changes up.

Commit only at points where every record up to the tracked maximum has been tracked: after each
page when the source returns records sorted by the cursor field, otherwise once, after the last
page. The tie keys grow with the number of records sharing the greatest value; a source that
stamps millions of records with one value makes a large state, and a finer cursor field (or
``exclusive`` with a unique field) is the better choice there.

This module uses only the standard library, so it also works where headwater is not installed:
copy it next to ``connector.py`` and import it from there.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Literal, TypeAlias

__all__ = [
    "Boundary",
    "Cursor",
    "CursorError",
    "CursorValue",
    "parse_cursor_value",
]

#: What a cursor accepts as a value.
CursorValue: TypeAlias = int | float | str | dt.datetime | dt.date
#: Which records equal to the stored cursor a fetch includes.
Boundary: TypeAlias = Literal["inclusive", "exclusive"]

STATE_KEY = "cursors"
_BOUNDARIES = ("inclusive", "exclusive")

_ISO = re.compile(
    r"""^\s*
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:[Tt\ ]
        (?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?
    )?
    \s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?
    \s*$""",
    re.VERBOSE,
)


class CursorError(ValueError):
    """A cursor value, a record or the stored cursor state cannot be used; the message says why."""


# A parsed value: ("number", n) or ("timestamp", (utc datetime, nanoseconds below the microsecond)).
_Parsed = tuple[str, Any]


def parse_cursor_value(value: Any) -> int | float | dt.datetime:
    """The comparable form of a cursor value: a number, or an aware UTC ``datetime``.

    >>> parse_cursor_value("2024-05-01T14:00:00+02:00")
    datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    >>> parse_cursor_value(17)
    17

    Raises :class:`CursorError` for anything else (booleans, ``None``, non-ISO strings, NaN).
    """
    kind, key = _parse(value)
    if kind == "number":
        number: int | float = key
        return number
    moment: dt.datetime = key[0]
    return moment


def _parse(value: Any, *, what: str = "cursor value") -> _Parsed:
    if isinstance(value, bool):
        raise CursorError(f"{what} {value!r} is a boolean; use an int, a float, a datetime or an ISO-8601 string")
    if isinstance(value, int):
        return ("number", value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise CursorError(f"{what} {value!r} is not a finite number")
        return ("number", value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        return ("timestamp", (aware.astimezone(dt.timezone.utc), 0))
    if isinstance(value, dt.date):
        return ("timestamp", (dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc), 0))
    if isinstance(value, str):
        return ("timestamp", _parse_iso(value, what))
    raise CursorError(
        f"{what} {value!r} has type {type(value).__name__}; a cursor takes ints, floats, datetimes, dates "
        "or ISO-8601 strings (pass field=<function> to convert other forms)"
    )


def _parse_iso(text: str, what: str) -> tuple[dt.datetime, int]:
    match = _ISO.match(text)
    if match is None:
        raise CursorError(
            f"{what} {text!r} is not an ISO-8601 date or timestamp (e.g. '2024-05-01T12:00:00Z'); "
            "pass field=<function> to turn it into an int, a float or a datetime"
        )
    parts = match.groupdict()
    fraction = (parts["fraction"] or "").ljust(9, "0")
    zone = parts["zone"]
    try:
        if zone is None or zone in ("Z", "z"):
            tz = dt.timezone.utc
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
        moment = dt.datetime(
            int(parts["year"]), int(parts["month"]), int(parts["day"]),
            int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0),
            int(fraction[:6]), tzinfo=tz,
        ).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise CursorError(f"{what} {text!r} is not a valid date or time: {exc}") from None
    return moment, int(fraction[6:])


def _to_json(value: Any) -> Any:
    """A JSON-safe form of a cursor value (strings are kept exactly as the source wrote them)."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        return aware.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _json_key_part(value: Any) -> Any:
    """A primary-key value as it is stored in the state: JSON-safe and hashable once loaded."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_json_key_part(v) for v in value]
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value


def _sorted_keys(keys: Iterable[Any]) -> list[Any]:
    """Tie keys in a stable order for the state file (natural order when the keys allow it)."""
    listed = [_unhashable(key) for key in keys]
    try:
        return sorted(listed)
    except TypeError:
        return sorted(listed, key=repr)


def _describe(parsed: _Parsed) -> str:
    return "a number" if parsed[0] == "number" else "a timestamp"


class Cursor:
    """The incremental position of one table, kept in ``state["cursors"][table]``.

    Args:
        state: the state dict ``update()`` received; :meth:`commit` writes into it, so checkpoint
            this same dict (``op.checkpoint(state)``).
        table: the name the cursor is stored under (usually the table's name).
        field: the record field holding the cursor value, or a function returning it.
        primary_key: the record field (or fields) identifying a record; needed by the inclusive
            boundary to recognise ties already upserted.
        boundary: ``"inclusive"`` (fetch ``>= since``, drop known ties) or ``"exclusive"``
            (fetch ``> since``; ties arriving later are lost). See the module docstring.
        start: where to start when the state has no cursor for the table yet (``None``: from
            the beginning).

    Example::

        cursor = Cursor(state, "events", field="seq", primary_key="id", boundary="exclusive")
        rows = db.execute(f"SELECT * FROM events WHERE seq {cursor.operator} ? ORDER BY seq", [cursor.since or 0])
    """

    def __init__(
        self,
        state: MutableMapping[str, Any],
        table: str,
        *,
        field: str | Callable[[Mapping[str, Any]], Any],
        primary_key: str | Sequence[str] | None = None,
        boundary: Boundary = "inclusive",
        start: CursorValue | None = None,
    ) -> None:
        if not isinstance(state, MutableMapping):
            raise CursorError(f"Cursor() needs the state dict update() received, got {type(state).__name__}")
        if boundary not in _BOUNDARIES:
            raise CursorError(f"boundary must be 'inclusive' or 'exclusive', got {boundary!r}")
        if isinstance(primary_key, str):
            keys: tuple[str, ...] = (primary_key,)
        elif primary_key is None:
            keys = ()
        else:
            keys = tuple(primary_key)
        if boundary == "inclusive" and not keys:
            raise CursorError(
                f"cursor {table!r}: the inclusive boundary recognises ties already upserted by their primary "
                "key; pass primary_key='id' (or a list of columns), or use boundary='exclusive'"
            )
        self._state = state
        self.table = table
        self.field = field
        self.primary_key = keys
        self.boundary: Boundary = boundary
        self._start = _to_json(start) if start is not None else None
        self._start_parsed = _parse(start, what=f"cursor {table!r} start") if start is not None else None
        self._value, self._ties = self._load()
        self._parsed = _parse(self._value, what=f"stored cursor {table!r} value") if self._value is not None else None
        self._pending_value: Any = None
        self._pending_parsed: _Parsed | None = None
        self._pending_ties: set[Any] = set()
        self.tracked = 0

    # -- reading the stored position ------------------------------------------------------------

    def _load(self) -> tuple[Any, set[Any]]:
        cursors = self._state.get(STATE_KEY)
        if cursors is None:
            return None, set()
        if not isinstance(cursors, Mapping):
            raise CursorError(
                f"state[{STATE_KEY!r}] must be a dict of cursors by table, got {type(cursors).__name__}; "
                "it is written by headwater.incremental.Cursor, leave it to the cursor"
            )
        entry = cursors.get(self.table)
        if entry is None:
            return None, set()
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise CursorError(
                f"state[{STATE_KEY!r}][{self.table!r}] must be a dict with a 'value' (and 'tie_keys'), got {entry!r}"
            )
        ties = entry.get("tie_keys") or []
        if not isinstance(ties, list):
            raise CursorError(f"state[{STATE_KEY!r}][{self.table!r}]['tie_keys'] must be a list, got {ties!r}")
        return entry["value"], {_hashable(key) for key in ties}

    @property
    def value(self) -> Any:
        """The stored cursor value (JSON form), or ``None`` before the first commit."""
        return self._value

    @property
    def since(self) -> Any:
        """Where to fetch from: the stored value, else ``start``, in JSON form (``None``: from the start)."""
        return self._value if self._value is not None else self._start

    @property
    def since_parsed(self) -> int | float | dt.datetime | None:
        """:attr:`since` parsed: a number or an aware UTC ``datetime`` (``None``: from the start)."""
        since = self.since
        return parse_cursor_value(since) if since is not None else None

    @property
    def operator(self) -> str:
        """The comparison to query the source with: ``">="`` (inclusive) or ``">"`` (exclusive)."""
        return ">=" if self.boundary == "inclusive" else ">"

    @property
    def tie_keys(self) -> frozenset[Any]:
        """Keys of the upserted records whose value equals :attr:`value` (tuples for composite keys)."""
        return frozenset(self._ties)

    # -- records --------------------------------------------------------------------------------

    def _value_of(self, record: Mapping[str, Any]) -> Any:
        if callable(self.field):
            return self.field(record)
        if not isinstance(record, Mapping):
            raise CursorError(f"cursor {self.table!r}: a record must be a dict, got {type(record).__name__}")
        try:
            return record[self.field]
        except KeyError:
            raise CursorError(
                f"cursor {self.table!r}: the record has no field {self.field!r} (its fields: "
                f"{', '.join(map(repr, record))}); pass the field that holds the cursor value"
            ) from None

    def _key_of(self, record: Mapping[str, Any]) -> Any:
        parts = []
        for name in self.primary_key:
            try:
                parts.append(_json_key_part(record[name]))
            except KeyError:
                raise CursorError(
                    f"cursor {self.table!r}: the record has no primary-key field {name!r} (its fields: "
                    f"{', '.join(map(repr, record))})"
                ) from None
        return parts[0] if len(parts) == 1 else parts

    def _compare(self, parsed: _Parsed, other: _Parsed, raw: Any) -> int:
        if parsed[0] != other[0]:
            raise CursorError(
                f"cursor {self.table!r}: value {raw!r} is {_describe(parsed)} but the cursor holds "
                f"{_describe(other)}; one cursor compares values of one kind"
            )
        return int(parsed[1] > other[1]) - int(parsed[1] < other[1])

    def skip(self, record: Mapping[str, Any]) -> bool:
        """True when ``record`` is a boundary tie that an earlier commit already covers.

        Inclusive boundary: the record's value equals the stored cursor and its key is among the
        stored tie keys. A record below the cursor is *not* skipped (upserting it again is
        harmless, dropping it could lose a late write), nor is anything under the exclusive
        boundary, which stores no keys.
        """
        if self.boundary != "inclusive" or self._parsed is None:
            return False
        raw = self._value_of(record)
        if raw is None:
            return False
        parsed = _parse(raw, what=f"cursor {self.table!r} value")
        if self._compare(parsed, self._parsed, raw) != 0:
            return False
        return _hashable(self._key_of(record)) in self._ties

    def track(self, record: Mapping[str, Any]) -> None:
        """Note that ``record`` was upserted: the next :meth:`commit` may move the cursor up to it.

        Call it after ``op.upsert`` (or ``op.update``/``op.delete``) returned for the record, never
        before: the cursor must not cover a record that was not sent.
        """
        raw = self._value_of(record)
        if raw is None:
            return
        parsed = _parse(raw, what=f"cursor {self.table!r} value")
        self.tracked += 1
        pending = self._pending_parsed
        order = 1 if pending is None else self._compare(parsed, pending, raw)
        if order > 0:
            self._pending_value, self._pending_parsed = _to_json(raw), parsed
            self._pending_ties = {_hashable(self._key_of(record))} if self.primary_key else set()
        elif order == 0 and self.primary_key:
            self._pending_ties.add(_hashable(self._key_of(record)))

    def observe(self, records: Iterable[Mapping[str, Any]]) -> None:
        """:meth:`track` each record (all of them already upserted)."""
        for record in records:
            self.track(record)

    def commit(self) -> bool:
        """Store the greatest tracked value in the state; returns True when the stored cursor changed.

        Call it right before ``op.checkpoint(state)``. The cursor never moves back: tracked
        values below the stored one leave it as it is. When the greatest tracked value equals
        the stored one, the new ties join the stored ones.
        """
        pending, value, ties = self._pending_parsed, self._pending_value, self._pending_ties
        self._pending_parsed, self._pending_value, self._pending_ties = None, None, set()
        if pending is None:
            return False
        order = 1 if self._parsed is None else self._compare(pending, self._parsed, value)
        if order < 0:
            return False
        if order == 0:
            if ties <= self._ties:
                return False
            ties = self._ties | ties
        else:
            self._value, self._parsed = value, pending
        self._ties = ties if self.boundary == "inclusive" else set()
        self._store()
        return True

    def _store(self) -> None:
        entry: dict[str, Any] = {"value": self._value}
        if self.boundary == "inclusive":
            entry["tie_keys"] = _sorted_keys(self._ties)
        cursors = self._state.get(STATE_KEY)
        if not isinstance(cursors, MutableMapping):
            cursors = {}
            self._state[STATE_KEY] = cursors
        cursors[self.table] = entry

    def __repr__(self) -> str:
        return (f"Cursor(table={self.table!r}, value={self._value!r}, boundary={self.boundary!r}, "
                f"tie_keys={len(self._ties)}, pending={self._pending_value!r})")


def _unhashable(key: Any) -> Any:
    if isinstance(key, tuple):
        return [_unhashable(part) for part in key]
    return key
