"""What ``headwater run`` keeps in the destination: each connection's state, lock and sync history.

Everything lives in a bookkeeping schema of its own (``_headwater`` by default, SEM-4), never among
the connector's tables:

* ``state``: the last :data:`KEEP_STATES` saved states of each connection, one row per checkpoint,
  written **in the checkpoint's own transaction** (:class:`TransactionalStateStore`), so data and
  state commit together and a worker can die at any moment;
* ``runs``: one row per sync: start, end, status, counts per operation, rows per table, checkpoints,
  error.

A destination that supports ``headwater run`` offers :class:`SqlExecutor` (statements inside the
open commit interval, and statements committed at once outside it) and a :class:`Dialect`;
:class:`Bookkeeper` does the rest in portable SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["KEEP_STATES", "Bookkeeper", "Dialect", "RunRecord", "SqlExecutor", "StateRecord",
           "TransactionalStateStore"]

#: States kept per connection (``headwater state rewind`` goes back among these).
KEEP_STATES = 20
DEFAULT_BOOKKEEPING_SCHEMA = "_headwater"


class SqlExecutor(Protocol):
    def execute_in_transaction(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement in the open commit interval's transaction."""

    def execute_now(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement outside any commit interval, committed at once."""


@dataclass(frozen=True)
class Dialect:
    """The few things bookkeeping SQL differs in between destinations."""

    param: str                     # "?" or "%s"
    quote: Callable[[str], str]
    catalog: str = ""              # prefix that qualifies a schema name (DuckDB: the database, quoted, and ".")
    #: SQL telling whether a schema exists, with one parameter: its name (CREATE SCHEMA IF NOT EXISTS
    #: needs a privilege even when the schema exists, in PostgreSQL).
    schema_exists: str = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?"
    text: str = "VARCHAR"
    bigint: str = "BIGINT"
    timestamp: str = "TIMESTAMP WITH TIME ZONE"


@dataclass(frozen=True)
class StateRecord:
    sequence: int
    state: str
    saved_at: dt.datetime
    run_id: int | None


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    started: dt.datetime
    ended: dt.datetime | None
    status: str                    # running, succeeded, failed
    counts: dict[str, int]
    tables: dict[str, int]
    checkpoints: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started": self.started.isoformat(),
                "ended": self.ended.isoformat() if self.ended else None, "status": self.status,
                "counts": self.counts, "tables": self.tables, "checkpoints": self.checkpoints, "error": self.error}


COUNTS = ("upserts", "updates", "deletes", "truncates", "schema_changes", "checkpoints")


class Bookkeeper:
    """State and history of one connection, in the destination's bookkeeping schema."""

    def __init__(self, executor: SqlExecutor, dialect: Dialect, connection: str,
                 schema: str = DEFAULT_BOOKKEEPING_SCHEMA, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.executor = executor
        self.dialect = dialect
        self.connection = connection
        self.schema = schema
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        q = dialect.quote
        self._schema = f"{dialect.catalog}{q(schema)}"
        self._state = f"{self._schema}.{q('state')}"
        self._runs = f"{self._schema}.{q('runs')}"
        self.run_id: int | None = None

    def _sql(self, text: str) -> str:
        """Placeholders in the destination's style (names are quoted by the dialect and never hold "?")."""
        return text.replace("%", "%%").replace("?", self.dialect.param) if self.dialect.param != "?" else text

    def setup(self) -> None:
        """Create the bookkeeping schema and tables if missing (committed at once)."""
        d = self.dialect
        now = self.executor.execute_now
        found = now(self._sql(d.schema_exists), [self.schema])
        if not (found and found[0][0]):
            now(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
        now(f"CREATE TABLE IF NOT EXISTS {self._state} (connection {d.text} NOT NULL, sequence {d.bigint} NOT NULL, "
            f"state {d.text} NOT NULL, saved_at {d.timestamp} NOT NULL, run_id {d.bigint}, "
            "PRIMARY KEY (connection, sequence))")
        counts = ", ".join(f"{name} {d.bigint}" for name in COUNTS if name != "checkpoints")
        now(f"CREATE TABLE IF NOT EXISTS {self._runs} (connection {d.text} NOT NULL, run_id {d.bigint} NOT NULL, "
            f"started {d.timestamp} NOT NULL, ended {d.timestamp}, status {d.text} NOT NULL, {counts}, "
            f"checkpoints {d.bigint}, tables {d.text}, error {d.text}, PRIMARY KEY (connection, run_id))")

    # -- state --------------------------------------------------------------------------------------

    def latest_state(self) -> StateRecord | None:
        rows = self.executor.execute_now(self._sql(
            f"SELECT sequence, state, saved_at, run_id FROM {self._state} WHERE connection = ? "
            "ORDER BY sequence DESC LIMIT 1"), [self.connection])
        return StateRecord(*rows[0]) if rows else None

    def states(self, limit: int = KEEP_STATES) -> list[StateRecord]:
        rows = self.executor.execute_now(self._sql(
            f"SELECT sequence, state, saved_at, run_id FROM {self._state} WHERE connection = ? "
            "ORDER BY sequence DESC LIMIT ?"), [self.connection, limit])
        return [StateRecord(*row) for row in rows]

    def _write_state(self, text: str, execute: Callable[..., list[tuple[Any, ...]]]) -> None:
        rows = execute(self._sql(f"SELECT max(sequence) FROM {self._state} WHERE connection = ?"), [self.connection])
        sequence = (rows[0][0] or 0) + 1 if rows else 1
        execute(self._sql(f"INSERT INTO {self._state} (connection, sequence, state, saved_at, run_id) "
                          "VALUES (?, ?, ?, ?, ?)"), [self.connection, sequence, text, self._clock(), self.run_id])
        execute(self._sql(f"DELETE FROM {self._state} WHERE connection = ? AND sequence <= ?"),
                [self.connection, sequence - KEEP_STATES])

    def set_state(self, text: str) -> None:
        """Replace the current state (a new entry, so the old one can be rewound to)."""
        self._write_state(text, self.executor.execute_now)

    def state_store(self) -> TransactionalStateStore:
        return TransactionalStateStore(self)

    # -- history ---------------------------------------------------------------------------------------

    def begin_run(self) -> int:
        rows = self.executor.execute_now(self._sql(f"SELECT max(run_id) FROM {self._runs} WHERE connection = ?"),
                                         [self.connection])
        self.run_id = (rows[0][0] or 0) + 1 if rows else 1
        self.executor.execute_now(self._sql(
            f"INSERT INTO {self._runs} (connection, run_id, started, status) VALUES (?, ?, ?, 'running')"),
            [self.connection, self.run_id, self._clock()])
        return self.run_id

    def end_run(self, *, succeeded: bool, counters: Any, tables: dict[str, int], error: str | None) -> None:
        if self.run_id is None:
            return
        values = [int(getattr(counters, name, 0) or 0) if counters is not None else 0 for name in COUNTS]
        sets = ", ".join(f"{name} = ?" for name in COUNTS)
        self.executor.execute_now(self._sql(
            f"UPDATE {self._runs} SET ended = ?, status = ?, {sets}, tables = ?, error = ? "
            "WHERE connection = ? AND run_id = ?"),
            [self._clock(), "succeeded" if succeeded else "failed", *values, json.dumps(tables), error,
             self.connection, self.run_id])

    def history(self, limit: int = 20) -> list[RunRecord]:
        columns = ", ".join(COUNTS)
        rows = self.executor.execute_now(self._sql(
            f"SELECT run_id, started, ended, status, {columns}, tables, error FROM {self._runs} "
            "WHERE connection = ? ORDER BY run_id DESC LIMIT ?"), [self.connection, limit])
        out = []
        for row in rows:
            counts = {name: int(value or 0) for name, value in zip(COUNTS, row[4:10])}
            checkpoints = counts.pop("checkpoints")
            out.append(RunRecord(row[0], row[1], row[2], row[3], counts, json.loads(row[10] or "{}"), checkpoints,
                                 row[11]))
        return out


class TransactionalStateStore:
    """A :class:`~headwater.statestore.StateStore` that writes each checkpoint's state into the
    destination's open transaction: the commit makes data and state durable together."""

    def __init__(self, bookkeeper: Bookkeeper) -> None:
        self.bookkeeper = bookkeeper

    def load(self) -> str | None:
        record = self.bookkeeper.latest_state()
        return record.state if record is not None else None

    def stage(self, text: str) -> None:
        self.bookkeeper._write_state(text, self.bookkeeper.executor.execute_in_transaction)

    def save(self, text: str) -> None:
        """Nothing left to do: the state was committed with the data."""

    def discard(self) -> None:
        """Nothing to do: a rollback of the destination discards the staged state with the data."""

    def close(self) -> None:
        pass
