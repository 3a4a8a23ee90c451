"""Value kinds (TYPES-20) and the canonical value types.

:func:`kind_of` classifies a Python type the way TYPES-20 classifies a value: exact built-in types
by one dict lookup, subclasses by the first base they have, in the spec's order (so an ``IntEnum``
member is an ``int`` and a ``bool`` is never an ``int``). :data:`PLAIN` turns an instance of a
subclass (or a ``bytearray``/``memoryview``) into a value of the exact base type.

Canonical values are exactly: ``None``, ``bool``, ``int``, ``float``, ``decimal.Decimal`` (finite),
``str``, :class:`JsonText`, ``bytes``, ``datetime.date``, naive ``datetime.datetime`` and
``datetime.datetime`` whose ``tzinfo`` is ``datetime.timezone.utc``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "MIDNIGHT",
    "NONE_TYPE",
    "PLAIN",
    "PLAIN_TYPES",
    "UTC",
    "Converter",
    "JsonText",
    "kind_of",
    "plain_date",
    "plain_datetime",
]

Converter = Callable[[Any], Any]
"""Turns one raw value into a canonical value (or raises ERR-OP-4 / ERR-OP-5)."""


class JsonText(str):
    """JSON text made by headwater (TYPES-40). A str subclass so type(v) tells it apart from a plain string."""

    __slots__ = ()


UTC: Final = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11
NONE_TYPE: Final = type(None)
MIDNIGHT: Final = time()

_EXACT_KINDS: Final[dict[type, str]] = {
    bool: "bool",
    int: "int",
    float: "float",
    Decimal: "decimal",
    str: "str",
    bytes: "bytes",
    bytearray: "bytes",
    memoryview: "bytes",
    datetime: "datetime",
    date: "date",
    time: "time",
    uuid.UUID: "uuid",
    dict: "structured",
    list: "structured",
    tuple: "structured",
}
# Checked in this order, so subclasses land on the first base they have (TYPES-20).
_KIND_ORDER: Final[tuple[tuple[type | tuple[type, ...], str], ...]] = (
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (Decimal, "decimal"),
    (str, "str"),
    ((bytes, bytearray, memoryview), "bytes"),
    (datetime, "datetime"),
    (date, "date"),
    (time, "time"),
    (uuid.UUID, "uuid"),
    ((dict, list, tuple), "structured"),
)
#: Exact types whose values need no unwrapping before a kind's converter sees them.
PLAIN_TYPES: Final = frozenset(
    {bool, int, float, Decimal, str, bytes, datetime, date, time, uuid.UUID, dict, list, tuple}
)


def kind_of(pytype: type) -> str | None:
    """The value kind of instances of ``pytype`` (TYPES-20), or None for an unsupported type.

        >>> kind_of(bool), kind_of(memoryview), kind_of(tuple), kind_of(set)
        ('bool', 'bytes', 'structured', None)
    """
    kind = _EXACT_KINDS.get(pytype)
    if kind is not None:
        return kind
    for base, name in _KIND_ORDER:
        if issubclass(pytype, base):
            return name
    return None


def plain_datetime(value: datetime) -> datetime:
    """A ``datetime`` subclass instance as a plain ``datetime`` (same fields, tzinfo and fold)."""
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, value.tzinfo, fold=value.fold,
    )


def plain_date(value: date) -> date:
    """A ``date`` subclass instance as a plain ``date``."""
    return date(value.year, value.month, value.day)


#: How a subclass instance (or a bytearray/memoryview) becomes a value of the exact base type.
#: The unbound base methods skip overrides: str(member) of a (str, Enum) gives "Color.RED".
PLAIN: Final[dict[str, Converter]] = {
    "int": int.__int__,
    "float": float.__float__,
    "decimal": Decimal,
    "str": str.__str__,
    "bytes": bytes,
    "datetime": plain_datetime,
    "date": plain_date,
}
