"""Python values in, canonical values out (spec: data-types.md, TYPES-20 to TYPES-41; SEM-12).

Every value a connector passes to ``op.upsert``/``op.update``/``op.delete`` goes through here.

* An **undeclared** column: :func:`normalize` classifies the value (TYPES-20) and returns its
  canonical form; :func:`infer` gives the type that canonical value infers (TYPES-21, TYPES-22).
* A **declared** column: :func:`converter` builds, once per (declared type, Python type), a small
  function that turns such values into the declared type's canonical form (TYPES-31 to TYPES-39),
  or returns ``None`` when those values are already canonical. :func:`coerce` is the one-shot form.
* :func:`text_form` (TYPES-30), :func:`convert_stored` (TYPES-27, widening) and
  :func:`fivetran_id` (SEM-12) work on canonical values.

Canonical values are exactly: ``None``, ``bool``, ``int``, ``float``, ``decimal.Decimal`` (finite),
``str``, :class:`JsonText`, ``bytes``, ``datetime.date``, naive ``datetime.datetime`` and
``datetime.datetime`` whose ``tzinfo`` is ``datetime.timezone.utc``; no other subclass of these
(an ``IntEnum`` member becomes an ``int``, a ``time`` or ``UUID`` its text, a dict its JSON text).

    >>> from headwater.types import FLOAT, INT, decimal
    >>> to_int = converter(INT, str, table="users", column="age")
    >>> to_int(" 42 ")
    42
    >>> converter(INT, bool, table="users", column="age")(True)
    1
    >>> converter(INT, type(None), table="users", column="age") is None
    True
    >>> coerce("1.005", decimal(10, 2), table="users", column="balance")
    Decimal('1.01')
    >>> infer(normalize(3_000_000_000, table="users", column="id"))
    DataType('LONG')
    >>> text_form(10.4, FLOAT)
    '10.4'

Converters raise :class:`~headwater.errors.OperationValueError` (ERR-OP-5) for a value they cannot
convert and :class:`~headwater.errors.OperationTypeError` (ERR-OP-4) for an unsupported Python type;
building a converter never raises.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Final, NoReturn, cast

from headwater.errors import OperationTypeError, OperationValueError
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
    join,
)

__all__ = [
    "Converter",
    "JsonText",
    "coerce",
    "convert_stored",
    "converter",
    "fivetran_id",
    "infer",
    "json_text",
    "normalize",
    "parse_temporal",
    "text_form",
]

Converter = Callable[[Any], Any]
"""Turns one raw value into a canonical value (or raises ERR-OP-4 / ERR-OP-5)."""


class JsonText(str):
    """JSON text made by headwater (TYPES-40). A str subclass so type(v) tells it apart from a plain string."""

    __slots__ = ()


_UTC: Final = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11
_NONE_TYPE: Final = type(None)
_MIDNIGHT: Final = time()
_MAX_PRECISION: Final = 38
_INFINITY_WORDS: Final = frozenset({"inf", "infinity"})
# The smallest magnitude that rounds to infinity as a 32-bit float: halfway between the largest
# finite float32 (2**128 - 2**104) and 2**128, which rounds (ties to even) up to infinity.
_FLOAT32_OVERFLOW: Final = 2.0**128 - 2.0**103
_INT_RANGES: Final = {
    "SHORT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), 2**31 - 1),
    "LONG": (-(2**63), 2**63 - 1),
}
# Wide enough for every quantize in a DECIMAL(38, s) column without rounding the coefficient.
_WIDE_CONTEXT: Final = Context(prec=2 * _MAX_PRECISION + 2, rounding=ROUND_HALF_UP)
_JSON_TRUE: Final = JsonText("true")
_JSON_FALSE: Final = JsonText("false")
_SUPPORTED_KINDS: Final = (
    "str, int, float, bool, decimal.Decimal, bytes, datetime.date, datetime.datetime, "
    "datetime.time, uuid.UUID, dict, list or tuple"
)

# --------------------------------------------------------------------------------------------
# Value kinds (TYPES-20)
# --------------------------------------------------------------------------------------------

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
# Exact types whose values need no unwrapping before a kind's converter sees them.
_PLAIN_TYPES: Final = frozenset(
    {bool, int, float, Decimal, str, bytes, datetime, date, time, uuid.UUID, dict, list, tuple}
)


def _kind(pytype: type) -> str | None:
    kind = _EXACT_KINDS.get(pytype)
    if kind is not None:
        return kind
    for base, name in _KIND_ORDER:
        if issubclass(pytype, base):
            return name
    return None


def _plain_datetime(value: datetime) -> datetime:
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, value.tzinfo, fold=value.fold,
    )


def _plain_date(value: date) -> date:
    return date(value.year, value.month, value.day)


# How a subclass instance (or a bytearray/memoryview) becomes a value of the exact base type.
# The unbound base methods skip overrides: str(member) of a (str, Enum) gives "Color.RED".
_PLAIN: Final[dict[str, Converter]] = {
    "int": int.__int__,
    "float": float.__float__,
    "decimal": Decimal,
    "str": str.__str__,
    "bytes": bytes,
    "datetime": _plain_datetime,
    "date": _plain_date,
}


def _type_name(pytype: type) -> str:
    module = getattr(pytype, "__module__", "builtins")
    name = getattr(pytype, "__qualname__", pytype.__name__)
    return name if module == "builtins" else f"{module}.{name}"


def _abbreviate(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{_type_name(type(value))} object>"
    return text if len(text) <= 100 else text[:97] + "..."


def _where(table: str, column: str) -> str:
    return f"table {table!r}, column {column!r}"


def _unsupported(value: Any, table: str, column: str, detail: str = "") -> OperationTypeError:
    extra = f"; {detail}" if detail else ""
    return OperationTypeError(
        f"{_where(table, column)}: unsupported value type {_type_name(type(value))} "
        f"({_abbreviate(value)}){extra}; convert it to one of {_SUPPORTED_KINDS} before passing "
        "it, for example str(value) (declaring the column does not change which Python types "
        "are accepted)"
    )


# --------------------------------------------------------------------------------------------
# JSON text (TYPES-40)
# --------------------------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    """Called by the encoder for anything it cannot serialise: item() scalars only (TYPES-40)."""
    item = getattr(obj, "item", None)
    if item is not None and callable(item) and _kind(type(obj)) is None:
        try:
            result = item()
        except Exception as exc:
            raise TypeError(
                f"nested {_type_name(type(obj))} {_abbreviate(obj)} (its item() failed: {exc})"
            ) from exc
        if result is None or isinstance(result, (str, int, float)):
            return result
        raise TypeError(
            f"nested {_type_name(type(obj))} {_abbreviate(obj)} whose item() returned "
            f"{_type_name(type(result))}"
        )
    raise TypeError(f"nested {_type_name(type(obj))} {_abbreviate(obj)}")


_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_default)
_encode: Final = _ENCODER.encode


def _json_dumps(value: Any, table: str, column: str) -> str:
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise OperationTypeError(
            f"{_where(table, column)}: value is not JSON serializable: {detail}; "
            "JSON values may contain only dicts with str keys, lists, tuples, str, int, finite "
            "float, bool and None, so convert the rest first (for example a datetime with "
            "isoformat(), a Decimal with str() or float(), bytes with base64)"
        ) from exc


def json_text(value: Any, *, table: str, column: str) -> JsonText:
    """TYPES-40: json.dumps(value, ensure_ascii=False, allow_nan=False) with item() scalars allowed
    when nested; anything else nested (datetime, Decimal, bytes, set, NaN...) raises
    OperationTypeError whose message contains 'not JSON serializable', the column and the table
    (ERR-OP-11).

        >>> json_text({"b": [1, 2.5, None], "é": True}, table="t", column="c")
        '{"b": [1, 2.5, null], "é": true}'
    """
    return JsonText(_json_dumps(value, table, column))


# --------------------------------------------------------------------------------------------
# Text form (TYPES-30)
# --------------------------------------------------------------------------------------------

_FLOAT_WORDS: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _int_text(value: int) -> str:
    try:
        return int.__repr__(value)
    except ValueError:  # more digits than sys.get_int_max_str_digits(); Decimal has no such limit
        return format(Decimal(value), "f")


def _float_text(value: float) -> str:
    text = float.__repr__(value)
    return _FLOAT_WORDS.get(text, text)


def _round_float32(value: float) -> float:
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def _float32_text(value: float) -> str:
    """The shortest decimal that reads back as the same 32-bit float, in repr style (TYPES-30)."""
    single = _round_float32(value)
    if not math.isfinite(single):
        return _float_text(single)
    for digits in range(1, 10):  # 9 significant digits always identify a float32
        candidate = float(f"{single:.{digits}g}")
        if _round_float32(candidate) == single:
            return _float_text(candidate)
    return _float_text(single)  # pragma: no cover - unreachable


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        if value.is_nan():
            return "NaN"
        return "-Infinity" if value.is_signed() else "Infinity"
    if not value and value.is_signed():
        value = value.copy_abs()  # DECIMAL columns have no negative zero
    return format(value, "f")


def _bytes_text(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is None:
        return value.isoformat()
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None).isoformat()
    return (value - offset).replace(tzinfo=None).isoformat() + "Z"


class _Float32(float):
    """Marks a float held by a 32-bit FLOAT column, so its text form is the 32-bit one."""

    __slots__ = ()


_TEXT: Final[dict[type, Callable[[Any], str]]] = {
    _Float32: _float32_text,
    bool: _bool_text,
    int: _int_text,
    float: _float_text,
    Decimal: _decimal_text,
    bytes: _bytes_text,
    date: date.isoformat,
    datetime: _datetime_text,
}


def _quantize_wide(value: Decimal, scale: int) -> Decimal:
    if value.as_tuple().exponent == -scale:
        return value
    return value.quantize(Decimal(1).scaleb(-scale), context=_WIDE_CONTEXT)


def text_form(value: Any, stored: DataType | None = None) -> str:
    """TYPES-30 for a canonical value.

    ``stored`` is the column type the value is stored in, when that matters: ``DECIMAL(p,s)`` shows
    exactly s fraction digits, ``FLOAT`` the shortest decimal that reads back as the same 32-bit
    value, ``DOUBLE`` a float, ``NAIVE_DATETIME``/``UTC_DATETIME`` a date as midnight (and a naive
    datetime in ``UTC_DATETIME`` as UTC). ``None`` means the value's own inferred type.

        >>> text_form(2.5), text_form(float("nan")), text_form(True), text_form(b"\\x00\\x01\\x02\\x03")
        ('2.5', 'NaN', 'true', 'AAECAw==')
        >>> text_form(Decimal("105.3"), decimal(5, 2))
        '105.30'
    """
    vtype = type(value)
    if vtype is str or vtype is JsonText:
        return cast(str, value)
    if stored is not None:
        value = _as_stored(value, stored)
        vtype = type(value)
    formatter = _TEXT.get(vtype)
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
        return _Float32(float(value))
    if name == "DOUBLE" and vtype in (int, Decimal):
        return float(value)
    if name == "DECIMAL" and vtype in (int, Decimal):
        assert stored.scale is not None
        return _quantize_wide(Decimal(value), stored.scale)
    if vtype is date and name in ("NAIVE_DATETIME", "UTC_DATETIME"):
        return datetime.combine(value, _MIDNIGHT, _UTC if name == "UTC_DATETIME" else None)
    if vtype is datetime and name == "UTC_DATETIME" and value.tzinfo is None:
        return value.replace(tzinfo=_UTC)
    return value


# --------------------------------------------------------------------------------------------
# normalize (undeclared columns) and infer (TYPES-20 to TYPES-22)
# --------------------------------------------------------------------------------------------

_CANONICAL_AS_IS: Final = frozenset({_NONE_TYPE, bool, int, float, str, bytes, date, JsonText})


def _decimal_to_float(value: Decimal) -> float:
    if value.is_nan():
        return math.nan  # also for a signalling NaN, which float() refuses
    return float(value)


def _canonical_datetime(value: datetime, table: str, column: str) -> datetime:
    if type(value) is not datetime:
        value = _plain_datetime(value)
    tz = value.tzinfo
    if tz is None or tz is _UTC:
        return value
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None)
    try:
        return (value - offset).replace(tzinfo=_UTC)
    except OverflowError:
        raise OperationValueError(
            f"{_where(table, column)}: cannot convert datetime.datetime {_abbreviate(value)} to "
            f"{UTC_DATETIME}: it falls outside the datetime range once converted to UTC; send a "
            "datetime between years 1 and 9999 in UTC"
        ) from None


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
        if tz is None or tz is _UTC:
            return value
        return _canonical_datetime(value, table, column)
    if vtype is Decimal:
        return value if value.is_finite() else _decimal_to_float(value)
    kind = _kind(vtype)
    if kind is None:
        return _normalize_item(value, table, column)
    if kind == "structured":
        return JsonText(_json_dumps(value, table, column))
    if kind == "datetime":
        return _canonical_datetime(value, table, column)
    if kind == "time":
        return time.isoformat(value)
    if kind == "uuid":
        return uuid.UUID.__str__(value)
    if kind == "decimal":
        return normalize(Decimal(value), table=table, column=column)
    return _PLAIN[kind](value)


def _normalize_item(value: Any, table: str, column: str) -> Any:
    item = getattr(value, "item", None)
    if item is None or not callable(item):
        raise _unsupported(value, table, column)
    try:
        result = item()
    except Exception as exc:
        raise _unsupported(value, table, column, f"its item() failed: {exc}") from exc
    if result is not None:
        kind = _kind(type(result))
        if kind is None or kind == "structured":
            raise _unsupported(
                value, table, column,
                f"its item() returned {_type_name(type(result))}, not a scalar",
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
_DECIMAL_INTEGERS: Final = tuple(decimal(max(d, 1), 0) for d in range(_MAX_PRECISION + 1))
_INT_MIN, _INT_MAX = _INT_RANGES["INT"]
_LONG_MIN, _LONG_MAX = _INT_RANGES["LONG"]
_DECIMAL_INT_LIMIT: Final = 10**_MAX_PRECISION


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
    if integer_digits + scale > _MAX_PRECISION:
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
        return NAIVE_DATETIME if value.utcoffset() is None else UTC_DATETIME
    # Not canonical: classify it as an undeclared column would.
    return infer(normalize(value, table="?", column="?"))


# --------------------------------------------------------------------------------------------
# Temporal strings (TYPES-39)
# --------------------------------------------------------------------------------------------

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
            tz = _UTC
        elif sign is not None:
            off_minutes = int(off_m) if off_m is not None else 0
            if off_minutes > 59:
                return None
            offset = timedelta(hours=int(off_h), minutes=off_minutes)
            tz = timezone(-offset if sign == "-" else offset) if offset else _UTC
        micro = int(fraction[:6].ljust(6, "0")) if fraction is not None else 0
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute),
            int(second) if second is not None else 0, micro, tz,
        )
    except ValueError:  # day 31 of a 30-day month, hour 24, offset of 24 hours or more...
        return None


# --------------------------------------------------------------------------------------------
# Converters for declared columns (TYPES-31 to TYPES-39)
# --------------------------------------------------------------------------------------------


class _Target:
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
            f"{_where(self.table, self.column)}: cannot convert {_type_name(self.pytype)} value "
            f"{_abbreviate(value)} to {self.declared}{reason}; {_hint(self.declared)}"
        )

    def refuser(self, detail: str = "") -> Converter:
        def refuse(value: Any) -> NoReturn:
            raise self.error(value, detail)

        return refuse

    def unsupported(self, value: Any) -> NoReturn:
        raise _unsupported(value, self.table, self.column)


def _hint(declared: DataType) -> str:
    name = declared.name
    if name == "BOOLEAN":
        return "send a bool, 0 or 1, or one of the strings 'true', 'false', '1', '0'"
    if declared.is_integer:
        low, high = _INT_RANGES[name]
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


_Builder = Callable[[_Target, str], "Converter | None"]


def _build_boolean(t: _Target, kind: str) -> Converter | None:
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


def _build_integer(t: _Target, kind: str) -> Converter | None:
    low, high = _INT_RANGES[t.declared.name]
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
            if value.is_finite() and low <= value <= high and value == value.to_integral_value():
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
    return out_of_range if value == int(value) else "not a whole number"


def _long_integer_text(t: _Target, value: str, text: str, low: int, high: int) -> int:
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


def _build_decimal(t: _Target, kind: str) -> Converter | None:
    precision, scale = t.declared.precision, t.declared.scale
    assert precision is not None and scale is not None
    quantum = Decimal(1).scaleb(-scale)
    # quantize signals InvalidOperation when the result has more than `precision` digits, that is
    # more than precision - scale integer digits once rounded to `scale` places (TYPES-34).
    context = Context(prec=precision, rounding=ROUND_HALF_UP, traps=[InvalidOperation])
    too_large = f"more than {precision - scale} digits before the decimal point"
    if kind == "int":

        def from_int(value: int) -> Decimal:
            try:
                return Decimal(value).quantize(quantum, context=context)
            except InvalidOperation:
                raise t.error(value, too_large) from None

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


def _build_floating(t: _Target, kind: str) -> Converter | None:
    single = t.declared.name == "FLOAT"
    limit = _FLOAT32_OVERFLOW if single else math.inf
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
            if value.strip().lstrip("+-").lower() in _INFINITY_WORDS:
                return result
            raise t.error(value, too_large)

        return from_str
    return t.refuser()


def _to_naive_utc(t: _Target, value: datetime, original: Any) -> datetime:
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None)
    try:
        return (value - offset).replace(tzinfo=None)
    except OverflowError:
        raise t.error(original, "outside the datetime range once converted to UTC") from None


def _to_aware_utc(t: _Target, value: datetime, original: Any) -> datetime:
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=_UTC)
    try:
        return (value - offset).replace(tzinfo=_UTC)
    except OverflowError:
        raise t.error(original, "outside the datetime range once converted to UTC") from None


def _build_naive_date(t: _Target, kind: str) -> Converter | None:
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


def _build_naive_datetime(t: _Target, kind: str) -> Converter | None:
    if kind == "datetime":

        def from_datetime(value: datetime) -> datetime:
            if value.tzinfo is None:
                return value
            return _to_naive_utc(t, value, value)

        return from_datetime
    if kind == "date":

        def from_date(value: date) -> datetime:
            return datetime.combine(value, _MIDNIGHT)

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
            return datetime.combine(parsed, _MIDNIGHT)

        return from_str
    return t.refuser()


def _build_utc_datetime(t: _Target, kind: str) -> Converter | None:
    if kind == "datetime":

        def from_datetime(value: datetime) -> datetime:
            tz = value.tzinfo
            if tz is _UTC:
                return value
            if tz is None:
                return value.replace(tzinfo=_UTC)
            return _to_aware_utc(t, value, value)

        return from_datetime
    if kind == "date":

        def from_date(value: date) -> datetime:
            return datetime.combine(value, _MIDNIGHT, _UTC)

        return from_date
    if kind == "str":

        def from_str(value: str) -> datetime:
            parsed = parse_temporal(value)
            if type(parsed) is datetime:
                if parsed.tzinfo is None:
                    return parsed.replace(tzinfo=_UTC)
                if parsed.tzinfo is _UTC:
                    return parsed
                return _to_aware_utc(t, parsed, value)
            if parsed is None:
                raise t.error(value, "not an ISO 8601 date or datetime")
            return datetime.combine(parsed, _MIDNIGHT, _UTC)

        return from_str
    return t.refuser()


def _build_binary(t: _Target, kind: str) -> Converter | None:
    if kind == "bytes":
        return None  # bytearray and memoryview are made bytes by the _PLAIN step
    if kind == "str":
        return t.refuser("strings are not encoded implicitly")
    return t.refuser()


_KIND_TYPES: Final[dict[str, type]] = {
    "bool": bool,
    "int": int,
    "float": float,
    "decimal": Decimal,
    "bytes": bytes,
    "date": date,
}


def _build_string(t: _Target, kind: str) -> Converter | None:
    if kind == "str":
        return None
    if kind == "structured":
        table, column = t.table, t.column

        def from_structure(value: Any) -> str:
            return _json_dumps(value, table, column)

        return from_structure
    if kind == "datetime":

        def from_datetime(value: datetime) -> str:
            try:
                return _datetime_text(value)
            except OverflowError:
                raise t.error(value, "outside the datetime range once converted to UTC") from None

        return from_datetime
    if kind == "time":
        return time.isoformat
    if kind == "uuid":
        return uuid.UUID.__str__
    return _TEXT[_KIND_TYPES[kind]]


def _build_xml(t: _Target, kind: str) -> Converter | None:
    if kind == "str":
        return None
    return t.refuser("XML takes only strings")


def _build_json(t: _Target, kind: str) -> Converter | None:
    if kind == "structured":
        table, column = t.table, t.column

        def from_structure(value: Any) -> JsonText:
            return JsonText(_json_dumps(value, table, column))

        return from_structure
    if kind == "str":

        def from_str(value: str) -> JsonText:
            return JsonText(_encode(value))  # a JSON string, not parsed (TYPES-38)

        return from_str
    if kind == "bool":

        def from_bool(value: bool) -> JsonText:
            return _JSON_TRUE if value else _JSON_FALSE

        return from_bool
    if kind == "int":

        def from_int(value: int) -> JsonText:
            return JsonText(_int_text(value))

        return from_int
    if kind == "float":

        def from_float(value: float) -> JsonText:
            if math.isfinite(value):
                return JsonText(float.__repr__(value))
            raise t.error(value, "JSON has no NaN or Infinity")

        return from_float
    if kind == "decimal":

        def from_decimal(value: Decimal) -> JsonText:
            if value.is_finite():
                return JsonText(format(value, "f"))
            raise t.error(value, "JSON has no NaN or Infinity")

        return from_decimal
    return t.refuser()


_BUILDERS: Final[dict[str, _Builder]] = {
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


def _item_converter(declared: DataType, pytype: type, table: str, column: str) -> Converter:
    """Values with item() (NumPy/pandas scalars): convert item()'s result (TYPES-20)."""
    by_type: dict[type, Converter | None] = {}

    def via_item(value: Any) -> Any:
        try:
            result = value.item()
        except Exception as exc:
            raise _unsupported(value, table, column, f"its item() failed: {exc}") from exc
        rtype = type(result)
        try:
            convert = by_type[rtype]
        except KeyError:
            kind = _kind(rtype)
            if rtype is not _NONE_TYPE and (kind is None or kind == "structured"):
                raise _unsupported(
                    value, table, column,
                    f"its item() returned {_type_name(rtype)}, not a scalar",
                ) from None
            convert = by_type[rtype] = converter(declared, rtype, table=table, column=column)
        return result if convert is None else convert(result)

    return via_item


