"""What happens during a sync, as typed events: the one way to observe a sync.

:func:`headwater.sync` (and ``headwater debug`` on top of it) calls ``on_event(event)`` for each of
these, in order, on the thread that caused it. The CLI's log lines, the summary and the error line
are printed from them; ``headwater check``, :mod:`headwater.testing` and the AI gates read them.

Every event has a ``level`` and a ``message``: the log line ``headwater debug`` prints for it
(``message`` is empty for events it does not print).

    events = []
    result = headwater.sync("my_connector", on_event=events.append)
    [e.number for e in events if isinstance(e, CheckpointCommitted)]

A handler must not call back into the sync; an exception it raises fails the sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from headwater.log import Level

if TYPE_CHECKING:
    from pathlib import Path

    from headwater.result import SyncResult
    from headwater.types import DataType

__all__ = [
    "CheckpointCommitted",
    "Event",
    "EventHandler",
    "Message",
    "OperationAccepted",
    "SchemaChanged",
    "SyncFailed",
    "SyncFinished",
    "SyncStarted",
    "TableCreated",
    "Warning",
]


class Event:
    """Base class of every sync event. Events are plain values: compared and shown field by field.

    (Plain classes rather than dataclasses: these are imported by every ``headwater debug``, and
    creating a dozen dataclasses costs start-up time.)
    """

    __slots__ = ()

    @property
    def level(self) -> Level:
        return Level.INFO

    @property
    def message(self) -> str:
        return ""

    def _names(self) -> tuple[str, ...]:
        slots: tuple[str, ...] = type(self).__slots__
        return tuple(name for name in slots if name not in ("sync", "result"))

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._names())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *map(repr, self._fields())))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names())
        return f"{type(self).__name__}({shown})"


EventHandler = Callable[[Event], None]


class Message(Event):
    """A line of headwater's own log that no more specific event stands for ("calling update()")."""

    __slots__ = ("text", "severity")

    def __init__(self, text: str, severity: Level = Level.INFO) -> None:
        self.text = text
        self.severity = severity

    @property
    def level(self) -> Level:
        return self.severity

    @property
    def message(self) -> str:
        return self.text


class Warning(Event):  # noqa: A001 - the event's natural name; builtins.Warning is never needed here
    """Something the user should fix, the sync goes on (a system column name in the data, say)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @property
    def level(self) -> Level:
        return Level.WARNING

    @property
    def message(self) -> str:
        return self.text


class SyncStarted(Event):
    """The inputs are valid, the connector is loaded and the destination is open.

    ``sync``: the running sync, for live progress (``sync.progress()``: rows per table; ``sync.counters``).
    """

    __slots__ = ("project", "naming", "destination", "sync")

    def __init__(self, project: Path, naming: str, destination: str, sync: Any = None) -> None:
        self.project = project
        self.naming = naming
        self.destination = destination
        self.sync = sync

    @property
    def message(self) -> str:
        return f"starting sync of {self.project} ({self.naming} naming)"


class TableCreated(Event):
    """A table was created in the open transaction (visible at the next commit point).

    ``changes``: schema changes the creation counts for (SEM-70): 1, plus any widening its first batch needed.
    """

    __slots__ = ("table", "columns", "changes")

    def __init__(self, table: str, columns: int, changes: int = 1) -> None:
        self.table = table
        self.columns = columns
        self.changes = changes

    @property
    def message(self) -> str:
        return f"created table {self.table!r} ({self.columns} columns)"


class SchemaChanged(Event):
    """A column was added (``before`` is None) or widened, in the open transaction.

    ``changes``: schema changes it counts for (SEM-70): an added column first typed along a widening
    chain counts each step.
    """

    __slots__ = ("table", "column", "before", "after", "changes")

    def __init__(self, table: str, column: str, before: DataType | None, after: DataType, changes: int = 1) -> None:
        self.table = table
        self.column = column
        self.before = before
        self.after = after
        self.changes = changes

    @property
    def message(self) -> str:
        if self.before is None:
            return f"table {self.table!r}: added column {self.column!r} ({self.after})"
        return f"table {self.table!r}: changed column {self.column!r} from {self.before} to {self.after}"


class CheckpointCommitted(Event):
    """A commit point: the data since the previous one and ``state`` (its JSON text) are durable together.

    ``rows``: rows written since the previous commit point; ``operations``: upserts, updates and
    deletes accepted so far in this sync.
    """

    __slots__ = ("number", "state", "rows", "operations")

    def __init__(self, number: int, state: str, rows: int, operations: int) -> None:
        self.number = number
        self.state = state
        self.rows = rows
        self.operations = operations

    @property
    def message(self) -> str:
        return f"checkpoint {self.number} committed ({self.rows:,} rows since the previous one); state saved"


class OperationAccepted(Event):
    """One operation the sync accepted, in call order; sent only when the caller asks for them
    (``record_operations=True``), because it costs a copy of every row."""

    __slots__ = ("kind", "table", "data", "schema", "deferred")

    def __init__(self, kind: Literal["upsert", "update", "delete", "truncate"], table: Any,
                 data: dict[str, Any] | None, schema: Any = None, deferred: bool = False) -> None:
        self.kind = kind
        self.table = table
        self.data = data
        self.schema = schema
        self.deferred = deferred


class SyncFinished(Event):
    """The sync succeeded; its last commit point is done."""

    __slots__ = ("result",)

    def __init__(self, result: SyncResult) -> None:
        self.result = result

    @property
    def message(self) -> str:
        return self.result.finished_line()


class SyncFailed(Event):
    """The sync failed; everything since the last commit point was discarded.

    ``traceback``: the connector's traceback (headwater's frames left out, secrets masked) when the
    failure came from connector code; ``internal``: headwater's own traceback for an internal error.
    """

    __slots__ = ("result", "traceback", "internal")

    def __init__(self, result: SyncResult, traceback: str | None = None, internal: str | None = None) -> None:
        self.result = result
        self.traceback = traceback
        self.internal = internal

    @property
    def level(self) -> Level:
        return Level.SEVERE

    @property
    def message(self) -> str:
        return self.traceback or ""
