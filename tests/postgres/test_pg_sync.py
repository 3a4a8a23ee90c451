"""End-to-end syncs into PostgreSQL through the public API: ``headwater.sync(project, connector=...,
destination=PostgresDestination(dsn, ...), state_store=...)``, checked by reading the database back."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from pg_reader import Reader

import headwater
from headwater import Operations as op
from headwater.connector import Connector
from headwater.destinations.postgres import PostgresDestination
from headwater.events import CheckpointCommitted, SchemaChanged, SyncFailed, SyncStarted, TableCreated
from headwater.types import INT

UTC = dt.timezone.utc


class MemoryStateStore:
    """A StateStore in memory that checks its one rule: a state is saved only after the data commits."""

    def __init__(self, saved: str | None = None, reader: Reader | None = None) -> None:
        self.saved = saved
        self.staged: str | None = None
        self.history: list[str] = []
        self.reader = reader
        self.closed = False

    def load(self) -> str | None:
        return self.saved

    def stage(self, text: str) -> None:
        self.staged = text

    def save(self, text: str) -> None:
        self.saved = text
        self.staged = None
        self.history.append(text)

    def discard(self) -> None:
        self.staged = None

    def close(self) -> None:
        self.closed = True


def keyed(*tables: str) -> Any:
    """A schema() declaring primary key ``id`` for these tables."""
    return lambda configuration: [{"table": t, "primary_key": ["id"]} for t in tables]


def run(project: Path, dsn: str, update: Any, store: Any = None, schema: Any = None, *,
        naming: str | None = None, default_schema: str = "tester", events: list[Any] | None = None,
        destination: PostgresDestination | None = None, buffer_bytes: int | None = None) -> headwater.SyncResult:
    """One sync into PostgreSQL; the destination is closed afterwards (the caller's job, per headwater.sync)."""
    destination = destination or PostgresDestination(dsn, schema_default=default_schema)
    try:
        return headwater.sync(
            project,
            connector=Connector(update=update, schema=schema),
            destination=destination,
            state_store=store if store is not None else MemoryStateStore(),
            naming=naming,
            on_event=events.append if events is not None else None,
            buffer_bytes=buffer_bytes,
            environ={},
        )
    finally:
        destination.close()


def test_a_sync_writes_every_kind_of_operation(tmp_path: Path, pg_dsn: str, pg: Reader) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "users", "primary_key": ["id"],
                 "columns": {"balance": {"type": "DECIMAL", "precision": 10, "scale": 2}, "payload": "JSON",
                             "seen": "UTC_DATETIME"}},
                {"table": "events", "primary_key": ["id"]}]

    def update(configuration: Any, state: Any) -> None:
        assert state == {}
        op.upsert("users", {"id": 1, "name": "ann", "balance": "1.5", "payload": {"a": [1, 2]},
                            "seen": dt.datetime(2024, 1, 1, 12, tzinfo=UTC)})
        op.upsert("users", {"id": 2, "name": "bob", "balance": 2})
        op.upsert("users", {"id": 3, "name": "cy"})
        op.upsert("events", {"id": 1, "at": dt.datetime(2024, 1, 1, 12, tzinfo=UTC)})
        op.upsert("log", {"line": "hello"})  # keyless
        op.checkpoint({"cursor": 1})
        op.update("users", {"id": 2, "name": "bobby", "score": 7})   # adds a column
        op.update("users", {"id": 99, "name": "nobody"})              # names no row
        op.delete("users", {"id": 3})
        op.upsert("users", {"id": 4, "name": 4.5})                    # STRING stays STRING: "4.5"
        op.upsert("events", {"id": 2, "at": dt.date(2024, 2, 1)})
        op.truncate("events")
        op.upsert("events", {"id": 3, "at": dt.datetime(2024, 3, 1, tzinfo=UTC)})
        op.checkpoint({"cursor": 2})

    store = MemoryStateStore()
    events: list[Any] = []
    result = run(tmp_path, pg_dsn, update, store, schema, events=events)
    assert result.succeeded, result.error
    assert pg.rows("users", columns=["id", "name", "balance", "payload", "seen", "_fivetran_deleted", "score"]) == [
        (1, "ann", Decimal("1.50"), {"a": [1, 2]}, dt.datetime(2024, 1, 1, 12, tzinfo=UTC), False, None),
        (2, "bobby", Decimal("2.00"), None, None, False, 7),
        (3, "cy", None, None, None, True, None),
        (4, "4.5", None, None, None, False, None),
    ]
    assert pg.columns("users") == [
        ("id", "integer"), ("balance", "numeric(10,2)"), ("payload", "jsonb"), ("seen", "timestamp with time zone"),
        ("name", "text"), ("_fivetran_synced", "timestamp with time zone"),
        ("_fivetran_deleted", "boolean"), ("score", "integer")]
    assert pg.primary_key("users") == ["id"]
    assert pg.rows("events", columns=["id", "_fivetran_deleted"]) == [(1, True), (2, True), (3, False)]
    # events.at became UTC_DATETIME; the date of row 2 reads as midnight UTC.
    assert pg.one("SELECT at FROM tester.events WHERE id = 2") == dt.datetime(2024, 2, 1, tzinfo=UTC)
    ((line, fivetran_id, deleted),) = pg.rows("log")
    assert line == "hello" and len(fivetran_id) == 64 and deleted is False
    assert pg.primary_key("log") == ["_fivetran_id"]
    # Every write set _fivetran_synced; those of later commit points are later.
    synced = dict(pg.sql("SELECT id, _fivetran_synced FROM tester.users"))
    assert synced[1] < synced[2] and synced[3] > synced[1]
    assert [json.loads(s) for s in store.history] == [{"cursor": 1}, {"cursor": 2}]

    started = next(e for e in events if isinstance(e, SyncStarted))
    assert started.destination == "postgresql"
    assert sorted(e.table for e in events if isinstance(e, TableCreated)) == ["events", "log", "users"]
    assert [(e.column, e.after) for e in events if isinstance(e, SchemaChanged) if e.before is None] == [("score", INT)]
    assert [json.loads(e.state) for e in events if isinstance(e, CheckpointCommitted)][:2] == [{"cursor": 1},
                                                                                               {"cursor": 2}]
    assert result.counters is not None and result.counters.upserts == 8 and result.counters.truncates == 1

    # A second sync: sees what the first committed; fails after a checkpoint, which stays committed.
    def second(configuration: Any, state: Any) -> None:
        assert state == {"cursor": 2}
        op.upsert("users", {"id": 5, "name": "eve"})
        op.checkpoint({"cursor": 3})
        op.upsert("users", {"id": 6, "name": "lost"})
        op.upsert("other", {"id": 1})
        raise RuntimeError("boom")

    events = []
    result = run(tmp_path, pg_dsn, second, store, events=events)
    assert not result.succeeded and "boom" in (result.error or "")
    assert isinstance(events[-1], SyncFailed)
    assert [r[0] for r in pg.sql("SELECT id FROM tester.users ORDER BY id")] == [1, 2, 3, 4, 5]
    assert ("tester", "other") not in pg.tables()
    assert json.loads(store.saved or "") == {"cursor": 3}


