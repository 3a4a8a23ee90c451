"""The fourteen Connector SDK data types and how they relate (spec: data-types.md).

A :class:`DataType` is a frozen value: ``STRING``, ``INT``, ``decimal(15, 2)``. It can be parsed
from a ``schema()`` declaration (TYPES-10 to TYPES-12), and :func:`join` gives the widening lattice
of TYPES-26. How a destination stores each type is the destination's business (for DuckDB, see
:func:`headwater.destinations.duckdb.duckdb_type`).

    >>> join(INT, decimal(2, 1))
    DataType('DECIMAL', 11, 1)
    >>> parse_declared("long")
    DataType('LONG')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.errors import SchemaDeclarationError

__all__ = [
    "BINARY",
    "BOOLEAN",
    "DOUBLE",
    "FLOAT",
    "INT",
    "JSON",
    "LONG",
    "NAIVE_DATE",
    "NAIVE_DATETIME",
    "SHORT",
    "STRING",
    "TYPE_NAMES",
    "UTC_DATETIME",
    "XML",
    "DataType",
    "decimal",
    "join",
    "parse_declared",
]

TYPE_NAMES = (
    "BOOLEAN",
    "SHORT",
    "INT",
    "LONG",
    "DECIMAL",
    "FLOAT",
    "DOUBLE",
    "NAIVE_DATE",
    "NAIVE_DATETIME",
    "UTC_DATETIME",
    "BINARY",
    "XML",
    "STRING",
    "JSON",
)

MAX_DECIMAL_PRECISION = 38


@dataclass(frozen=True, slots=True)
class DataType:
    """One of the fourteen SDK types; ``precision``/``scale`` only for ``DECIMAL``."""

    name: str
    precision: int | None = None
    scale: int | None = None

    def __repr__(self) -> str:
        if self.name == "DECIMAL":
            return f"DataType('DECIMAL', {self.precision}, {self.scale})"
        return f"DataType({self.name!r})"

    def __str__(self) -> str:
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        return self.name

    @property
    def is_integer(self) -> bool:
        return self.name in ("SHORT", "INT", "LONG")

    @property
    def is_exact_numeric(self) -> bool:
        return self.name in ("SHORT", "INT", "LONG", "DECIMAL")

    @property
    def is_temporal(self) -> bool:
        return self.name in ("NAIVE_DATE", "NAIVE_DATETIME", "UTC_DATETIME")

    @property
    def is_textual(self) -> bool:
        """STRING and XML share a VARCHAR column and count as the same type (SEM-43)."""
        return self.name in ("STRING", "XML")


BOOLEAN = DataType("BOOLEAN")
SHORT = DataType("SHORT")
INT = DataType("INT")
LONG = DataType("LONG")
FLOAT = DataType("FLOAT")
DOUBLE = DataType("DOUBLE")
NAIVE_DATE = DataType("NAIVE_DATE")
NAIVE_DATETIME = DataType("NAIVE_DATETIME")
UTC_DATETIME = DataType("UTC_DATETIME")
BINARY = DataType("BINARY")
XML = DataType("XML")
STRING = DataType("STRING")
JSON = DataType("JSON")

_SIMPLE = {t.name: t for t in (BOOLEAN, SHORT, INT, LONG, FLOAT, DOUBLE, NAIVE_DATE, NAIVE_DATETIME,
                                UTC_DATETIME, BINARY, XML, STRING, JSON)}


def decimal(precision: int, scale: int) -> DataType:
    """``DECIMAL(precision, scale)``; the caller guarantees 1 <= precision <= 38, 0 <= scale <= precision."""
    return DataType("DECIMAL", precision, scale)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def parse_declared(value: Any, *, table: str = "?", column: str = "?") -> DataType:
    """Parse one ``columns`` value of a ``schema()`` entry (TYPES-10 to TYPES-12).

    Raises :class:`SchemaDeclarationError` with the ERR-SCHEMA-8 or ERR-SCHEMA-9 wording.
    """
    where = f"table {table!r}, column {column!r}"
    valid = ", ".join(TYPE_NAMES)
    if isinstance(value, str):
        name = value.strip().upper()
        if name == "DECIMAL":
            raise SchemaDeclarationError(
                f"{where}: DECIMAL needs a precision and scale; declare it as "
                '{"type": "DECIMAL", "precision": 15, "scale": 2}'
            )
        if name in _SIMPLE:
            return _SIMPLE[name]
        raise SchemaDeclarationError(
            f"{where}: unknown data type {value!r}; use one of {valid}"
        )
    if isinstance(value, dict):
        kind = value.get("type")
        if not isinstance(kind, str) or kind.strip().upper() != "DECIMAL":
            raise SchemaDeclarationError(
                f"{where}: unknown data type {_describe(value)}; a dict declares only DECIMAL, "
                'as {"type": "DECIMAL", "precision": 15, "scale": 2}'
            )
        precision, scale = value.get("precision"), value.get("scale")
        for label, number in (("precision", precision), ("scale", scale)):
            if not isinstance(number, int) or isinstance(number, bool):
                raise SchemaDeclarationError(
                    f"{where}: DECIMAL {label} must be an integer, got {_describe(number)}; "
                    "give both precision (1..38) and scale (0..precision)"
                )
        assert isinstance(precision, int) and isinstance(scale, int)
        if not 1 <= precision <= MAX_DECIMAL_PRECISION:
            raise SchemaDeclarationError(
                f"{where}: DECIMAL precision must be between 1 and 38, got {precision}"
            )
        if not 0 <= scale <= precision:
            raise SchemaDeclarationError(
                f"{where}: DECIMAL scale must be between 0 and the precision ({precision}), "
                f"got {scale}"
            )
        return decimal(precision, scale)
    raise SchemaDeclarationError(
        f"{where}: unknown data type {_describe(value)}; use one of {valid} "
        'or {"type": "DECIMAL", "precision": p, "scale": s}'
    )


def _digits(t: DataType) -> tuple[int, int]:
    """(integer digits, scale) of an exact numeric type (TYPES-26 rule 1)."""
    if t.name == "SHORT":
        return 5, 0
    if t.name == "INT":
        return 10, 0
    if t.name == "LONG":
        return 19, 0
    assert t.precision is not None and t.scale is not None
    return t.precision - t.scale, t.scale


_INT_RANK = {"SHORT": 0, "INT": 1, "LONG": 2}


def join(a: DataType, b: DataType) -> DataType:
    """The narrowest type that holds values of both ``a`` and ``b`` (TYPES-26)."""
    if a == b:
        return a
    if a.is_textual and b.is_textual:
        return STRING
    if a.is_exact_numeric and b.is_exact_numeric:
        if a.is_integer and b.is_integer:
            return a if _INT_RANK[a.name] >= _INT_RANK[b.name] else b
        ia, sa = _digits(a)
        ib, sb = _digits(b)
        i, s = max(ia, ib), max(sa, sb)
        if i + s > MAX_DECIMAL_PRECISION:
            return STRING
        return decimal(i + s, s)
    floating = ("FLOAT", "DOUBLE")
    if a.name in floating or b.name in floating:
        other = b if a.name in floating else a
        this = a if a.name in floating else b
        if other.name in floating:
            return DOUBLE
        if not other.is_exact_numeric:
            return STRING
        if this.name == "FLOAT" and other.name == "SHORT":
            return FLOAT
        return DOUBLE
    if a.is_temporal and b.is_temporal:
        if UTC_DATETIME in (a, b):
            return UTC_DATETIME
        return NAIVE_DATETIME
    return STRING
