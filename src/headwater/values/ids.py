"""``_fivetran_id`` (SEM-12): the SHA-256 of a row's text forms, row by row or column by column.

Text is hashed as it is stored: a lone surrogate as U+FFFD (:mod:`headwater.values.surrogates`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from headwater.types import DataType
from headwater.values.kinds import JsonText
from headwater.values.surrogates import HASH_ERRORS
from headwater.values.text import int_text, text_form

__all__ = ["fivetran_id", "fivetran_ids"]


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
    return hashlib.sha256(payload.encode("utf-8", HASH_ERRORS)).hexdigest()


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
            try:
                return [None if v is None else str(v) for v in values]
            except ValueError:  # an int beyond Python's int-to-str digit limit
                return [None if v is None else int_text(v) for v in values]
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
    return [sha256(("{" + joined + "}").encode("utf-8", HASH_ERRORS)).hexdigest() for joined in members]
