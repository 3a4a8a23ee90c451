"""Typing one column of a batch: the column's type after the batch, and its values converted to it.

Per column, one ``set(map(type, ...))`` tells whether the batch's values are all of one Python
type (the common case, typed by a rule per type, e.g. min/max for ints); only columns that mix
kinds are widened value by value in call order (TYPES-24 to TYPES-28).

Text columns (STRING, XML, JSON) leave here without lone surrogates, which no warehouse can
encode: they are replaced by U+FFFD with a warning (see :mod:`headwater.values.surrogates`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headwater import values as V
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
    join,
)

__all__ = ["INT32_MAX", "INT32_MIN", "Resolved", "resolve_column", "running", "uniform_type"]

NoneType = type(None)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass
class Resolved:
    """The outcome of typing one column of a batch."""

    type: DataType                 # the column's type after the batch
    values: Any                    # the batch's values converted to ``type``: a list, or an Arrow array
    start: DataType                # the column's type before the batch (or at creation)
    chain: list[DataType]          # successive wider types, in call order (each is a schema change)


def uniform_type(kind: type, values: Sequence[Any]) -> DataType | None:
    """The inferred type of a column whose non-null values all have Python type ``kind``, or None
    when the per-value path is needed."""
    if kind is str:
        return None if V.has_lone_surrogates(values) else STRING
    if kind is int:
        present = [v for v in values if v is not None] if None in values else values
        low, high = min(present), max(present)
        if low >= INT32_MIN and high <= INT32_MAX:
            return INT
        if low >= INT64_MIN and high <= INT64_MAX:
            return LONG
        return None
    if kind is float:
        return DOUBLE
    if kind is bool:
        return BOOLEAN
    if kind is V.JsonText:
        return None if V.has_lone_surrogates(values) else JSON
    if kind is bytes:
        return BINARY
    if kind is dt.date:
        return NAIVE_DATE
    if kind is dt.datetime:
        aware = {v.tzinfo is not None for v in values if v is not None}
        if aware == {False}:
            return NAIVE_DATETIME
        if aware == {True}:
            return UTC_DATETIME
    return None


def _first(values: Sequence[Any]) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def resolve_column(values: list[Any], current: DataType | None, declared: DataType | None) -> Resolved | None:
    """Type one column of a batch; None when it holds no non-null value (TYPES-24 to TYPES-28)."""
    kinds = set(map(type, values))
    kinds.discard(NoneType)
    if not kinds:
        return None
    if declared is not None:
        target = current if current is not None else declared
        return Resolved(target, _encodable(values, target), target, [])
    if len(kinds) == 1:
        own = uniform_type(next(iter(kinds)), values)
        if own is not None:
            if current is None:
                first = V.infer(_first(values))
                assert first is not None
                return Resolved(own, values, first, [] if first == own else [own])
            if own == current:
                return Resolved(current, values, current, [])
            if join(current, own) == current:
                if own in (INT, LONG) and current.is_exact_numeric or current == DOUBLE and own in (INT, LONG):
                    return Resolved(current, values, current, [])  # Arrow converts these exactly
                converted = [None if v is None else V.convert_stored(v, own, current) for v in values]
                return Resolved(current, converted, current, [])
    return running(values, current)


def running(values: list[Any], current: DataType | None) -> Resolved:
    """Widen value by value in call order; each value ends converted through every later widening."""
    cur = current
    start = current
    chain: list[DataType] = []
    own: list[DataType | None] = [None] * len(values)
    stage = [0] * len(values)
    for i, v in enumerate(values):
        if v is None:
            continue
        ty = V.infer(v)
        assert ty is not None
        if cur is None:
            cur = start = ty
        elif ty != cur:
            wider = join(cur, ty)
            if wider != cur:
                cur = wider
                chain.append(wider)
        own[i] = ty
        stage[i] = len(chain)
    assert cur is not None and start is not None
    stages = [start, *chain]
    out = list(values)
    for i, v in enumerate(values):
        ty = own[i]
        if ty is None:
            continue
        s = stage[i]
        if ty == stages[s]:
            # An int or Decimal too wide for DECIMAL(38) infers STRING: store its text (TYPES-21).
            value = V.text_form(v) if ty == STRING and type(v) is not str else v
        else:
            value = V.convert_stored(v, ty, stages[s])
        for k in range(s + 1, len(stages)):
            value = V.convert_stored(value, stages[k - 1], stages[k])
        out[i] = value
    return Resolved(cur, _encodable(out, cur), start, chain)


_TEXT_TYPES = frozenset({"STRING", "XML", "JSON"})


def _encodable(values: list[Any], dtype: DataType) -> list[Any]:
    """The values of a text column with lone surrogates replaced by U+FFFD (logged); others as they are."""
    if dtype.name not in _TEXT_TYPES:
        return values
    clean, changed, example = V.scrub_texts(values)
    if changed:
        from headwater.log import Level, emit

        emit(Level.WARNING,
             f"{changed} text value(s) held lone surrogates (code points U+D800..U+DFFF, which UTF-8 cannot "
             f"encode), stored with U+FFFD in their place, for example {example!r:.100}; such text usually "
             "comes from a broken '\\ud800' escape in JSON or from bytes decoded with "
             "errors='surrogateescape': clean it in the connector to keep the original characters")
    return clean
