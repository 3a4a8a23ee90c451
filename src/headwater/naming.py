"""How source schema, table and column names become destination names (spec: naming.md).

Two conventions exist (NAME-2): ``FIVETRAN`` (the default) transforms every name by the seven steps
of NAME-10; ``SOURCE`` keeps names exactly as given (NAME-30). A :class:`Naming` is created once per
run and caches every name it resolves, because it is called for every key of every row.

    >>> naming = Naming(parse_convention("fivetran"))
    >>> naming.column("getHTTPResponseCode")
    'get_http_response_code'
    >>> naming.column("_bool"), naming.table("_bool")
    ('_bool', 'bool')
    >>> fivetran_name("Crème Brûlée")
    'creme_brulee'
    >>> Naming(SOURCE).column("Crème Brûlée")
    'Crème Brûlée'
    >>> is_system_column("_FIVETRAN_ID")
    True

How a destination quotes names and which names it treats as the same (case folding) is the
destination's business: see :class:`headwater.destinations.base.Capabilities`.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "FIVETRAN",
    "SOURCE",
    "SYSTEM_COLUMNS",
    "Naming",
    "fivetran_name",
    "is_system_column",
    "parse_convention",
]

FIVETRAN = "FIVETRAN"
SOURCE = "SOURCE"

_CONVENTIONS: dict[str, str] = {
    "FIVETRAN": FIVETRAN,
    "FIVETRAN_NAMING": FIVETRAN,
    "SOURCE": SOURCE,
    "SOURCE_NAMING": SOURCE,
}

SYSTEM_COLUMNS: frozenset[str] = frozenset({"_fivetran_synced", "_fivetran_deleted", "_fivetran_id"})

# NAME-10 step 1: letters that NFKD does not decompose into ASCII, replaced after the combining
# marks are gone (so e.g. "ǿ" -> "ø" + U+0301 -> "ø" -> "o").
_TRANSLITERATION = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ł": "l",
        "Ł": "L",
        "ı": "i",
    }
)

# NAME-10 steps 2 and 4 in one pass: every run of characters that are not ASCII letters or digits
# (including runs of "_") becomes a single "_". This equals "replace, then collapse after step 3"
# because step 3 only inserts "_" between two ASCII letters/digits, so it never creates "__" and
# its conditions never look at a "_".
_NOT_ALNUM_RUN = re.compile(r"[^A-Za-z0-9]+")

# NAME-10 step 3: (a) lower-case letter or digit, then upper-case letter; (b) upper-case letter,
# then an upper-case letter that is followed by a lower-case letter. Zero-width, so both rules are
# applied to the same string at once (they never overlap, so order does not matter either).
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


def parse_convention(value: str) -> str:
    """Return :data:`FIVETRAN` or :data:`SOURCE` for a ``--naming`` value.

    Accepted, case-insensitively and ignoring surrounding whitespace: ``FIVETRAN``, ``SOURCE``,
    ``FIVETRAN_NAMING``, ``SOURCE_NAMING``. Anything else raises :class:`ValueError`.

    >>> parse_convention(" source_naming ")
    'SOURCE'
    """
    convention = _CONVENTIONS.get(value.strip().upper())
    if convention is None:
        raise ValueError(
            f"unknown naming convention {value!r}; expected {FIVETRAN} or {SOURCE} "
            "(case-insensitive, optionally suffixed with _NAMING)"
        )
    return convention


def _transliterate(name: str) -> str:
    """NAME-10 step 1: NFKD, drop combining marks (category Mn), replace the listed letters."""
    decomposed = unicodedata.normalize("NFKD", name)
    if not decomposed.isascii():
        category = unicodedata.category
        decomposed = "".join(c for c in decomposed if c.isascii() or category(c) != "Mn")
    return decomposed.translate(_TRANSLITERATION)


def fivetran_name(name: str, *, table: bool = False) -> str:
    """Return the FIVETRAN name of ``name`` by NAME-10 steps 1 to 6, plus step 7 if ``table``.

    Use ``table=True`` for table and schema names (NAME-12); column names keep a leading ``_``.
    The result only contains ``[a-z0-9_]``, has no ``__``, never starts with a digit and is never
    empty: a name made only of combining marks, which step 1 removes entirely, becomes ``_`` like
    any other name without ASCII letters or digits (headwater decision; the spec is silent).

    >>> fivetran_name("3DModel")
    '_3_d_model'
    >>> fivetran_name("$price"), fivetran_name("$price", table=True)
    ('_price', 'price')
    """
    if not name.isascii():
        name = _transliterate(name)
    result = _NOT_ALNUM_RUN.sub("_", name)
    result = _CAMEL_BOUNDARY.sub("_", result).lower()
    if not result:
        return "_"
    if result[0] in _DIGITS:
        return "_" + result
    if table and len(result) > 1 and result[0] == "_" and result[1] in _LOWER:
        return result[1:]
    return result


class Naming:
    """Resolve source names to destination names under one convention, for one run.

    Results are cached in dicts, so resolving a name seen before costs one dict lookup. Under
    ``SOURCE`` every method returns its argument unchanged. ``convention`` is read-only so the
    caches can never go stale.

    >>> Naming().table("__private"), Naming().schema("__private"), Naming().column("__private")
    ('private', 'private', '_private')
    """

    __slots__ = ("_columns", "_convention", "_tables", "_transform")

    def __init__(self, convention: str = FIVETRAN) -> None:
        """Create a resolver; ``convention`` is anything :func:`parse_convention` accepts."""
        self._convention = parse_convention(convention)
        self._transform = self._convention == FIVETRAN
        self._columns: dict[str, str] = {}
        self._tables: dict[str, str] = {}

    @property
    def convention(self) -> str:
        """:data:`FIVETRAN` or :data:`SOURCE`."""
        return self._convention

    def __repr__(self) -> str:
        return f"Naming({self._convention!r})"

    def column(self, name: str) -> str:
        """Destination name of a column (NAME-10 column rule, or unchanged under SOURCE)."""
        if not self._transform:
            return name
        resolved = self._columns.get(name)
        if resolved is None:
            resolved = self._columns[name] = fivetran_name(name)
        return resolved

    def table(self, name: str) -> str:
        """Destination name of a table (NAME-10 table rule, or unchanged under SOURCE)."""
        if not self._transform:
            return name
        resolved = self._tables.get(name)
        if resolved is None:
            resolved = self._tables[name] = fivetran_name(name, table=True)
        return resolved

    def schema(self, name: str) -> str:
        """Destination name of a schema: the same rule as tables (NAME-12)."""
        return self.table(name)


def is_system_column(dest_name: str) -> bool:
    """Whether a destination name is a system column name, compared case-insensitively (NAME-23).

    >>> is_system_column("_Fivetran_Synced"), is_system_column("fivetran_synced")
    (True, False)
    """
    return dest_name.lower() in SYSTEM_COLUMNS
