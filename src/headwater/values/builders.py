"""Per-type rules for DECLARED columns (TYPES-31 to TYPES-39): for each declared type, a builder
that returns the converter of one value kind into that type, or ``None`` when values of that kind
are already canonical for it. :mod:`headwater.values.convert` picks the builder and handles
subclasses and ``item()`` scalars.

Every converter raises :class:`~headwater.errors.OperationValueError` ('cannot convert', ERR-OP-5)
through :meth:`Target.error`, whose message names the table, the column, the declared type, the
value's Python type and the value, and says what to send instead.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Final, NoReturn

from headwater.errors import OperationValueError
from headwater.types import DataType
from headwater.values.jsontext import encode, json_dumps
from headwater.values.kinds import MIDNIGHT, UTC, Converter, JsonText
from headwater.values.messages import abbreviate, type_name, unsupported, where
from headwater.values.normalize import refuse_wide_decimal
from headwater.values.numeric import (
    EXACT_CONTEXT,
    FLOAT32_OVERFLOW,
    INFINITY_WORDS,
    INT_RANGES,
    is_whole,
    plain_text_fits,
)
from headwater.values.temporal import parse_temporal
from headwater.values.text import TEXT, decimal_text, int_text

__all__ = ["BUILDERS", "Builder", "Target"]

_JSON_TRUE: Final = JsonText("true")
_JSON_FALSE: Final = JsonText("false")


class Target:
    """What a converter converts into, and for whom: builds its error messages."""

    __slots__ = ("column", "declared", "pytype", "table")

    def __init__(self, declared: DataType, pytype: type, table: str, column: str) -> None:
        self.declared = declared
        self.pytype = pytype
        self.table = table
        self.column = column

    def error(self, value: Any, detail: str = "") -> OperationValueError:
        reason = f" ({detail})" if detail else ""
        return OperationValueError(
            f"{where(self.table, self.column)}: cannot convert {type_name(self.pytype)} value "
            f"{abbreviate(value)} to {self.declared}{reason}; {_hint(self.declared)}"
        )

    def refuser(self, detail: str = "") -> Converter:
        def refuse(value: Any) -> NoReturn:
            raise self.error(value, detail)

        return refuse

    def unsupported(self, value: Any) -> NoReturn:
        raise unsupported(value, self.table, self.column)


def _hint(declared: DataType) -> str:
    name = declared.name
    if name == "BOOLEAN":
        return "send a bool, 0 or 1, or one of the strings 'true', 'false', '1', '0'"
    if declared.is_integer:
        low, high = INT_RANGES[name]
        wider = {"SHORT": "INT or LONG", "INT": "LONG", "LONG": "DECIMAL(38,0) or STRING"}[name]
        return (
            f"send a whole number from {low} to {high} (an int, a float or Decimal without a "
            f"fraction, or a string of digits such as '42'), or declare the column as {wider}"
        )
    if name == "DECIMAL":
        assert declared.precision is not None and declared.scale is not None
        return (
            f"send an int, a finite Decimal or float, or a decimal string such as '105.34', with "
            f"at most {declared.precision - declared.scale} digits before the decimal point, or "
            "declare the column with a larger precision (or as STRING)"
        )
    if name == "FLOAT":
        return (
            "send a number or a numeric string such as '1.5' within the 32-bit range "
            "(about -3.4e38 to 3.4e38), or declare the column as DOUBLE"
        )
    if name == "DOUBLE":
        return "send a number or a numeric string such as '1.5', '1e-4' or 'NaN'"
    if name == "NAIVE_DATE":
        return "send a datetime.date, a datetime, or a 'YYYY-MM-DD' string"
    if declared.is_temporal:
        return (
            "send a datetime, a date, or an ISO 8601 string such as '2024-01-02T03:04:05Z'; "
            "convert epoch numbers first, e.g. datetime.fromtimestamp(n, timezone.utc)"
        )
    if name == "BINARY":
        return (
            "send bytes, bytearray or memoryview; encode text first, e.g. value.encode('utf-8'), "
            "or declare the column as STRING"
        )
    if name == "XML":
        return "send the XML document as a str, or declare the column as STRING"
    if name == "JSON":
        return (
            "send a dict, list, tuple, str, int, finite float, bool or Decimal, or declare the "
            "column as STRING"
        )
    return "declare the column as STRING"


Builder = Callable[[Target, str], "Converter | None"]


def _build_boolean(t: Target, kind: str) -> Converter | None:
    if kind == "bool":
        return None
    if kind in ("int", "float"):
        numbers = {0: False, 1: True}  # 0.0 and 1.0 hash and compare equal to 0 and 1

        def from_number(value: Any) -> bool:
            try:
                return numbers[value]
            except KeyError:
                raise t.error(value, "only 0 and 1 are booleans") from None

        return from_number
    if kind == "str":
        words = {"true": True, "false": False, "1": True, "0": False}

        def from_str(value: str) -> bool:
            result = words.get(value.strip().lower())
            if result is None:
                raise t.error(value, "not one of 'true', 'false', '1', '0'")
            return result

        return from_str
    return t.refuser()


_INTEGER_TEXT: Final = re.compile(r"[+-]?[0-9]+")


def _build_integer(t: Target, kind: str) -> Converter | None:
    low, high = INT_RANGES[t.declared.name]
    out_of_range = f"outside {low}..{high}"
    if kind == "bool":
        return int
    if kind == "int":

        def from_int(value: int) -> int:
            if low <= value <= high:
                return value
            raise t.error(value, out_of_range)

        return from_int
    if kind == "float":

        def from_float(value: float) -> int:
            if value.is_integer() and low <= value <= high:
                return int(value)
            raise t.error(value, _integer_problem(value, math.isfinite(value), out_of_range))

        return from_float
    if kind == "decimal":

        def from_decimal(value: Decimal) -> int:
            if value.is_finite() and low <= value <= high and is_whole(value):
                return int(value)
            raise t.error(value, _integer_problem(value, value.is_finite(), out_of_range))

        return from_decimal
    if kind == "str":
        fullmatch = _INTEGER_TEXT.fullmatch

        def from_str(value: str) -> int:
            text = value.strip()
            if len(text) <= 21 and fullmatch(text) is not None:
                number = int(text)
                if low <= number <= high:
                    return number
            return _long_integer_text(t, value, text, low, high)

        return from_str
    return t.refuser()


def _integer_problem(value: float | Decimal, finite: bool, out_of_range: str) -> str:
    if not finite:
        return "not a finite number"
    whole = value.is_integer() if isinstance(value, float) else is_whole(value)  # no int(1E+30000000)
    return out_of_range if whole else "not a whole number"


def _long_integer_text(t: Target, value: str, text: str, low: int, high: int) -> int:
    """The slow path of integer strings: leading zeros, or an error."""
    if _INTEGER_TEXT.fullmatch(text) is None:
        raise t.error(value, "not an integer; only [+-]digits are accepted")
    sign = text[0] if text[0] in "+-" else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) <= 20:
        number = int(sign + digits)
        if low <= number <= high:
            return number
    raise t.error(value, f"outside {low}..{high}")


_DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _build_decimal(t: Target, kind: str) -> Converter | None:
    precision, scale = t.declared.precision, t.declared.scale
    assert precision is not None and scale is not None
    quantum = Decimal(1).scaleb(-scale, context=EXACT_CONTEXT)
    int_limit = 10 ** (precision - scale)  # ints below it in magnitude fit, others do not
    # quantize signals InvalidOperation when the result has more than `precision` digits, that is
    # more than precision - scale integer digits once rounded to `scale` places (TYPES-34).
    context = Context(prec=precision, rounding=ROUND_HALF_UP, traps=[InvalidOperation])
    too_large = f"more than {precision - scale} digits before the decimal point"
    if kind == "int":

        def from_int(value: int) -> Decimal:
            if -int_limit < value < int_limit:  # checked first: Decimal(huge int) is quadratic
                return Decimal(value).quantize(quantum, context=context)
            raise t.error(value, too_large)

        return from_int
    if kind == "decimal":

        def from_decimal(value: Decimal) -> Decimal:
            if not value.is_finite():
                raise t.error(value, "not a finite number")
            try:
                return value.quantize(quantum, context=context)
            except InvalidOperation:
                raise t.error(value, too_large) from None

        return from_decimal
    if kind == "float":

        def from_float(value: float) -> Decimal:
            if not math.isfinite(value):
                raise t.error(value, "not a finite number")
            try:
                return Decimal(float.__repr__(value)).quantize(quantum, context=context)
            except InvalidOperation:
                raise t.error(value, too_large) from None

        return from_float
    if kind == "str":
        fullmatch = _DECIMAL_TEXT.fullmatch

        def from_str(value: str) -> Decimal:
            text = value.strip()
            if fullmatch(text) is None:
                raise t.error(value, "not a decimal number")
            try:
                return Decimal(text).quantize(quantum, context=context)
            except InvalidOperation:
                raise t.error(value, too_large) from None

        return from_str
    if kind == "bool":
        return t.refuser("booleans are not numbers here")
    return t.refuser()


def _build_floating(t: Target, kind: str) -> Converter | None:
    single = t.declared.name == "FLOAT"
    limit = FLOAT32_OVERFLOW if single else math.inf
    too_large = "beyond the largest 32-bit float" if single else "beyond the largest double"
    if kind == "bool":
        return float
    if kind == "float":
        if not single:
            return None

        def from_float(value: float) -> float:
            if -limit < value < limit or not math.isfinite(value):
                return value
            raise t.error(value, too_large)

        return from_float
    if kind == "int":

        def from_int(value: int) -> float:
            try:
                result = float(value)
            except OverflowError:
                raise t.error(value, too_large) from None
            if -limit < result < limit:
                return result
            raise t.error(value, too_large)

        return from_int
    if kind == "decimal":

        def from_decimal(value: Decimal) -> float:
            if value.is_nan():
                return math.nan
            result = float(value)
            if -limit < result < limit or value.is_infinite():
                return result
            raise t.error(value, too_large)

        return from_decimal
    if kind == "str":

        def from_str(value: str) -> float:
            try:
                result = float(value)
            except ValueError:
                raise t.error(value, "not a number Python's float() accepts") from None
            if -limit < result < limit or math.isnan(result):
                return result
            if value.strip().lstrip("+-").lower() in INFINITY_WORDS:
                return result
            raise t.error(value, too_large)

        return from_str
    return t.refuser()


def _in_utc(t: Target, value: datetime, original: Any) -> datetime | None:
    """The naive UTC wall clock of an aware ``value``; None when it has no offset; ERR-OP-5 when that
    falls outside years 1..9999 or the tzinfo gives no valid offset."""
    try:
        offset = value.utcoffset()
        return None if offset is None else (value - offset).replace(tzinfo=None)
    except OverflowError:
        raise t.error(original, "outside the datetime range once converted to UTC") from None
    except (ValueError, TypeError) as exc:  # a tzinfo whose utcoffset() is not a valid offset
        raise t.error(original, f"its tzinfo gives no valid UTC offset: {exc}") from None


def _to_naive_utc(t: Target, value: datetime, original: Any) -> datetime:
    utc = _in_utc(t, value, original)
    return value.replace(tzinfo=None) if utc is None else utc


def _to_aware_utc(t: Target, value: datetime, original: Any) -> datetime:
    utc = _in_utc(t, value, original)
    return (value if utc is None else utc).replace(tzinfo=UTC)


def _build_naive_date(t: Target, kind: str) -> Converter | None:
    if kind == "date":
        return None
    if kind == "datetime":
        return datetime.date  # the date part as it is, also of an aware datetime (TYPES-39)
    if kind == "str":

        def from_str(value: str) -> date:
            parsed = parse_temporal(value)
            if type(parsed) is date:
                return parsed
            raise t.error(
                value,
                "not a 'YYYY-MM-DD' date" if parsed is None else "has a time part",
            )

        return from_str
    return t.refuser()


def _build_naive_datetime(t: Target, kind: str) -> Converter | None:
    if kind == "datetime":

        def from_datetime(value: datetime) -> datetime:
            if value.tzinfo is None:
                return value
            return _to_naive_utc(t, value, value)

        return from_datetime
    if kind == "date":

        def from_date(value: date) -> datetime:
            return datetime.combine(value, MIDNIGHT)

        return from_date
    if kind == "str":

        def from_str(value: str) -> datetime:
            parsed = parse_temporal(value)
            if type(parsed) is datetime:
                if parsed.tzinfo is None:
                    return parsed
                return _to_naive_utc(t, parsed, value)
            if parsed is None:
                raise t.error(value, "not an ISO 8601 date or datetime")
            return datetime.combine(parsed, MIDNIGHT)

        return from_str
    return t.refuser()


def _build_utc_datetime(t: Target, kind: str) -> Converter | None:
    if kind == "datetime":

        def from_datetime(value: datetime) -> datetime:
            tz = value.tzinfo
            if tz is UTC:
                return value
            if tz is None:
                return value.replace(tzinfo=UTC)
            return _to_aware_utc(t, value, value)

        return from_datetime
    if kind == "date":

        def from_date(value: date) -> datetime:
            return datetime.combine(value, MIDNIGHT, UTC)

        return from_date
    if kind == "str":

        def from_str(value: str) -> datetime:
            parsed = parse_temporal(value)
            if type(parsed) is datetime:
                if parsed.tzinfo is None:
                    return parsed.replace(tzinfo=UTC)
                if parsed.tzinfo is UTC:
                    return parsed
                return _to_aware_utc(t, parsed, value)
            if parsed is None:
                raise t.error(value, "not an ISO 8601 date or datetime")
            return datetime.combine(parsed, MIDNIGHT, UTC)

        return from_str
    return t.refuser()


def _build_binary(t: Target, kind: str) -> Converter | None:
    if kind == "bytes":
        return None  # bytearray and memoryview are made bytes by the _PLAIN step
    if kind == "str":
        return t.refuser("strings are not encoded implicitly")
    return t.refuser()


_KIND_TYPES: Final[dict[str, type]] = {
    "bool": bool,
    "int": int,
    "float": float,
    "bytes": bytes,
    "date": date,
}


def _build_string(t: Target, kind: str) -> Converter | None:
    if kind == "str":
        return None
    if kind == "structured":
        table, column = t.table, t.column

        def from_structure(value: Any) -> str:
            return json_dumps(value, table, column)

        return from_structure
    if kind == "datetime":

        def from_datetime(value: datetime) -> str:
            if value.tzinfo is None:
                return value.isoformat()
            utc = _in_utc(t, value, value)
            return value.replace(tzinfo=None).isoformat() if utc is None else utc.isoformat() + "Z"

        return from_datetime
    if kind == "time":
        return time.isoformat
    if kind == "uuid":
        return uuid.UUID.__str__
    if kind == "decimal":
        return _decimal_text_converter(t)
    return TEXT[_KIND_TYPES[kind]]


def _decimal_text_converter(t: Target) -> Converter:
    """A Decimal's plain text (TYPES-30), refused when it would be too long (``1E+30000000``)."""
    table, column, declared = t.table, t.column, t.declared

    def from_decimal(value: Decimal) -> str:
        if value.is_finite() and not plain_text_fits(value):
            raise refuse_wide_decimal(value, table, column, declared)
        return decimal_text(value)

    return from_decimal