def test_a_failed_first_sync_leaves_nothing_behind(tmp_path: Path, pg_dsn: str, pg: Reader) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1}, schema="brand_new")
        op.upsert("t", {"id": 1})
        raise RuntimeError("before any checkpoint")

    store = MemoryStateStore()
    result = run(tmp_path, pg_dsn, update, store)
    assert not result.succeeded and result.exit_code == 1
    assert pg.tables() == []
    assert pg.sql("SELECT nspname FROM pg_namespace WHERE nspname IN ('tester', 'brand_new')") == []
    assert store.saved is None


def test_widening_follows_call_order_and_keys_compare_after_conversion(tmp_path: Path, pg_dsn: str,
                                                                        pg: Reader) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "v": 1})
        op.upsert("t", {"id": 2, "v": 2.5})
        op.checkpoint({})
        op.upsert("t", {"id": 3, "v": "x"})                      # TYPES-28: "1.0", "2.5", "x"
        op.upsert("t", {"id": 4, "flag": True, "day": dt.date(2024, 1, 2), "blob": b"\x00\x01"})
        op.checkpoint({})
        op.upsert("t", {"id": 5, "flag": "maybe", "day": dt.datetime(2024, 1, 2, 3, 4, 5, 600000),
                        "blob": "text now"})
        op.upsert("t", {"id": "6"})                               # the key column becomes STRING
        op.update("t", {"id": "1", "v": "one"})                   # "1" finds the row stored with key 1
        op.delete("t", {"id": 2})

    result = run(tmp_path, pg_dsn, update, schema=keyed("t"))
    assert result.succeeded, result.error
    assert pg.columns("t") == [("id", "text"), ("v", "text"), ("_fivetran_synced", "timestamp with time zone"),
                               ("_fivetran_deleted", "boolean"), ("flag", "text"),
                               ("day", "timestamp without time zone"), ("blob", "text")]
    rows = pg.rows("t", columns=["id", "v", "flag", "day", "blob", "_fivetran_deleted"])
    assert rows == [
        ("1", "one", None, None, None, False),
        ("2", "2.5", None, None, None, True),
        ("3", "x", None, None, None, False),
        ("4", None, "true", dt.datetime(2024, 1, 2), "AAE=", False),
        ("5", None, "maybe", dt.datetime(2024, 1, 2, 3, 4, 5, 600000), "text now", False),
        ("6", None, None, None, None, False),
    ]


