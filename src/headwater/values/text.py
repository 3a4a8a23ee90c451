"""The text form of a value (TYPES-30): what a non-string value becomes in a STRING column, when a
column widens to STRING, and what ``_fivetran_id`` hashes (SEM-12)."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, cast

from headwater.types import DataType
from headwater.values.kinds import MIDNIGHT, UTC, JsonText
from headwater.values.normalize import normalize
from headwater.values.numeric import int_to_decimal, plain_text_fits, quantize_wide, round_float32

__all__ = [
    "TEXT",
    "Float32",
    "bool_text",
    "bytes_text",
    "datetime_text",
    "decimal_text",
    "float32_text",
    "float_text",
    "int_text",
    "text_form",
]

_FLOAT_WORDS: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_SMALL_INT_BITS: Final = 13_000  # about 3,900 digits: int.__repr__ is quick and within Python's limit


def bool_text(value: bool) -> str:
    return "true" if value else "false"


def int_text(value: int) -> str:
    """``str(value)`` for an int of any size: beyond Python's int-to-str digit limit, and in about
    O(n log² n) time for huge ones (see :func:`~headwater.values.numeric.int_to_decimal`)."""
    if value.bit_length() <= _SMALL_INT_BITS:
        try:
            return int.__repr__(value)
        except ValueError:  # sys.set_int_max_str_digits() set below the default
            pass
    return format(int_to_decimal(value), "f")


def float_text(value: float) -> str:
    text = float.__repr__(value)
    return _FLOAT_WORDS.get(text, text)


def float32_text(value: float) -> str:
    """The shortest decimal that reads back as the same 32-bit float, in repr style (TYPES-30)."""
    single = round_float32(value)
    if not math.isfinite(single):
        return float_text(single)
    for digits in range(1, 10):  # 9 significant digits always identify a float32
        candidate = float(f"{single:.{digits}g}")
        if round_float32(candidate) == single:
            return float_text(candidate)
    return float_text(single)  # pragma: no cover - unreachable


def decimal_text(value: Decimal) -> str:
    """Plain notation (``format(v, "f")``), trailing zeros kept, no negative zero; every NaN is
    ``NaN``. The same whatever the decimal context. A Decimal too wide for plain text (refused
    before it gets here, :func:`~headwater.values.numeric.plain_text_fits`) keeps its scientific
    notation, so that no path can blow it up."""
    if not value.is_finite():
        if value.is_nan():
            return "NaN"
        return "-Infinity" if value.is_signed() else "Infinity"
    if not value and value.is_signed():
        value = value.copy_abs()  # DECIMAL columns have no negative zero
    if not plain_text_fits(value):
        return str(value)
    return format(value, "f")


def bytes_text(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def datetime_text(value: datetime) -> str:
    """ISO 8601 without offset; an aware value in UTC with a ``Z`` (OverflowError beyond year 9999)."""
    if value.tzinfo is None:
        return value.isoformat()
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None).isoformat()
    return (value - offset).replace(tzinfo=None).isoformat() + "Z"


class Float32(float):
    """Marks a float held by a 32-bit FLOAT column, so its text form is the 32-bit one."""

    __slots__ = ()


#: The text form of each canonical type (str and JsonText are their own text).
TEXT: Final[dict[type, Callable[[Any], str]]] = {
    Float32: float32_text,
    bool: bool_text,
    int: int_text,
    float: float_text,
    Decimal: decimal_text,
    bytes: bytes_text,
    date: date.isoformat,
    datetime: datetime_text,
}


def text_form(value: Any, stored: DataType | None = None) -> str:
    """TYPES-30 for a canonical value.

    ``stored`` is the column type the value is stored in, when that matters: ``DECIMAL(p,s)`` shows
    exactly s fraction digits, ``FLOAT`` the shortest decimal that reads back as the same 32-bit
    value, ``DOUBLE`` a float, ``NAIVE_DATETIME``/``UTC_DATETIME`` a date as midnight (and a naive
    datetime in ``UTC_DATETIME`` as UTC). ``None`` means the value's own inferred type.

        >>> from headwater.types import FLOAT, decimal
        >>> text_form(2.5), text_form(float("nan")), text_form(True), text_form(b"\\x00\\x01\\x02\\x03")
        ('2.5', 'NaN', 'true', 'AAECAw==')
        >>> text_form(Decimal("105.3"), decimal(5, 2)), text_form(10.4, FLOAT)
        ('105.30', '10.4')
    """
    vtype = type(value)
    if vtype is str or vtype is JsonText:
        return cast(str, value)
    if stored is not None:
        value = _as_stored(value, stored)
        vtype = type(value)
    formatter = TEXT.get(vtype)
    if formatter is not None:
        return formatter(value)
    if value is None:
        raise TypeError("None has no text form; it is stored as NULL")
    # Not canonical (a time, a UUID, a subclass, a dict...): make it canonical first.
    return text_form(normalize(value, table="?", column="?"), stored)


def _as_stored(value: Any, stored: DataType) -> Any:
    """The canonical value as the column of type ``stored`` holds it (for its text form)."""
    vtype = type(value)
    name = stored.name
    if name == "FLOAT" and vtype in (int, float, Decimal):
        return Float32(float(value))
    if name == "DOUBLE" and vtype in (int, Decimal):
        return float(value)
    if name == "DECIMAL" and vtype in (int, Decimal):
        assert stored.scale is not None
        return quantize_wide(Decimal(value), stored.scale)
    if vtype is date and name in ("NAIVE_DATETIME", "UTC_DATETIME"):
        return datetime.combine(value, MIDNIGHT, UTC if name == "UTC_DATETIME" else None)
    if vtype is datetime and name == "UTC_DATETIME" and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
