"""Pieces of the error messages of ERR-OP-4, ERR-OP-5 and ERR-OP-11: where, what, which value.

Every message names the table and the column, the value's Python type and the value itself,
abbreviated to about 100 characters (TYPES-31).
"""

from __future__ import annotations

from typing import Any, Final

from headwater.errors import OperationTypeError
from headwater.values.numeric import digit_count

__all__ = ["SUPPORTED_KINDS", "abbreviate", "type_name", "unsupported", "where"]

SUPPORTED_KINDS: Final = (
    "str, int, float, bool, decimal.Decimal, bytes, datetime.date, datetime.datetime, "
    "datetime.time, uuid.UUID, dict, list or tuple"
)


def type_name(pytype: type) -> str:
    """``int``, ``decimal.Decimal``, ``mymodule.MyClass``: builtins without their module."""
    module = getattr(pytype, "__module__", "builtins")
    name = getattr(pytype, "__qualname__", pytype.__name__)
    return name if module == "builtins" else f"{module}.{name}"


def abbreviate(value: Any) -> str:
    """``repr(value)``, cut to 100 characters; an int of more than about 300 digits as its digit count
    (its repr would be slow, or refused beyond 4,300 digits).

        >>> abbreviate("x" * 1000)[-8:], abbreviate(-(10**5000))
        ('xxxxx...', '<negative int of 5001 digits>')
    """
    vtype = type(value)
    try:
        if vtype is int and value.bit_length() > 1000:
            sign = "negative " if value < 0 else ""
            return f"<{sign}int of {digit_count(value)} digits>"
        if vtype in (str, bytes, bytearray) and len(value) > 100:
            value = value[:100]  # repr of the start only: a 100 MB string is not copied
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{type_name(vtype)} object>"
    return text if len(text) <= 100 else text[:97] + "..."


def where(table: str, column: str) -> str:
    return f"table {table!r}, column {column!r}"


def unsupported(value: Any, table: str, column: str, detail: str = "") -> OperationTypeError:
    """ERR-OP-4: a value of a Python type outside TYPES-20."""
    extra = f"; {detail}" if detail else ""
    return OperationTypeError(
        f"{where(table, column)}: unsupported value type {type_name(type(value))} "
        f"({abbreviate(value)}){extra}; convert it to one of {SUPPORTED_KINDS} before passing "
        "it, for example str(value) (declaring the column does not change which Python types "
        "are accepted)"
    )
