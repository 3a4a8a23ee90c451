"""Python values in, canonical values out (spec: data-types.md, TYPES-20 to TYPES-41; SEM-12).

Every value a connector passes to ``op.upsert``/``op.update``/``op.delete`` goes through here.

* An **undeclared** column: :func:`normalize` classifies the value (TYPES-20) and returns its
  canonical form; :func:`infer` gives the type that canonical value infers (TYPES-21, TYPES-22).
* A **declared** column: :func:`converter` builds, once per (declared type, Python type), a small
  function that turns such values into the declared type's canonical form (TYPES-31 to TYPES-39),
  or returns ``None`` when those values are already canonical. :func:`coerce` is the one-shot form.
* :func:`text_form` (TYPES-30), :func:`convert_stored` (TYPES-27, widening) and
  :func:`fivetran_id`/:func:`fivetran_ids` (SEM-12) work on canonical values.

Canonical values are exactly: ``None``, ``bool``, ``int``, ``float``, ``decimal.Decimal`` (finite),
``str``, :class:`JsonText`, ``bytes``, ``datetime.date``, naive ``datetime.datetime`` and
``datetime.datetime`` whose ``tzinfo`` is ``datetime.timezone.utc``; no other subclass of these
(an ``IntEnum`` member becomes an ``int``, a ``time`` or ``UUID`` its text, a dict its JSON text).

    >>> from decimal import Decimal
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

Edge values (headwater decisions; every value gets a stored value or one of those errors, which
name the table, the column and the value, abbreviated):

* **Ints of any size.** An int wider than DECIMAL(38) infers STRING (TYPES-21) and its text is all
  its digits, also beyond Python's int-to-str limit of 4,300 digits, computed in about
  O(n log² n) (a million digits in well under a second). Numeric declared types refuse a huge int
  without converting it. Inside a dict or list (JSON), an int beyond Python's limit is ERR-OP-11.
* **Decimals.** Every NaN (quiet, signalling, negative, with a payload) is a NaN: DOUBLE NaN in an
  undeclared column, NaN in FLOAT/DOUBLE, the text ``NaN``, an error elsewhere. The text form of
  a finite Decimal is its plain notation with its own scale (``0.05``, ``0.050``, ``100`` for
  ``1E+2``), never ``-0``, whatever the connector's decimal context. Where that text is needed
  (undeclared columns, STRING, JSON), a Decimal of magnitude 1E+4300 or more, or below 1E-4299
  (``|d.adjusted()| >= 4300``), is refused (ERR-OP-5): ``Decimal("1E+30000000")`` is 12 bytes but
  its plain text 30 MB. Send ``str(d)`` to keep its scientific notation. DOUBLE, FLOAT, DECIMAL
  and the integer types take or refuse such values without expanding them.
* **Aware datetimes** whose instant falls outside years 1..9999 in UTC (``datetime.max`` at
  -05:00), or whose tzinfo gives no valid offset, are ERR-OP-5; those that fit are converted.
* **Lone surrogates** (code points U+D800..U+DFFF alone in a str, as ``json.loads`` makes from a
  broken ``"\\ud800"`` escape) cannot be encoded as UTF-8, so no warehouse can store them. A
  high surrogate followed by a low one is read as the one character they encode; every other one
  is stored as U+FFFD (the replacement character), with a warning in the log, and
  ``_fivetran_id`` hashes the text as stored (:mod:`~headwater.values.surrogates`). Replaced
  rather than refused: the text is checked when a batch is typed, not on the per-row path.

Modules, one concern each:

* :mod:`~headwater.values.kinds` — value kinds (TYPES-20), :class:`JsonText`, subclass unwrapping;
* :mod:`~headwater.values.messages` — the parts of ERR-OP-4/5/11 messages;
* :mod:`~headwater.values.jsontext` — JSON text (TYPES-40);
* :mod:`~headwater.values.numeric` — ranges, 32-bit floats, exact decimal helpers;
* :mod:`~headwater.values.normalize` — undeclared values: canonical form and inference;
* :mod:`~headwater.values.text` — text forms (TYPES-30);
* :mod:`~headwater.values.surrogates` — text UTF-8 cannot encode (lone surrogates);
* :mod:`~headwater.values.temporal` — temporal strings (TYPES-39);
* :mod:`~headwater.values.builders` — per declared type, the converter of each value kind;
* :mod:`~headwater.values.convert` — :func:`converter` and :func:`coerce`;
* :mod:`~headwater.values.widen` — stored values of a widened column (TYPES-27);
* :mod:`~headwater.values.ids` — ``_fivetran_id`` (SEM-12).
"""

from __future__ import annotations

from headwater.values.convert import coerce, converter
from headwater.values.ids import fivetran_id, fivetran_ids
from headwater.values.jsontext import json_text
from headwater.values.kinds import Converter, JsonText
from headwater.values.normalize import infer, normalize
from headwater.values.numeric import MAX_PLAIN_DIGITS
from headwater.values.surrogates import has_lone_surrogates, scrub_texts
from headwater.values.temporal import parse_temporal
from headwater.values.text import text_form
from headwater.values.widen import convert_stored

__all__ = [
    "MAX_PLAIN_DIGITS",
    "Converter",
    "JsonText",
    "coerce",
    "convert_stored",
    "converter",
    "fivetran_id",
    "fivetran_ids",
    "has_lone_surrogates",
    "infer",
    "json_text",
    "normalize",
    "parse_temporal",
    "scrub_texts",
    "text_form",
]