def test_many_rows_with_repeated_updates_and_deletes_match_a_model(tmp_path: Path, pg_dsn: str,
                                                                    pg: Reader) -> None:
    rng = random.Random(5)
    model: dict[int, dict[str, Any]] = {}
    deleted: set[int] = set()
    script: list[tuple[str, dict[str, Any]]] = []
    for step in range(6000):
        key = rng.randrange(800)
        kind = rng.random()
        if kind < 0.6:
            row = {"id": key, "name": f"n{step}", "amount": rng.randrange(10**6) / 100, "n": step}
            script.append(("upsert", row))
            model[key] = {"name": row["name"], "amount": row["amount"], "n": step}
            deleted.discard(key)
        elif kind < 0.85:
            patch: dict[str, Any] = {"id": key}
            if rng.random() < 0.5:
                patch["name"] = f"u{step}"
            if rng.random() < 0.5:
                patch["n"] = -step
            script.append(("update", patch))
            if key in model:
                model[key].update({k: v for k, v in patch.items() if k != "id"})
        elif kind < 0.97:
            script.append(("delete", {"id": key}))
            if key in model:
                deleted.add(key)
        else:
            script.append(("checkpoint", {"step": step}))

    def update(configuration: Any, state: Any) -> None:
        for kind, data in script:
            if kind == "checkpoint":
                op.checkpoint(data)
            else:
                getattr(op, kind)("big", data)

    store = MemoryStateStore()
    result = run(tmp_path, pg_dsn, update, store, keyed("big"), buffer_bytes=256 * 1024)
    assert result.succeeded, result.error
    stored = {r[0]: r[1:] for r in pg.sql("SELECT id, name, amount, n, _fivetran_deleted FROM tester.big")}
    expected = {k: (v["name"], v["amount"], v["n"], k in deleted) for k, v in model.items()}
    assert stored == expected


def test_names_case_and_schemas(tmp_path: Path, pg_dsn: str, pg: Reader) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("Order Items", {"Item ID": 1, "Unit Price": 2.5, 'say "hi"': "x", "select": True},
                  schema="Sales Data")
        op.upsert("plain", {"id": 1})

    def schema(configuration: Any) -> Any:
        return [{"table": "Order Items", "schema": "Sales Data", "primary_key": ["Item ID"]}]

    result = run(tmp_path, pg_dsn, update, schema=schema, naming="SOURCE", default_schema="Landing Zone")
    assert result.succeeded, result.error
    assert pg.tables() == [("Landing Zone", "plain"), ("Sales Data", "Order Items")]
    assert pg.primary_key("Order Items", "Sales Data") == ["Item ID"]
    assert pg.rows("Order Items", "Sales Data", columns=["Item ID", "Unit Price", 'say "hi"', "select"]) == [
        (1, 2.5, "x", True)]

    # FIVETRAN naming (the default) makes the same names snake_case.
    (tmp_path / "f").mkdir()
    result = run(tmp_path / "f", pg_dsn, update, schema=schema)
    assert result.succeeded, result.error
    assert ("sales_data", "order_items") in pg.tables()
    assert [n for n, _ in pg.columns("order_items", "sales_data")][:4] == ["item_id", "unit_price", "say_hi_", "select"]


def test_names_postgresql_cannot_take_are_refused_before_writing(tmp_path: Path, pg_dsn: str, pg: Reader) -> None:
    long_name = "é" * 32  # 64 bytes

    def too_long(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, long_name: 1})

    result = run(tmp_path, pg_dsn, too_long, naming="SOURCE")
    assert not result.succeeded
    assert "64 bytes" in (result.error or "") and "at most 63" in (result.error or "")

    def reserved(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1}, schema="pg_mine")

    result = run(tmp_path, pg_dsn, reserved, naming="SOURCE")
    assert not result.succeeded and "reserved by the postgresql destination" in (result.error or "")
    assert pg.tables() == []