def _build_xml(t: Target, kind: str) -> Converter | None:
    if kind == "str":
        return None
    return t.refuser("XML takes only strings")


def _build_json(t: Target, kind: str) -> Converter | None:
    if kind == "structured":
        table, column = t.table, t.column

        def from_structure(value: Any) -> JsonText:
            return JsonText(json_dumps(value, table, column))

        return from_structure
    if kind == "str":

        def from_str(value: str) -> JsonText:
            return JsonText(encode(value))  # a JSON string, not parsed (TYPES-38)

        return from_str
    if kind == "bool":

        def from_bool(value: bool) -> JsonText:
            return _JSON_TRUE if value else _JSON_FALSE

        return from_bool
    if kind == "int":

        def from_int(value: int) -> JsonText:
            return JsonText(int_text(value))

        return from_int
    if kind == "float":

        def from_float(value: float) -> JsonText:
            if math.isfinite(value):
                return JsonText(float.__repr__(value))
            raise t.error(value, "JSON has no NaN or Infinity")

        return from_float
    if kind == "decimal":

        to_text = _decimal_text_converter(t)

        def from_decimal(value: Decimal) -> JsonText:
            if value.is_finite():
                return JsonText(to_text(value))
            raise t.error(value, "JSON has no NaN or Infinity")

        return from_decimal
    return t.refuser()


BUILDERS: Final[dict[str, Builder]] = {
    "BOOLEAN": _build_boolean,
    "SHORT": _build_integer,
    "INT": _build_integer,
    "LONG": _build_integer,
    "DECIMAL": _build_decimal,
    "FLOAT": _build_floating,
    "DOUBLE": _build_floating,
    "NAIVE_DATE": _build_naive_date,
    "NAIVE_DATETIME": _build_naive_datetime,
    "UTC_DATETIME": _build_utc_datetime,
    "BINARY": _build_binary,
    "XML": _build_xml,
    "STRING": _build_string,
    "JSON": _build_json,
}
