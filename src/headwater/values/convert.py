"""DECLARED columns: the converter of one Python type into a declared type (TYPES-31 to TYPES-39).

:func:`converter` is built once per (declared type, Python type) and called per value; it picks
the declared type's rule in :mod:`headwater.values.builders`, first turning subclass instances
into their base type and ``item()`` scalars (NumPy, pandas) into the scalar they hold (TYPES-20).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.types import DataType
from headwater.values.builders import BUILDERS, Target
from headwater.values.kinds import NONE_TYPE, PLAIN, PLAIN_TYPES, Converter, JsonText, kind_of
from headwater.values.messages import type_name, unsupported

__all__ = ["coerce", "converter"]


def _item_converter(declared: DataType, pytype: type, table: str, column: str) -> Converter:
    """Values with item() (NumPy/pandas scalars): convert item()'s result (TYPES-20)."""
    by_type: dict[type, Converter | None] = {}

    def via_item(value: Any) -> Any:
        try:
            result = value.item()
        except Exception as exc:
            raise unsupported(value, table, column, f"its item() failed: {exc}") from exc
        rtype = type(result)
        try:
            convert = by_type[rtype]
        except KeyError:
            kind = kind_of(rtype)
            if rtype is not NONE_TYPE and (kind is None or kind == "structured"):
                raise unsupported(
                    value, table, column,
                    f"its item() returned {type_name(rtype)}, not a scalar",
                ) from None
            convert = by_type[rtype] = converter(declared, rtype, table=table, column=column)
        return result if convert is None else convert(result)

    return via_item


def _readable_bytes(target: Target) -> Converter:
    def readable(value: Any) -> bytes:
        try:
            return bytes(value)
        except (ValueError, TypeError) as exc:
            raise target.error(value, f"it cannot be read: {exc}") from None

    return readable


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
    if pytype is NONE_TYPE:
        return None
    if pytype is JsonText:  # already JSON text; anywhere else it is a plain string
        if declared.name == "JSON":
            return None
        kind: str | None = "str"
    else:
        kind = kind_of(pytype)
    if kind is None:
        if callable(getattr(pytype, "item", None)):
            return _item_converter(declared, pytype, table, column)
        return Target(declared, pytype, table, column).unsupported
    target = Target(declared, pytype, table, column)
    convert = BUILDERS[declared.name](target, kind)
    if pytype in PLAIN_TYPES:
        return convert
    plain = PLAIN.get(kind)
    if plain is None:
        return convert
    if kind == "bytes":  # bytes(view) of a released memoryview raises
        plain = _readable_bytes(target)
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

