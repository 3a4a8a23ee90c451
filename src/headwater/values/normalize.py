"""Undeclared columns: the canonical value of any value (TYPES-20) and the type it infers
(TYPES-21, TYPES-22)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final

from headwater.errors import OperationValueError
from headwater.types import (
    BINARY,
    BOOLEAN,
    DOUBLE,
    INT,
    JSON,
    LONG,
    NAIVE_DATE,
    NAIVE_DATETIME,
    STRING,
    UTC_DATETIME,
    DataType,
    decimal,
)
from headwater.values.jsontext import json_dumps
from headwater.values.kinds import NONE_TYPE, PLAIN, UTC, JsonText, kind_of, plain_datetime
from headwater.values.messages import abbreviate, type_name, unsupported, where
from headwater.values.numeric import (
    INT_RANGES,
    MAX_PLAIN_DIGITS,
    MAX_PRECISION,
    decimal_to_float,
    plain_text_fits,
)

__all__ = ["canonical_datetime", "infer", "normalize", "refuse_wide_decimal"]

_CANONICAL_AS_IS: Final = frozenset({NONE_TYPE, bool, int, float, str, bytes, date, JsonText})


def canonical_datetime(value: datetime, table: str, column: str) -> datetime:
    """A datetime as a plain naive datetime, or an aware one converted to UTC (``tzinfo`` UTC).

    ERR-OP-5 when the instant falls outside years 1..9999 in UTC (``datetime.max`` at -05:00 is
    10000-01-01T04:59:59.999999Z), or when its tzinfo gives no valid offset.
    """
    if type(value) is not datetime:
        value = plain_datetime(value)
    tz = value.tzinfo
    if tz is None or tz is UTC:
        return value
    try:
        offset = value.utcoffset()
        if offset is None:
            return value.replace(tzinfo=None)
        return (value - offset).replace(tzinfo=UTC)
    except OverflowError:
        detail = "it falls outside the datetime range once converted to UTC"
    except (ValueError, TypeError) as exc:  # a tzinfo whose utcoffset() is not a valid offset
        detail = f"its tzinfo gives no valid UTC offset ({exc})"
    raise OperationValueError(
        f"{where(table, column)}: cannot convert datetime.datetime {abbreviate(value)} to "
        f"{UTC_DATETIME}: {detail}; send a datetime between years 1 and 9999 in UTC"
    )


def refuse_wide_decimal(value: Decimal, table: str, column: str, declared: DataType = STRING) -> OperationValueError:
    """ERR-OP-5 for a finite Decimal whose plain text would be too long (:func:`plain_text_fits`)."""
    return OperationValueError(
        f"{where(table, column)}: cannot convert decimal.Decimal value {abbreviate(value)} to {declared} "
        f"(its plain text would have more than {MAX_PLAIN_DIGITS} digits); send str(value) to store "
        "it in scientific notation, or round it, or declare the column as DOUBLE"
    )


def normalize(value: Any, *, table: str, column: str) -> Any:
    """The canonical value of ``value`` in an UNDECLARED column (TYPES-20).

    Unsupported types raise OperationTypeError with 'unsupported value type' (ERR-OP-4).

        >>> normalize((1, "a"), table="t", column="c")
        '[1, "a"]'
        >>> normalize(Decimal("NaN"), table="t", column="c")
        nan
    """
    vtype = type(value)
    if vtype in _CANONICAL_AS_IS:
        return value
    if vtype is datetime:
        tz = value.tzinfo
        if tz is None or tz is UTC:
            return value
        return canonical_datetime(value, table, column)
    if vtype is Decimal:
        if not value.is_finite():
            return decimal_to_float(value)  # every NaN (also signalling, with a payload) is a NaN
        if plain_text_fits(value):
            return value
        raise refuse_wide_decimal(value, table, column)
    kind = kind_of(vtype)
    if kind is None:
        return _normalize_item(value, table, column)
    if kind == "structured":
        return JsonText(json_dumps(value, table, column))
    if kind == "datetime":
        return canonical_datetime(value, table, column)
    if kind == "time":
        return time.isoformat(value)
    if kind == "uuid":
        return uuid.UUID.__str__(value)
    if kind == "decimal":
        return normalize(Decimal(value), table=table, column=column)
    try:
        return PLAIN[kind](value)
    except (ValueError, TypeError) as exc:  # a released memoryview, say
        raise OperationValueError(
            f"{where(table, column)}: cannot read {type_name(vtype)} value {abbreviate(value)}: {exc}"
        ) from None


def _normalize_item(value: Any, table: str, column: str) -> Any:
    item = getattr(value, "item", None)
    if item is None or not callable(item):
        raise unsupported(value, table, column)
    try:
        result = item()
    except Exception as exc:
        raise unsupported(value, table, column, f"its item() failed: {exc}") from exc
    if result is not None:
        kind = kind_of(type(result))
        if kind is None or kind == "structured":
            raise unsupported(
                value, table, column,
                f"its item() returned {type_name(type(result))}, not a scalar",
            )
    return normalize(result, table=table, column=column)


_INFER_BY_TYPE: Final[dict[type, DataType]] = {
    bool: BOOLEAN,
    float: DOUBLE,
    str: STRING,
    JsonText: JSON,
    bytes: BINARY,
    date: NAIVE_DATE,
}
_DECIMAL_INTEGERS: Final = tuple(decimal(max(d, 1), 0) for d in range(MAX_PRECISION + 1))
_INT_MIN, _INT_MAX = INT_RANGES["INT"]
_LONG_MIN, _LONG_MAX = INT_RANGES["LONG"]
_DECIMAL_INT_LIMIT: Final = 10**MAX_PRECISION


def _infer_int(value: int) -> DataType:
    if _INT_MIN <= value <= _INT_MAX:
        return INT
    if _LONG_MIN <= value <= _LONG_MAX:
        return LONG
    magnitude = abs(value)
    if magnitude < _DECIMAL_INT_LIMIT:
        return _DECIMAL_INTEGERS[len(str(magnitude))]
    return STRING


def _infer_decimal(value: Decimal) -> DataType:
    if not value.is_finite():
        return DOUBLE
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    integer_digits = max(0, len(digits) + exponent)
    if integer_digits + scale > MAX_PRECISION:
        return STRING
    return decimal(integer_digits + scale, scale)


def infer(value: Any) -> DataType | None:
    """The type a canonical value infers on its own (TYPES-21, TYPES-22); ``None`` for ``None``.

        >>> infer(15), infer(3_000_000_000), infer(10**20), infer(Decimal("0.05"))
        (DataType('INT'), DataType('LONG'), DataType('DECIMAL', 21, 0), DataType('DECIMAL', 2, 2))
    """
    vtype = type(value)
    inferred = _INFER_BY_TYPE.get(vtype)
    if inferred is not None:
        return inferred
    if vtype is int:
        return _infer_int(value)
    if value is None:
        return None
    if vtype is Decimal:
        return _infer_decimal(value)
    if vtype is datetime:
        if value.tzinfo is None:
            return NAIVE_DATETIME
        if value.tzinfo is UTC:
            return UTC_DATETIME
    # Not canonical: classify it as an undeclared column would.
    return infer(normalize(value, table="?", column="?"))
