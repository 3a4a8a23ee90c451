"""The toy in-memory destination (tests/destinations/memory.py), written from docs/destinations.md alone,
is a complete Destination: headwater.sync runs connectors into it through the public API.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import headwater
from destinations.memory import ContractViolation, MemoryDatabase, MemoryDestination, MemoryStateStore, widen_value
from headwater import Operations as op
from headwater.batch import Batch
from headwater.connector import Connector
from headwater.destinations.base import Destination, TableDescription, TableRef
from headwater.errors import DestinationLocked, DestinationUnavailable
from headwater.events import CheckpointCommitted, SchemaChanged, SyncFailed, SyncFinished, SyncStarted, TableCreated
from headwater.statestore import StateStore
from headwater.types import BINARY, DOUBLE, FLOAT, INT, JSON, LONG, NAIVE_DATE, NAIVE_DATETIME, STRING, UTC_DATETIME
from headwater.types import decimal as decimal_type

UTC = dt.timezone.utc


def test_memory_destination_satisfies_the_destination_protocol() -> None:
    destination = MemoryDestination()
    assert isinstance(destination, Destination)
    # StateStore is a Protocol without @runtime_checkable: check its methods one by one.
    store = MemoryStateStore()
    assert all(callable(getattr(store, name, None)) for name in ("load", "stage", "save", "discard", "close"))
    assert {"load", "stage", "save", "discard", "close"} <= set(dir(StateStore))
    capabilities = destination.capabilities
    assert (capabilities.name, capabilities.default_schema, capabilities.transactional_ddl) == ("memory", "tester",
                                                                                               True)
    assert capabilities.fold("AbC") == "abc" and capabilities.fold("Äb") == "Äb"


def sync(project: Path, update: Any, destination: MemoryDestination, store: MemoryStateStore,
         schema: Any = None, events: list[Any] | None = None) -> headwater.SyncResult:
    """One ``headwater.sync`` into the toy destination, which is closed afterwards: the sync opens a
    destination it is given, closing it is the caller's."""
    try:
        return headwater.sync(project, connector=Connector(update=update, schema=schema), destination=destination,
                              state_store=store, on_event=events.append if events is not None else None, environ={})
    finally:
        destination.close()


def table(database: MemoryDatabase, name: str, schema: str = "tester") -> list[dict[str, Any]]:
    """Rows as dicts without _fivetran_synced, sorted by the first column."""
    stored = database.table(schema, name)
    assert stored is not None, f"no table {name}"
    names = [n for n, _ in stored.columns]
    found = [{n: v for n, v in zip(names, row) if n != "_fivetran_synced"} for row in stored.ordered()]
    return sorted(found, key=lambda r: repr(next(iter(r.values()))))


