"""The destination interface: what the engine asks of a place that stores synced tables.

The engine (:mod:`headwater.engine`) decides *what* happens to each table, in the spec's terms
(data types, names, primary keys, system columns, operation semantics). A destination decides *how*:
its SQL dialect, type names, identifier quoting and folding, transactions and bulk paths. The
engine speaks to it only through :class:`Destination`; a destination imports nothing from
``headwater.engine``. docs/destinations.md walks through writing one.

Terms used below:

* A *table reference* (:class:`TableRef`): schema, table name and primary key, spelled as the
  destination stores them. An empty primary key means a keyless table, whose rows are identified by
  the system column ``_fivetran_id`` (SEM-12).
* *System columns* (SEM-10): ``_fivetran_synced`` (UTC timestamp of the last write of the row),
  ``_fivetran_deleted`` (soft-delete flag) and, in keyless tables, ``_fivetran_id`` (STRING).
  The engine never lists them in a batch's data columns except ``_fivetran_id``; the destination adds
  ``_fivetran_synced = synced`` and the deleted flag to every row it writes.
* A *commit interval*: everything between two commit points. All writes of one interval are one
  transaction: invisible to readers until :meth:`Destination.commit`, discarded by
  :meth:`Destination.rollback`. The first write of an interval opens it; there is no ``begin``.
* A *batch* (:class:`headwater.batch.Batch`): typed columns of equal length.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from headwater.batch import Batch
from headwater.types import DataType

__all__ = [
    "Capabilities",
    "Destination",
    "KeyBatch",
    "TableDescription",
    "TableInfo",
    "TableRef",
    "UpdateBatch",
    "fold_ascii",
    "fold_none",
]

SYNCED = "_fivetran_synced"
DELETED = "_fivetran_deleted"
FIVETRAN_ID = "_fivetran_id"

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_ascii(name: str) -> str:
    """Identifiers equal when their ASCII letters are lower-cased (``AB`` = ``ab``, ``Äb`` != ``äb``)."""
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def fold_none(name: str) -> str:
    """Identifiers equal only when spelled identically (quoted identifiers in PostgreSQL)."""
    return name


@dataclass(frozen=True)
class Capabilities:
    """What a destination can do and how it treats names; the engine consults these instead of assuming.

    Attributes:
        name: a short name for messages (``"duckdb"``).
        default_schema: the schema of tables a connector names without ``schema=`` (``tester`` for
            ``headwater debug``).
        fold: how the destination compares identifiers. Two destination names with the same fold are
            the same column (or table), so the engine refuses a row that names both (ERR-OP-8) and
            finds stored tables and columns by it. A stricter fold than the destination's own is safe;
            a looser one is not.
        max_identifier_length: the longest schema, table or column name the destination stores
            (in UTF-8 bytes), or None for no limit. Longer names are refused with the spec's error
            before anything is written.
        reserved_schemas: schema names (folded) that belong to the destination itself
            (``information_schema``...): a connector cannot write there.
        transactional_ddl: CREATE/ALTER TABLE take part in the commit interval's transaction and are
            rolled back with it. The engine requires it: a failed sync must leave the tables exactly as
            at the last commit point (SEM-54).
        merge: an upsert of keys that may already exist costs the destination one statement
            (``MERGE`` / ``ON CONFLICT``). When False the engine tracks which key ranges are stored
            and tells :meth:`Destination.upsert` when no stored row can match (``new_keys=True``), so
            the destination can append without looking for rows to replace.
    """

    name: str
    default_schema: str
    fold: Callable[[str], str] = fold_ascii
    max_identifier_length: int | None = None
    reserved_schemas: frozenset[str] = frozenset()
    transactional_ddl: bool = True
    merge: bool = False


@dataclass(frozen=True)
class TableRef:
    """A table as the destination stores it."""

    schema: str
    name: str
    primary_key: tuple[str, ...] = ()

    @property
    def keyed(self) -> bool:
        return bool(self.primary_key)


@dataclass(frozen=True)
class TableInfo:
    """A table that exists in the destination: its columns (system columns left out) and primary key."""

    schema: str
    name: str
    columns: list[tuple[str, DataType]]   # in table order, without system columns
    primary_key: tuple[str, ...]

    @property
    def ref(self) -> TableRef:
        return TableRef(self.schema, self.name, self.primary_key)


@dataclass(frozen=True)
class TableDescription:
    """A table to create: ``columns`` come before the system columns, ``appended`` after them (SEM-41).

    A keyless table (empty ``primary_key``) also gets ``_fivetran_id`` STRING, before
    ``_fivetran_synced``. The primary key must be kept so that :meth:`Destination.tables` can give it
    back in a later sync (a PRIMARY KEY constraint, a comment, a bookkeeping table: the
    destination's choice).
    """

    ref: TableRef
    columns: list[tuple[str, DataType]]
    appended: list[tuple[str, DataType]] = field(default_factory=list)


@dataclass
class KeyBatch:
    """Keys to find stored rows by: one list of values per key column.

    ``chains[i]`` says how to compare key column ``names[i]``: its first element is the stored
    column's type; when the chain is longer, the stored value is converted along it step by step
    (each step as :meth:`Destination.widen_column` converts, TYPES-27/TYPES-30) and compared with the
    given value, which already has the chain's last type (TYPES-29: a key of another type is
    compared in the joined type, and the key column itself is not widened).
    """

    names: list[str]
    chains: list[list[DataType]]
    values: list[list[Any]]

    def __len__(self) -> int:
        return len(self.values[0]) if self.values else 0


@dataclass
class UpdateBatch:
    """Columns to set on stored rows found by ``keys`` (SEM-22).

    ``columns`` holds the new values; ``presence[i]`` is None when column i is set in every row, or
    one bool per row saying whether that row sets it (a row that does not keeps the stored value).
    ``repeated``: some key occurs more than once; then, per column, the last row (in batch order) that
    sets it wins. ``deleted``: None, or per row True to also set ``_fivetran_deleted`` (None/False:
    keep it).
    """

    keys: KeyBatch
    columns: Batch
    presence: list[list[bool] | None]
    repeated: bool = False
    deleted: list[bool | None] | None = None


@runtime_checkable
class Destination(Protocol):
    """Where a sync's tables go. One instance serves one sync, from one thread at a time.

    Errors: raise :class:`headwater.errors.DestinationError` subclasses for everything the
    environment can cause (unreachable server, disk full, no permission, lock held, out of memory),
    with a message naming the file or server and the fix; mark transient ones ``retryable``. Any other
    exception is treated as a bug in headwater or the destination (exit status 70).
    """

    capabilities: Capabilities

    # -- lifecycle ----------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect (or check that an existing store opens), before the connector runs."""

    def close(self) -> None:
        """End the sync: roll back anything not committed, release connections and locks.

        If the destination created its store for this sync (a new database file) and nothing was ever
        committed, it removes what it created, so a failed first sync leaves no trace (SEM-54).
        """

    def commit(self) -> None:
        """Make every write since the last commit durable and visible, all at once (a commit point)."""

    def rollback(self) -> None:
        """Discard every write since the last commit (a failed sync, SEM-54)."""

    # -- reading back -------------------------------------------------------------------------------

    def tables(self) -> list[TableInfo]:
        """The tables that exist (committed) when the sync starts, with their stored columns and keys."""

    def key_range(self, table: TableRef, column: str) -> tuple[Any, Any] | None:
        """(min, max) of a stored column over all rows, including uncommitted ones; None if no rows.

        Only asked for integer and text key columns, and only when ``capabilities.merge`` is False.
        """

    def existing_keys(self, table: TableRef, keys: KeyBatch) -> list[int]:
        """The positions (ascending) of the keys that name a stored row, uncommitted writes included."""

    # -- schema ---------------------------------------------------------------------------------------

    def create_table(self, description: TableDescription) -> None:
        """Create the table (and its schema if needed) in the open transaction."""

    def add_column(self, table: TableRef, name: str, dtype: DataType) -> None:
        """Append a nullable column after the existing ones (SEM-40)."""

    def widen_column(self, table: TableRef, name: str, source: DataType, target: DataType) -> None:
        """Change a column from ``source`` to the wider ``target``, converting stored values (TYPES-27).

        Numbers widen exactly; anything becoming STRING takes its text form (TYPES-30): booleans
        ``true``/``false``, floats as the shortest repr with ``NaN``/``Infinity``/``-Infinity``,
        decimals in plain notation with their scale, dates ``YYYY-MM-DD``, datetimes ISO 8601 with
        ``T`` (and ``Z`` for UTC), binary as base64.
        """

    # -- data ------------------------------------------------------------------------------------------

    def upsert(self, table: TableRef, batch: Batch, *, synced: dt.datetime, new_keys: bool = False,
               key_range: tuple[Any, Any] | None = None, deleted: list[bool] | None = None) -> None:
        """Insert the rows; a stored row with the same primary key is replaced as a whole (SEM-21).

        ``batch`` holds every column to write, the key columns included (``_fivetran_id`` for a
        keyless table); columns of the table that are not in the batch become NULL. Keys are distinct
        within the batch. ``new_keys``: no stored row can have one of these keys (append only).
        ``key_range``: (low, high) of the first key column over the batch, when known. ``deleted``:
        per row, the value of ``_fivetran_deleted`` (default: all False).
        """

    def update(self, table: TableRef, batch: UpdateBatch, *, synced: dt.datetime) -> int:
        """Set columns of the stored rows the keys name; keys naming no row change nothing (SEM-22).

        Sets ``_fivetran_synced`` on every row it changes. Returns the number of rows changed.
        """

    def soft_delete(self, table: TableRef, keys: KeyBatch, *, synced: dt.datetime) -> None:
        """Mark the rows with these keys deleted (SEM-24); missing keys do nothing; keys may repeat."""

    def truncate(self, table: TableRef, *, synced: dt.datetime, written_before: dt.datetime | None = None) -> None:
        """Soft-delete every live row (SEM-26); with ``written_before``, only live rows whose
        ``_fivetran_synced`` is earlier than it (a deferred truncate, SEM-27)."""
