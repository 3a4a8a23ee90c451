"""Widening (TYPES-27): a stored value converted to the wider type its column becomes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from headwater.types import DataType, join
from headwater.values.kinds import MIDNIGHT, UTC, JsonText
from headwater.values.numeric import quantize_wide, round_float32
from headwater.values.text import text_form

__all__ = ["convert_stored"]


def convert_stored(value: Any, source: DataType, target: DataType) -> Any:
    """A canonical value stored as ``source`` converted to the wider ``target`` (TYPES-27).

    ``target`` must be ``join(source, something)``; otherwise ValueError.

        >>> from headwater.types import DOUBLE, FLOAT, INT, decimal
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
            return round_float32(value)
        return float(value)
    if name == "FLOAT":  # from SHORT: exact
        return float(value)
    if name == "DECIMAL":
        assert target.scale is not None
        return quantize_wide(Decimal(value), target.scale)
    if target.is_integer:
        return value
    if name == "NAIVE_DATETIME":  # from a date
        return datetime.combine(value, MIDNIGHT)
    if name == "UTC_DATETIME":
        if type(value) is date:
            return datetime.combine(value, MIDNIGHT, UTC)
        return value.replace(tzinfo=UTC)  # a naive datetime: the same wall clock read as UTC
    raise ValueError(f"no conversion from {source} to {target}")  # pragma: no cover