def test_headwater_sync_writes_every_kind_of_operation_into_the_memory_destination(tmp_path: Path) -> None:
    database = MemoryDatabase()
    destination, store = MemoryDestination(database), MemoryStateStore(database)

    def schema(configuration: Any) -> Any:
        return [{"table": "users", "primary_key": ["id"], "columns": {"balance": {"type": "DECIMAL", "precision": 10,
                                                                                   "scale": 2}}},
                {"table": "events", "primary_key": ["id"]}]

    def first(configuration: Any, state: Any) -> None:
        assert state == {}
        op.upsert("users", {"id": 1, "name": "ann", "balance": "1.5"})
        op.upsert("users", {"id": 2, "name": "bob", "balance": 2})
        op.upsert("users", {"id": 3, "name": "cy"})
        op.upsert("events", {"id": 1, "at": dt.datetime(2024, 1, 1, 12, tzinfo=UTC)})
        op.upsert("log", {"line": "hello"})  # keyless
        op.checkpoint({"cursor": 1})
        op.update("users", {"id": 2, "name": "bobby", "score": 7})   # adds a column
        op.delete("users", {"id": 3})
        op.upsert("users", {"id": 4, "name": 4.5})                    # name: STRING stays STRING
        op.upsert("events", {"id": 2, "at": dt.date(2024, 2, 1)})
        op.truncate("events")
        op.upsert("events", {"id": 3, "at": dt.datetime(2024, 3, 1, tzinfo=UTC)})
        op.checkpoint({"cursor": 2})

    events: list[Any] = []
    result = sync(tmp_path, first, destination, store, schema, events)
    assert result.succeeded, result.error
    assert table(database, "users") == [
        {"id": 1, "name": "ann", "balance": Decimal("1.50"), "_fivetran_deleted": False, "score": None},
        {"id": 2, "name": "bobby", "balance": Decimal("2.00"), "_fivetran_deleted": False, "score": 7},
        {"id": 3, "name": "cy", "balance": None, "_fivetran_deleted": True, "score": None},
        {"id": 4, "name": "4.5", "balance": None, "_fivetran_deleted": False, "score": None},
    ]
    assert [(r["id"], r["_fivetran_deleted"]) for r in table(database, "events")] == [(1, True), (2, True), (3, False)]
    (log,) = table(database, "log")
    assert log["line"] == "hello" and len(log["_fivetran_id"]) == 64
    assert [c for c, _ in database.table("tester", "log").columns] == [  # type: ignore[union-attr]
        "line", "_fivetran_id", "_fivetran_synced", "_fivetran_deleted"]
    assert dict(database.table("tester", "users").columns)["score"] == INT  # type: ignore[union-attr]
    assert json.loads(store.saved or "") == {"cursor": 2}
    assert [json.loads(s) for s in store.history] == [{"cursor": 1}, {"cursor": 2}]

    kinds = [type(e) for e in events]
    assert kinds.count(SyncStarted) == 1 and kinds[-1] is SyncFinished
    started = next(e for e in events if isinstance(e, SyncStarted))
    assert started.destination == "memory"
    assert sorted(e.table for e in events if isinstance(e, TableCreated)) == ["events", "log", "users"]
    assert [(e.column, e.before, e.after) for e in events if isinstance(e, SchemaChanged)] == [("score", None, INT)]
    checkpoints = [e for e in events if isinstance(e, CheckpointCommitted)]
    assert [json.loads(e.state) for e in checkpoints][:2] == [{"cursor": 1}, {"cursor": 2}]
    assert result.counters.upserts == 8 and result.counters.truncates == 1

    # A second sync into the same destination sees the committed data and the saved state; its
    # failure after a checkpoint keeps exactly what that checkpoint committed.
    def second(configuration: Any, state: Any) -> None:
        assert state == {"cursor": 2}
        op.upsert("users", {"id": 5, "name": "eve"})
        op.checkpoint({"cursor": 3})
        op.upsert("users", {"id": 6, "name": "lost"})
        op.upsert("other", {"id": 1})
        raise RuntimeError("boom")

    events = []
    result = sync(tmp_path, second, destination, store, events=events)
    assert not result.succeeded and "boom" in (result.error or "")
    assert [r["id"] for r in table(database, "users")] == [1, 2, 3, 4, 5]
    assert database.table("tester", "other") is None
    assert json.loads(store.saved or "") == {"cursor": 3}
    assert isinstance(events[-1], SyncFailed)
    assert destination.calls[-2:] == ["rollback", "close"]


def test_a_failed_first_sync_leaves_no_database_behind(tmp_path: Path) -> None:
    database = MemoryDatabase()

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1})
        raise RuntimeError("before any checkpoint")

    result = sync(tmp_path, update, MemoryDestination(database), MemoryStateStore(database))
    assert not result.succeeded
    assert not database.exists and database.tables == {}


def test_a_destination_error_fails_the_sync_with_its_message_and_keeps_the_last_commit_point(tmp_path: Path) -> None:
    database = MemoryDatabase()
    destination, store = MemoryDestination(database), MemoryStateStore(database)

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1})
        op.checkpoint({"n": 1})
        destination.fail_on["commit"] = DestinationUnavailable("the memory server went away; run the sync again")
        op.upsert("t", {"id": 2})
        op.checkpoint({"n": 2})

    result = sync(tmp_path, update, destination, store)
    assert not result.succeeded and result.exit_code == 1
    assert result.retryable
    assert "memory server went away" in (result.error or "")
    assert [r["id"] for r in table(database, "t")] == [1]
    assert json.loads(store.saved or "") == {"n": 1}


def test_a_database_open_in_another_sync_is_locked(tmp_path: Path) -> None:
    database = MemoryDatabase()
    holder = MemoryDestination(database)
    holder.open()
    result = sync(tmp_path, lambda configuration, state: None, MemoryDestination(database), MemoryStateStore())
    assert not result.succeeded and result.retryable
    assert "open in another sync" in (result.error or "")
    with pytest.raises(DestinationLocked):
        MemoryDestination(database).open()
    holder.close()
    free = MemoryDestination(database)
    free.open()  # free again
    free.close()


def test_writes_are_invisible_until_commit_and_rollback_restores_the_committed_tables() -> None:
    database = MemoryDatabase()
    destination = MemoryDestination(database)
    destination.open()
    ref = TableRef("tester", "t", ("id",))
    destination.create_table(TableDescription(ref, [("id", INT), ("v", STRING)]))
    synced = dt.datetime(2024, 1, 1, tzinfo=UTC)
    destination.upsert(ref, Batch(["id", "v"], [INT, STRING], [[1, 2], ["a", "b"]]), synced=synced)
    assert database.tables == {}
    destination.commit()
    assert [info.name for info in destination.tables()] == ["t"]
    destination.add_column(ref, "w", DOUBLE)
    destination.truncate(ref, synced=synced + dt.timedelta(seconds=1))
    stored = database.table("tester", "t")
    assert stored is not None and [c for c, _ in stored.columns] == ["id", "v", "_fivetran_synced",
                                                                     "_fivetran_deleted"]
    assert [r[3] for r in stored.ordered()] == [False, False]  # the truncate is not visible yet
    destination.rollback()
    destination.commit()  # nothing written since: does nothing
    stored = database.table("tester", "t")
    assert stored is not None and [r[3] for r in stored.ordered()] == [False, False]
    with pytest.raises(ContractViolation):
        destination.upsert(ref, Batch(["id"], [INT], [[1]]), synced=synced, new_keys=True)
    destination.close()