def converter(
    declared: DataType, pytype: type, *, table: str, column: str
) -> Callable[[Any], Any] | None:
    """A function turning a raw value whose ``type(v) is pytype`` into the canonical value of the
    DECLARED type (TYPES-31 to TYPES-39), or ``None`` when such values need no conversion.

    Build it once per column and Python type, then call it per value. The function raises
    OperationValueError ('cannot convert', ERR-OP-5) for a value it cannot convert and
    OperationTypeError ('unsupported value type', ERR-OP-4) for an unsupported Python type;
    building never raises.

        >>> from headwater.types import BOOLEAN, STRING
        >>> converter(BOOLEAN, str, table="t", column="c")(" FALSE ")
        False
        >>> converter(STRING, str, table="t", column="c") is None
        True
    """
    if pytype is _NONE_TYPE:
        return None
    if pytype is JsonText:  # already JSON text; anywhere else it is a plain string
        if declared.name == "JSON":
            return None
        kind: str | None = "str"
    else:
        kind = _kind(pytype)
    if kind is None:
        if callable(getattr(pytype, "item", None)):
            return _item_converter(declared, pytype, table, column)
        return _Target(declared, pytype, table, column).unsupported
    convert = _BUILDERS[declared.name](_Target(declared, pytype, table, column), kind)
    if pytype in _PLAIN_TYPES:
        return convert
    plain = _PLAIN.get(kind)
    if plain is None:
        return convert
    if convert is None:
        return plain
    inner = convert

    def from_subclass(value: Any) -> Any:
        return inner(plain(value))

    return from_subclass