def test_state_kept_by_the_bookkeeping_commits_with_the_data(tmp_path: Path, pg_dsn: str, pg: Reader) -> None:
    """headwater run's bookkeeping (headwater.destinations.bookkeeping) writes each checkpoint's state
    through execute_in_transaction: data and state commit together."""
    from headwater.destinations.bookkeeping import Bookkeeper

    def books(destination: PostgresDestination) -> Bookkeeper:
        destination.open()
        keeper = Bookkeeper(destination, destination.bookkeeping_dialect(), "shop", "_headwater")
        keeper.setup()
        return keeper

    def first(configuration: Any, state: Any) -> None:
        assert state == {}
        op.upsert("t", {"id": 1})
        op.checkpoint({"cursor": 1})
        op.upsert("t", {"id": 2})
        op.checkpoint({"cursor": 2})
        op.upsert("t", {"id": 3})
        raise RuntimeError("after the second checkpoint")

    destination = PostgresDestination(pg_dsn, schema_default="tester", reserved_schemas={"_headwater"})
    result = run(tmp_path, pg_dsn, first, books(destination).state_store(), keyed("t"), destination=destination)
    assert not result.succeeded
    assert [r[0] for r in pg.sql("SELECT id FROM tester.t ORDER BY id")] == [1, 2]
    assert [json.loads(r[0]) for r in pg.sql("SELECT state FROM _headwater.state ORDER BY sequence")] == [
        {"cursor": 1}, {"cursor": 2}]

    def second(configuration: Any, state: Any) -> None:
        assert state == {"cursor": 2}
        op.upsert("t", {"id": 4})
        op.checkpoint({"cursor": 4})

    destination = PostgresDestination(pg_dsn, schema_default="tester", reserved_schemas={"_headwater"})
    result = run(tmp_path, pg_dsn, second, books(destination).state_store(), keyed("t"), destination=destination)
    assert result.succeeded, result.error
    assert json.loads(pg.one("SELECT state FROM _headwater.state ORDER BY sequence DESC LIMIT 1")) == {"cursor": 4}
    assert [r[0] for r in pg.sql("SELECT id FROM tester.t ORDER BY id")] == [1, 2, 4]
    # The bookkeeping schema is not a connector's: its tables are not reported, and it cannot be written to.
    destination = PostgresDestination(pg_dsn, schema_default="tester", reserved_schemas={"_headwater"})
    try:
        assert all(t.schema != "_headwater" for t in destination.tables())
    finally:
        destination.close()

    def intruder(configuration: Any, state: Any) -> None:
        op.upsert("state", {"id": 1}, schema="_headwater")

    destination = PostgresDestination(pg_dsn, schema_default="tester", reserved_schemas={"_headwater"})
    result = run(tmp_path, pg_dsn, intruder, destination=destination, naming="SOURCE")
    assert not result.succeeded and "reserved" in (result.error or "")


def test_a_lost_connection_fails_the_sync_as_retryable(tmp_path: Path, pg_dsn: str, pg: Reader) -> None:
    destination = PostgresDestination(pg_dsn, schema_default="tester")

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1})
        op.checkpoint({"cursor": 1})
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'headwater'")
        op.upsert("t", {"id": 2})
        op.checkpoint({"cursor": 2})

    store = MemoryStateStore()
    result = run(tmp_path, pg_dsn, update, store, keyed("t"), destination=destination)
    assert not result.succeeded and result.exit_code == 1 and result.retryable
    assert "the server is unavailable" in (result.error or "") and "PostgreSQL postgres@127.0.0.1" in (
        result.error or "")
    assert json.loads(store.saved or "") == {"cursor": 1}
    assert [r[0] for r in pg.sql("SELECT id FROM tester.t")] == [1]


def test_deferred_truncate_soft_deletes_rows_not_written_again(tmp_path: Path, pg_dsn: str, pg: Reader) -> None:
    def first(configuration: Any, state: Any) -> None:
        for i in range(5):
            op.upsert("t", {"id": i})

    def second(configuration: Any, state: Any) -> None:
        op.truncate("t", deferred=True)
        op.upsert("t", {"id": 1})
        op.checkpoint({})
        op.upsert("t", {"id": 3})

    assert run(tmp_path, pg_dsn, first, schema=keyed("t")).succeeded
    result = run(tmp_path, pg_dsn, second, schema=keyed("t"))
    assert result.succeeded, result.error
    assert pg.rows("t") == [(0, True), (1, False), (2, True), (3, False), (4, True)]