@pytest.mark.parametrize(("value", "source", "target", "expected"), [
    (7, INT, LONG, 7),
    (7, INT, decimal_type(11, 1), Decimal("7.0")),
    (Decimal("1.25"), decimal_type(3, 2), DOUBLE, 1.25),
    (10.399999618530273, FLOAT, DOUBLE, 10.399999618530273),
    (10.399999618530273, FLOAT, STRING, "10.4"),
    (float("-inf"), DOUBLE, STRING, "-Infinity"),
    (Decimal("0.05"), decimal_type(3, 2), STRING, "0.05"),
    (dt.date(2024, 1, 2), NAIVE_DATE, NAIVE_DATETIME, dt.datetime(2024, 1, 2)),
    (dt.datetime(2024, 1, 2, 3), NAIVE_DATETIME, UTC_DATETIME, dt.datetime(2024, 1, 2, 3, tzinfo=UTC)),
    (dt.datetime(2024, 1, 2, 3, tzinfo=UTC), UTC_DATETIME, STRING, "2024-01-02T03:00:00Z"),
    (b"\x00\x01\x02\x03", BINARY, STRING, "AAECAw=="),
    ('{"a":1}', JSON, STRING, '{"a":1}'),
    (True, headwater.types.BOOLEAN, STRING, "true"),
])
def test_widening_converts_stored_values_as_the_doc_table_says(value: Any, source: Any, target: Any,
                                                               expected: Any) -> None:
    assert widen_value(value, source, target) == expected


# ---------------------------------------------------------------------------------------------
# Where the engine and docs/destinations.md had parted: the doc now says that DOUBLE and DECIMAL(p,0)
# columns may receive Python ints (converted exactly by the destination, as Arrow does), and the engine
# reads a stored XML column as STRING (SEM-43).


def two_syncs(tmp_path: Path, first: Any, later: Any, **options: Any) -> tuple[MemoryDestination, Any]:
    """Sync ``{"id": 0, "v": first}``, then ``{"id": 1, "v": later}`` in a second sync, into one database."""
    database = MemoryDatabase()
    destination = MemoryDestination(database, **options)

    def schema(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["id"]}]

    results = []
    for key, value in enumerate((first, later)):
        def update(configuration: Any, state: Any, key: int = key, value: Any = value) -> None:
            op.upsert("t", {"id": key, "v": value})

        results.append(sync(tmp_path, update, destination, MemoryStateStore(database), schema))
    return destination, results


def test_a_column_read_back_as_xml_takes_other_values_as_text_without_a_schema_change(tmp_path: Path) -> None:
    database = MemoryDatabase()
    destination = MemoryDestination(database, xml_as_string=False)

    def declared(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["id"], "columns": {"v": "XML"}}]

    def undeclared(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["id"]}]

    first = sync(tmp_path, lambda configuration, state: op.upsert("t", {"id": 0, "v": "<a/>"}), destination,
                 MemoryStateStore(), declared)
    assert first.succeeded, first.error
    destination.calls.clear()
    later = sync(tmp_path, lambda configuration, state: op.upsert("t", {"id": 1, "v": 5}), destination,
                 MemoryStateStore(), undeclared)
    assert later.succeeded, later.error
    assert [v for _, v in table(database, "t")[0].items()][:2] == [0, "<a/>"]
    assert "widen_column" not in destination.calls
    assert later.counters.schema_changes == 0  # as with DuckDB, whose XML column reads back as STRING


def test_ints_in_double_and_decimal_columns_are_accepted_as_the_doc_says(tmp_path: Path) -> None:
    destination, (first, later) = two_syncs(tmp_path, 0.5, 7)
    assert first.succeeded and later.succeeded
    assert destination.tolerated == {"int in a DOUBLE column": 1}
    (tmp_path / "huge").mkdir()
    destination, (first, later) = two_syncs(tmp_path / "huge", 2**70, 1)
    assert first.succeeded and later.succeeded
    assert destination.tolerated == {"int in a DECIMAL column": 2}
    stored = destination.database.table("tester", "t")
    assert stored is not None and [row[1] for row in stored.ordered()] == [Decimal(2**70), Decimal(1)]
