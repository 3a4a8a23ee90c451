"""Lone surrogates: text that UTF-8 cannot encode (headwater decision, see :mod:`headwater.values`).

A Python ``str`` may hold code points U+D800..U+DFFF on their own: ``json.loads('"\\ud800"')``
gives one, and so does bytes decoded with ``errors="surrogateescape"``. No warehouse stores
them: DuckDB and Arrow refuse to encode such text. headwater reads a str's surrogates as UTF-16
code units: a high surrogate followed by a low one is the character they encode together
(``"\\ud83d\\ude00"`` is ``"😀"``), and every other surrogate becomes U+FFFD, the replacement
character. The engine replaces them when it types a batch (:func:`scrub_texts`) and logs a
warning; ``_fivetran_id`` hashes the text as it is stored (:data:`HASH_ERRORS`).

Checking costs one ``"".join`` of a text column per batch, and nothing on the per-row path.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from typing import Any, Final

from headwater.values.kinds import JsonText

__all__ = ["HASH_ERRORS", "has_lone_surrogates", "scrub", "scrub_texts"]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: The codec error handler for ``text.encode("utf-8", HASH_ERRORS)``: the bytes of the scrubbed text.
HASH_ERRORS: Final = "headwater.surrogates"


def scrub(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced by U+FFFD (same type: a
    JsonText stays JSON text).

        >>> scrub("a\\ud800b"), scrub("\\ud83d\\ude00") == "\\U0001f600", scrub("\\udc00\\ud800")
        ('a\ufffdb', True, '\ufffd\ufffd')
    """
    clean = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return JsonText(clean) if type(text) is JsonText else clean


def _hash_errors(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError) or error.encoding not in ("utf-8", "utf8"):
        raise error
    return scrub(error.object[error.start:error.end]).encode("utf-8"), error.end


codecs.register_error(HASH_ERRORS, _hash_errors)


def has_lone_surrogates(texts: Sequence[Any]) -> bool:
    """Whether any str among ``texts`` (None and other values are skipped) holds a surrogate.

    One join, then ``isascii()`` (O(1)); only non-ASCII text is encoded, at C speed.
    """
    try:
        joined = "".join(texts)
    except TypeError:  # None among them, or values that are not text
        try:
            joined = "".join(filter(None, texts))
        except TypeError:
            joined = "".join([t for t in texts if isinstance(t, str)])
    if joined.isascii():
        return False
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def scrub_texts(values: list[Any]) -> tuple[list[Any], int, str | None]:
    """``values`` with every str scrubbed: (the values, how many changed, the first one that did).

    Returns ``values`` itself when none holds a surrogate.
    """
    if not has_lone_surrogates(values):
        return values, 0, None
    out = list(values)
    changed = 0
    example: str | None = None
    search = _SURROGATE.search
    for i, value in enumerate(values):
        if isinstance(value, str) and not value.isascii() and search(value) is not None:
            out[i] = scrub(value)
            changed += 1
            if example is None:
                example = value
    return out, changed, example