def coerce(value: Any, declared: DataType, *, table: str, column: str) -> Any:
    """``converter(declared, type(value), ...)(value)``, or ``value`` when no conversion is needed.

        >>> from headwater.types import UTC_DATETIME
        >>> coerce("2024-01-02T08:34:05+05:30", UTC_DATETIME, table="t", column="c")
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    """
    convert = converter(declared, type(value), table=table, column=column)
    return value if convert is None else convert(value)


# --------------------------------------------------------------------------------------------
# Widening (TYPES-27) and _fivetran_id (SEM-12)
# --------------------------------------------------------------------------------------------


def convert_stored(value: Any, source: DataType, target: DataType) -> Any:
    """A canonical value stored as ``source`` converted to the wider ``target`` (TYPES-27).

    ``target`` must be ``join(source, something)``; otherwise ValueError.

        >>> from headwater.types import FLOAT, INT
        >>> convert_stored(10.4, FLOAT, DOUBLE)
        10.399999618530273
        >>> convert_stored(7, INT, decimal(11, 1))
        Decimal('7.0')
    """
    if value is None or source == target:
        return value
    if join(source, target) != target:
        raise ValueError(f"{target} is not a widening of {source}")
    name = target.name
    if target.is_textual:
        if type(value) is JsonText:
            return str.__str__(value)  # a STRING column holds plain str
        return text_form(value, source)
    if name == "DOUBLE":
        if source.name == "FLOAT":
            return _round_float32(value)
        return float(value)
    if name == "FLOAT":  # from SHORT: exact
        return float(value)
    if name == "DECIMAL":
        assert target.scale is not None
        return _quantize_wide(Decimal(value), target.scale)
    if target.is_integer:
        return value
    if name == "NAIVE_DATETIME":  # from a date
        return datetime.combine(value, _MIDNIGHT)
    if name == "UTC_DATETIME":
        if type(value) is date:
            return datetime.combine(value, _MIDNIGHT, _UTC)
        return value.replace(tzinfo=_UTC)  # a naive datetime: the same wall clock read as UTC
    raise ValueError(f"no conversion from {source} to {target}")  # pragma: no cover


