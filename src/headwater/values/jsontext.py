"""JSON text (TYPES-40): ``json.dumps(value, ensure_ascii=False, allow_nan=False)``, with ``item()``
scalars (NumPy, pandas) allowed when nested; anything else JSON cannot hold is ERR-OP-11."""

from __future__ import annotations

import json
from typing import Any, Final

from headwater.errors import OperationTypeError
from headwater.values.kinds import JsonText, kind_of
from headwater.values.messages import abbreviate, type_name, where

__all__ = ["encode", "json_dumps", "json_text"]


def _json_default(obj: Any) -> Any:
    """Called by the encoder for anything it cannot serialise: item() scalars only (TYPES-40)."""
    item = getattr(obj, "item", None)
    if item is not None and callable(item) and kind_of(type(obj)) is None:
        try:
            result = item()
        except Exception as exc:
            raise TypeError(
                f"nested {type_name(type(obj))} {abbreviate(obj)} (its item() failed: {exc})"
            ) from exc
        if result is None or isinstance(result, (str, int, float)):
            return result
        raise TypeError(
            f"nested {type_name(type(obj))} {abbreviate(obj)} whose item() returned "
            f"{type_name(type(result))}"
        )
    raise TypeError(f"nested {type_name(type(obj))} {abbreviate(obj)}")


_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_default)
#: ``json.dumps`` of TYPES-40 without the checks of :func:`json_dumps` (for a str, an int...).
encode: Final = _ENCODER.encode


def json_dumps(value: Any, table: str, column: str) -> str:
    """The JSON text of ``value``, or OperationTypeError ('not JSON serializable', ERR-OP-11)."""
    try:
        return encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            detail = "nested too deeply"
        elif isinstance(exc, ValueError) and "integer string conversion" in str(exc):
            detail = "a nested int has more digits than Python converts to text (4300 by default); send it as a str"
        else:
            detail = str(exc)
        raise OperationTypeError(
            f"{where(table, column)}: value is not JSON serializable: {detail}; "
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
    return JsonText(json_dumps(value, table, column))