def fivetran_id(row: Mapping[str, Any], declared: Mapping[str, DataType]) -> str:
    """The ``_fivetran_id`` of a row of canonical values (SEM-12).

    ``row`` maps destination column names to canonical values, system columns excluded; ``declared``
    maps declared columns to their types (others use each value's own inferred type).

        >>> fivetran_id({"message": "hello, world!"}, {})[:16]
        '459f168e188a747c'
    """
    texts = {
        column: text_form(value, declared.get(column))
        for column, value in row.items()
        if value is not None
    }
    payload = json.dumps(texts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


_NON_FINITE_TEXT: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_SELF_TEXT_DECLARED: Final = frozenset({"STRING", "XML", "JSON"})


def _text_column(values: Sequence[Any], declared: DataType | None) -> list[Any]:
    """Text forms of one column (None stays None), with fast paths for the common kinds."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if declared is None or declared.name in _SELF_TEXT_DECLARED or declared.is_integer or declared.name in (
        "BOOLEAN", "DOUBLE"
    ):
        if kinds <= {str, JsonText}:
            return list(values)
        if kinds == {int} and (declared is None or declared.is_integer):
            return [None if v is None else str(v) for v in values]
        if kinds == {float} and (declared is None or declared.name == "DOUBLE"):
            fix = _NON_FINITE_TEXT
            texts = [None if v is None else float.__repr__(v) for v in values]
            return [t if t is None or t[-1].isdigit() else fix.get(t, t) for t in texts]
        if kinds == {bool}:
            return [None if v is None else ("true" if v else "false") for v in values]
    return [None if v is None else text_form(v, declared) for v in values]


def fivetran_ids(columns: Sequence[tuple[str, Sequence[Any], DataType | None]]) -> list[str]:
    """``_fivetran_id`` of many rows at once, column by column (SEM-12); same result as :func:`fivetran_id`.

    ``columns`` holds (destination name, canonical values, declared type or None), all the same length.
    """
    if not columns:
        return []
    encode = json.encoder.encode_basestring
    pieces: list[list[Any]] = []
    gaps = False  # whether some row lacks some column (a None value)
    for name, values, declared in sorted(columns, key=lambda column: column[0]):
        prefix = encode(name) + ":"
        texts = _text_column(values, declared)
        if None in texts:
            gaps = True
            pieces.append([None if text is None else prefix + encode(text) for text in texts])
        else:  # the common case, with C-level loops: `"name":"text"` for every value
            pieces.append(list(map(prefix.__add__, map(encode, texts))))
    members: Iterable[str]
    if gaps:
        members = (",".join([p for p in row if p is not None]) for row in zip(*pieces))
    else:
        members = map(",".join, zip(*pieces))
    sha256 = hashlib.sha256
    return [sha256(("{" + joined + "}").encode("utf-8", "surrogatepass")).hexdigest() for joined in members]
