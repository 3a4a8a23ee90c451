"""The engine applies operations as if one at a time, in call order (SEM-20 to SEM-27, SEM-50, SEM-54),
through real in-process syncs into every destination of tests/destinations (DuckDB and the in-memory
toy), with the interleavings a batching engine can get wrong.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import pytest

from engine_helpers import Target
from headwater import Operations as op
from headwater.engine import flush as flush_module

pytest_plugins = ["destinations.plugin"]


class Boom(Exception):
    """Raised by connectors that must fail."""


def seed(target: Target, table: str = "t", data: list[dict[str, Any]] | None = None) -> None:
    """A first, successful run that writes ``data`` (default: ids 1 to 3 with a name)."""
    data = data if data is not None else [{"id": i, "name": f"n{i}"} for i in (1, 2, 3)]

    def update(configuration: Any, state: Any) -> None:
        for row in data:
            op.upsert(table, row)

    keyed = [{"table": table, "primary_key": ["id"]}]
    run = target.sync(update, schema=lambda c: keyed)
    assert run.succeeded, run.err


def live(target: Target, table: str = "t", key: str = "id") -> list[Any]:
    return target.values(table, key, deleted=False, order_by=key)


def deleted(target: Target, table: str = "t", key: str = "id") -> list[Any]:
    return target.values(table, key, deleted=True, order_by=key)


def count(target: Target, table: str = "t", schema: str = "tester") -> int:
    return len(target.rows(table, schema=schema))


def count_distinct(target: Target, columns: str, table: str = "t") -> tuple[int, int]:
    """(rows, distinct values of ``columns``), like SQL's ``count(*), count(DISTINCT ...)``."""
    found = target.rows(table, columns)
    return len(found), len({row for row in found if None not in row})


def keyed_schema(*tables: str, key: Any = ("id",)) -> Any:
    return lambda configuration: [{"table": t, "primary_key": list(key)} for t in tables]


# ---------------------------------------------------------------------------------------------
# upsert / update / delete interleavings within one commit interval (SEM-20 to SEM-25)


def test_upsert_then_update_then_upsert_of_same_key_keeps_only_the_last_upsert(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "a": "first", "b": 10})
        op.update("t", {"id": 1, "a": "updated", "c": "added by update"})
        op.upsert("t", {"id": 1, "a": "last"})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "id, a, b, c, _fivetran_deleted") == [(1, "last", None, None, False)]
    assert [c for c, _ in target.column_types("t")] == ["id", "a", "b", "_fivetran_synced",
                                                          "_fivetran_deleted", "c"]


def test_update_changes_a_row_upserted_earlier_in_the_same_interval(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "a": "x", "b": 1})
        op.upsert("t", {"id": 2, "a": "y", "b": 2})
        op.update("t", {"id": 1, "b": 100})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "id, a, b", order_by="id") == [(1, "x", 100), (2, "y", 2)]
    assert run.counters.updates == 1


def test_update_before_the_upsert_of_its_row_has_no_effect(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 0, "a": "other"})
        op.update("t", {"id": 1, "a": "too early", "extra": 5})
        op.upsert("t", {"id": 1, "a": "inserted"})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "id, a", order_by="id") == [(0, "other"), (1, "inserted")]
    assert "extra" not in [c for c, _ in target.column_types("t")]


def test_update_of_missing_row_adds_no_column(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 99, "brand_new": "v", "other_new": 1})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert [c for c, _ in target.column_types("t")] == ["id", "name", "_fivetran_synced", "_fivetran_deleted"]
    assert run.counters.updates == 1
    assert run.counters.schema_changes == 0
    assert count(target) == 3


def test_update_of_missing_row_does_not_widen_types(target: Target) -> None:
    seed(target, data=[{"id": 1, "n": 5}])

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 2, "n": "not a number"})
        op.update("t", {"id": 3, "n": 2.5})
        op.update("t", {"id": "no such key", "n": 1})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.column_types("t")[:2] == [("id", "INT"), ("n", "INT")]
    assert run.counters.schema_changes == 0
    assert target.rows("t", "id, n") == [(1, 5)]


def test_update_of_missing_row_in_the_same_batch_as_a_matching_one_adds_only_the_matching_columns(
    target: Target,
) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "n": 1})
        op.update("t", {"id": 2, "ghost": "x", "n": "text"})
        op.update("t", {"id": 1, "real": True})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.column_types("t") == [("id", "INT"), ("n", "INT"), ("_fivetran_synced",
                                           "UTC_DATETIME"), ("_fivetran_deleted", "BOOLEAN"),
                                           ("real", "BOOLEAN")]
    assert run.counters.schema_changes == 2  # table created, column "real" added


def test_update_delete_and_truncate_never_create_a_table(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("exists", {"id": 1})
        op.update("nope", {"id": 1, "a": 1})
        op.delete("nope", {"id": 1})
        op.truncate("nope")
        op.truncate("nope_deferred", deferred=True)

    run = target.sync(update, schema=keyed_schema("exists", "nope"))
    assert run.succeeded, run.err
    # "nope" is declared, so it exists (SEM-5) but is empty; "nope_deferred" is not.
    assert target.tables() == [("tester", "exists"), ("tester", "nope")]
    assert count(target, "nope") == 0


def test_several_updates_of_one_key_in_one_batch_apply_in_order_per_column(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "a": 1, "b": 1, "c": 1, "d": 1})
        op.upsert("t", {"id": 2, "a": 2, "b": 2, "c": 2, "d": 2})
        op.update("t", {"id": 1, "a": 10})
        op.update("t", {"id": 2, "d": 20})
        op.update("t", {"id": 1, "b": 11, "a": 12})
        op.update("t", {"id": 1, "c": None})
        op.update("t", {"id": 2, "a": None, "d": 21})
        op.update("t", {"id": 1, "b": 13})
        op.update("t", {"id": 1, "d": None})
        op.update("t", {"id": 1, "d": 14})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "id, a, b, c, d", order_by="id") == [
        (1, 12, 13, None, 14),
        (2, None, 2, 2, 21),
    ]


def test_last_update_setting_none_wins_over_an_earlier_value(target: Target) -> None:
    seed(target, data=[{"id": 1, "a": "keep", "b": "old"}])

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 1, "b": "new"})
        op.update("t", {"id": 1, "b": None})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("t", "a, b") == [("keep", None)]


def test_update_with_a_new_column_adds_it_and_leaves_other_rows_null(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 2, "score": 7})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("t", "id, name, score", order_by="id") == [
        (1, "n1", None), (2, "n2", 7), (3, "n3", None)]
    assert run.counters.schema_changes == 1


def test_update_with_only_none_for_a_new_column_creates_no_column(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 2, "nothing": None, "name": "changed"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert "nothing" not in [c for c, _ in target.column_types("t")]
    assert target.rows("t", "name", where={"id": 2}) == [("changed",)]


def test_upsert_replaces_every_column_and_missing_keys_become_null(target: Target) -> None:
    seed(target, data=[{"id": 1, "a": "x", "b": 5}])

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "b": 6})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("t", "id, a, b") == [(1, None, 6)]


def test_delete_then_upsert_in_one_batch_revives_the_row(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "v": "old"})
        op.upsert("t", {"id": 2, "v": "two"})
        op.delete("t", {"id": 1})
        op.upsert("t", {"id": 1, "v": "new"})
        op.delete("t", {"id": 2})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "id, v, _fivetran_deleted", order_by="id") == [
        (1, "new", False), (2, "two", True)]


def test_upsert_of_a_row_deleted_in_an_earlier_run_revives_it(target: Target) -> None:
    seed(target)
    run = target.sync(lambda configuration, state: op.delete("t", {"id": 2}))
    assert run.succeeded, run.err
    assert deleted(target) == [2]
    run = target.sync(lambda configuration, state: op.upsert("t", {"id": 2, "name": "back"}))
    assert run.succeeded, run.err
    assert target.rows("t", "name, _fivetran_deleted", where={"id": 2}) == [("back", False)]


def test_delete_keeps_the_other_columns_and_sets_synced(target: Target) -> None:
    seed(target)
    before = dict(target.rows("t", "id, _fivetran_synced"))
    run = target.sync(lambda configuration, state: op.delete("t", {"id": 2}))
    assert run.succeeded, run.err
    after = dict(target.rows("t", "id, _fivetran_synced"))
    assert after[2] > before[2]
    assert after[1] == before[1] and after[3] == before[3]
    assert target.rows("t", "name", where={"id": 2}) == [("n2",)]


def test_delete_ignores_keys_that_are_not_primary_key_columns(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.delete("t", {"id": 1, "name": "ignored", "unknown_column": 5})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert [c for c, _ in target.column_types("t")] == ["id", "name", "_fivetran_synced", "_fivetran_deleted"]
    assert target.rows("t", "name, _fivetran_deleted", where={"id": 1}) == [("n1", True)]


def test_delete_of_missing_row_has_no_effect(target: Target) -> None:
    seed(target)
    before = target.table_rows("t", system=True)
    run = target.sync(lambda configuration, state: op.delete("t", {"id": 42}))
    assert run.succeeded, run.err
    assert target.table_rows("t", system=True) == before
    assert run.counters.deletes == 1


def test_updates_of_missing_rows_among_existing_ones_touch_only_the_existing_rows(target: Target) -> None:
    seed(target)  # ids 1 to 3, name: str
    before = {row[0]: row for row in target.rows("t", "id, name, _fivetran_synced")}

    def update(configuration: Any, state: Any) -> None:
        for key in (2, 40, 3, 41):
            op.update("t", {"id": key, "name": f"changed {key}"})
        op.checkpoint({"done": True})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    after = {row[0]: row for row in target.rows("t", "id, name, _fivetran_synced")}
    assert sorted(after) == [1, 2, 3]
    assert after[1] == before[1]
    assert (after[2][1], after[3][1]) == ("changed 2", "changed 3")
    assert after[2][2] > before[2][2]
    assert "checkpoint 1 committed (2 rows since the previous one)" in run.out
    assert run.counters.updates == 4


def test_update_of_soft_deleted_row_changes_columns_and_keeps_it_deleted(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "v": "a"})
        op.delete("t", {"id": 1})
        op.update("t", {"id": 1, "v": "b", "w": 3})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "v, w, _fivetran_deleted") == [("b", 3, True)]


def test_update_of_row_deleted_in_an_earlier_run_keeps_it_deleted(target: Target) -> None:
    seed(target)
    assert target.sync(lambda configuration, state: op.delete("t", {"id": 3})).succeeded
    run = target.sync(lambda configuration, state: op.update("t", {"id": 3, "name": "renamed"}))
    assert run.succeeded, run.err
    assert target.rows("t", "name, _fivetran_deleted", where={"id": 3}) == [("renamed", True)]


def test_delete_of_soft_deleted_row_keeps_it_deleted_and_sets_synced(target: Target) -> None:
    seed(target)
    assert target.sync(lambda configuration, state: op.delete("t", {"id": 3})).succeeded
    (first,) = target.rows("t", "_fivetran_synced", where={"id": 3})
    run = target.sync(lambda configuration, state: op.delete("t", {"id": 3}))
    assert run.succeeded, run.err
    (second,) = target.rows("t", "_fivetran_synced", where={"id": 3})
    assert second[0] > first[0]
    assert deleted(target) == [3]


def test_update_leaves_the_other_columns_and_sets_synced(target: Target) -> None:
    seed(target, data=[{"id": 1, "a": "x", "b": 1}, {"id": 2, "a": "y", "b": 2}])
    before = dict(target.rows("t", "id, _fivetran_synced"))
    run = target.sync(lambda configuration, state: op.update("t", {"id": 1, "b": 5}))
    assert run.succeeded, run.err
    after = dict(target.rows("t", "id, _fivetran_synced"))
    assert after[1] > before[1] and after[2] == before[2]
    assert target.rows("t", "id, a, b", order_by="id") == [(1, "x", 5), (2, "y", 2)]


def test_missing_or_none_primary_key_is_refused_at_the_call(target: Target) -> None:
    caught: list[str] = []

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "v": 1})
        for call in (lambda: op.upsert("t", {"v": 2}), lambda: op.update("t", {"id": None, "v": 3}),
                     lambda: op.delete("t", {"v": 1})):
            try:
                call()
            except ValueError as exc:
                caught.append(str(exc))

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert len(caught) == 3
    assert all("missing primary key" in m.lower() and "id" in m for m in caught)
    assert (run.counters.upserts, run.counters.updates, run.counters.deletes) == (1, 0, 0)
    assert target.rows("t", "id, v, _fivetran_deleted") == [(1, 1, False)]


# ---------------------------------------------------------------------------------------------
# truncate (SEM-26)


def test_truncate_between_upserts_in_one_batch_keeps_the_rows_written_after_it(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "v": "a"})
        op.upsert("t", {"id": 2, "v": "b"})
        op.truncate("t")
        op.upsert("t", {"id": 2, "v": "b2"})
        op.upsert("t", {"id": 3, "v": "c"})
        op.update("t", {"id": 1, "v": "a2"})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "id, v, _fivetran_deleted", order_by="id") == [
        (1, "a2", True), (2, "b2", False), (3, "c", False)]
    assert run.counters.truncates == 1


def test_truncate_soft_deletes_existing_rows_and_leaves_already_deleted_ones(target: Target) -> None:
    seed(target)
    assert target.sync(lambda configuration, state: op.delete("t", {"id": 1})).succeeded
    (old,) = target.rows("t", "_fivetran_synced", where={"id": 1})
    run = target.sync(lambda configuration, state: op.truncate("t"))
    assert run.succeeded, run.err
    assert live(target) == [] and deleted(target) == [1, 2, 3]
    assert target.rows("t", "_fivetran_synced", where={"id": 1}) == [old]
    assert target.rows("t", "name", order_by="id") == [("n1",), ("n2",), ("n3",)]


def test_truncate_then_upsert_of_a_new_table_in_one_batch(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.truncate("fresh")
        op.upsert("fresh", {"id": 1})

    run = target.sync(update, schema=keyed_schema("fresh"))
    assert run.succeeded, run.err
    assert live(target, "fresh") == [1]


# ---------------------------------------------------------------------------------------------
# deferred truncate (SEM-27)


def test_deferred_truncate_soft_deletes_only_rows_not_written_after_the_call(target: Target) -> None:
    seed(target, data=[{"id": i, "name": f"n{i}"} for i in range(1, 6)])

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "name": "before the call"})
        op.truncate("t", deferred=True)
        op.upsert("t", {"id": 2, "name": "upserted"})
        op.checkpoint({"half": True})
        op.update("t", {"id": 3, "name": "updated"})
        op.delete("t", {"id": 4})
        op.upsert("t", {"id": 6, "name": "new"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert live(target) == [2, 3, 6]
    assert deleted(target) == [1, 4, 5]
    assert target.rows("t", "name", where={"id": 1}) == [("before the call",)]
    assert run.counters.truncates == 1


def test_deferred_truncate_changes_nothing_until_the_sync_ends(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.truncate("t", deferred=True)
        op.upsert("t", {"id": 2, "name": "kept"})
        op.checkpoint({"after": "checkpoint"})
        raise Boom("fail after the checkpoint")

    run = target.sync(update)
    assert not run.succeeded
    # The checkpoint committed the upsert, but the deferred truncate was dropped with the failure.
    assert live(target) == [1, 2, 3]
    assert target.rows("t", "name", where={"id": 2}) == [("kept",)]
    assert json.loads(target.saved_state() or "null") == {"after": "checkpoint"}


def test_deferred_truncate_of_a_failed_sync_does_not_carry_over_to_the_next(target: Target) -> None:
    seed(target)

    def failing(configuration: Any, state: Any) -> None:
        op.truncate("t", deferred=True)
        raise Boom("no")

    assert not target.sync(failing).succeeded
    run = target.sync(lambda configuration, state: op.upsert("t", {"id": 4, "name": "n4"}))
    assert run.succeeded, run.err
    assert live(target) == [1, 2, 3, 4]


def test_only_the_first_deferred_truncate_of_a_table_counts(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.truncate("t", deferred=True)
        op.upsert("t", {"id": 2, "name": "after first"})
        op.checkpoint({})
        op.truncate("t", deferred=True)
        op.upsert("t", {"id": 3, "name": "after second"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert live(target) == [2, 3]
    assert deleted(target) == [1]
    assert run.counters.truncates == 2  # both calls were accepted (SEM-70)


def test_immediate_truncate_is_not_affected_by_a_pending_deferred_one(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.truncate("t", deferred=True)
        op.upsert("t", {"id": 4, "name": "after deferred"})
        op.truncate("t")
        op.upsert("t", {"id": 5, "name": "after immediate"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert live(target) == [5]
    assert deleted(target) == [1, 2, 3, 4]


def test_deferred_truncate_leaves_already_deleted_rows_untouched(target: Target) -> None:
    seed(target)
    assert target.sync(lambda configuration, state: op.delete("t", {"id": 1})).succeeded
    (old,) = target.rows("t", "_fivetran_synced", where={"id": 1})

    def update(configuration: Any, state: Any) -> None:
        op.truncate("t", deferred=True)
        op.upsert("t", {"id": 3, "name": "kept"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("t", "_fivetran_synced", where={"id": 1}) == [old]
    assert live(target) == [3] and deleted(target) == [1, 2]


def test_deferred_truncate_of_a_table_created_after_the_call_keeps_its_rows(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.truncate("new_table", deferred=True)
        op.upsert("new_table", {"id": 1})
        op.checkpoint({})
        op.upsert("new_table", {"id": 2})

    run = target.sync(update, schema=keyed_schema("new_table"))
    assert run.succeeded, run.err
    assert live(target, "new_table") == [1, 2]


def test_deferred_truncate_is_per_table(target: Target) -> None:
    def first(configuration: Any, state: Any) -> None:
        for table in ("a", "b"):
            op.upsert(table, {"id": 1})
            op.upsert(table, {"id": 2})

    assert target.sync(first, schema=keyed_schema("a", "b")).succeeded

    def update(configuration: Any, state: Any) -> None:
        op.truncate("a", deferred=True)
        op.upsert("a", {"id": 2})
        op.upsert("b", {"id": 3})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert live(target, "a") == [2] and live(target, "b") == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# keyless tables (SEM-11, SEM-12, SEM-24)


def expected_id(row: dict[str, str]) -> str:
    text = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_keyless_table_has_fivetran_id_from_the_row_values(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("hello", {"message": "hello, world!"})
        op.upsert("hello", {"message": "two", "n": 2, "f": 2.5, "b": True})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.column_types("hello") == [
        ("message", "STRING"), ("_fivetran_id", "STRING"), ("_fivetran_synced", "UTC_DATETIME"),
        ("_fivetran_deleted", "BOOLEAN"), ("n", "INT"), ("f", "DOUBLE"), ("b", "BOOLEAN")]
    ids = dict(target.rows("hello", "message, _fivetran_id"))
    assert ids["hello, world!"] == expected_id({"message": "hello, world!"})
    assert ids["two"] == expected_id({"b": "true", "f": "2.5", "message": "two", "n": "2"})


def test_identical_keyless_rows_are_stored_once_within_a_batch_and_across_runs(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        for _ in range(3):
            op.upsert("log", {"a": 1, "b": "x"})
        op.upsert("log", {"a": 1, "b": "y"})
        op.upsert("log", {"b": "x", "a": 1})  # key order does not matter
        op.upsert("log", {"a": 1, "b": "x", "c": None})  # a None value is the same as a missing key

    for _ in range(2):
        run = target.sync(update)
        assert run.succeeded, run.err
    assert target.table_rows("log") == [(1, "x"), (1, "y")]


def test_keyless_rows_with_the_same_text_form_are_the_same_row(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"v": 1})
        op.checkpoint({})
        op.upsert("log", {"v": "1"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("log", "v, _fivetran_deleted") == [("1", False)]


def test_keyless_delete_reads_keys_as_a_whole_row(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"a": 1, "b": "x"})
        op.upsert("log", {"a": 2, "b": "y"})
        op.upsert("log", {"a": 3, "b": "z"})
        op.delete("log", {"a": 1})             # part of a row: names no row
        op.delete("log", {"a": 2, "b": "y"})   # the whole row
        op.delete("log", {"b": "z", "a": 3, "c": None})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("log", "a, _fivetran_deleted", order_by="a") == [
        (1, False), (2, True), (3, True)]


def test_keyless_deleted_row_is_revived_by_an_identical_upsert(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"a": 1})
        op.delete("log", {"a": 1})
        op.upsert("log", {"a": 1})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("log", "a, _fivetran_deleted") == [(1, False)]


def test_update_on_a_keyless_table_is_refused(target: Target) -> None:
    messages: list[str] = []

    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"a": 1})
        try:
            op.update("log", {"a": 2})
        except ValueError as exc:
            messages.append(str(exc))

    run = target.sync(update)
    assert run.succeeded, run.err
    assert len(messages) == 1 and "requires a primary key" in messages[0]
    assert run.counters.updates == 0
    assert target.rows("log", "a") == [(1,)]


def test_keyless_declared_column_id_uses_the_declared_conversion(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "log", "columns": {"amount": "STRING"}}]

    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"amount": 5})
        op.upsert("log", {"amount": "5"})

    run = target.sync(update, schema=schema)
    assert run.succeeded, run.err
    assert target.rows("log", "amount, _fivetran_id") == [("5", expected_id({"amount": "5"}))]


# ---------------------------------------------------------------------------------------------
# composite keys


def test_composite_key_identifies_rows_by_every_key_column(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["region", "id"]}]

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "region": "eu", "v": "a"})
        op.upsert("t", {"id": 1, "region": "us", "v": "b"})
        op.upsert("t", {"region": "eu", "id": 2, "v": "c"})
        op.upsert("t", {"id": 1, "region": "eu", "v": "a2"})
        op.update("t", {"v": "b2", "region": "us", "id": 1})
        op.delete("t", {"region": "eu", "id": 2})
        op.update("t", {"region": "xx", "id": 1, "v": "nothing"})
        op.delete("t", {"region": "eu", "id": 3})

    run = target.sync(update, schema=schema)
    assert run.succeeded, run.err
    # SEM-41: key columns first, in primary_key order.
    assert [c for c, _ in target.column_types("t")][:3] == ["region", "id", "v"]
    assert target.rows("t", "region, id, v, _fivetran_deleted", order_by="region, id") == [
        ("eu", 1, "a2", False), ("eu", 2, "c", True), ("us", 1, "b2", False)]


def test_delete_with_part_of_a_composite_key_is_refused(target: Target) -> None:
    messages: list[str] = []

    def schema(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["a", "b"]}]

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"a": 1, "b": 1})
        try:
            op.delete("t", {"a": 1})
        except ValueError as exc:
            messages.append(str(exc))

    run = target.sync(update, schema=schema)
    assert run.succeeded, run.err
    assert len(messages) == 1 and "missing primary key" in messages[0].lower() and "'b'" in messages[0]
    assert live(target, key="a") == [1]


# ---------------------------------------------------------------------------------------------
# threads, generators, schemas


def test_operations_from_eight_threads_lose_and_duplicate_nothing(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        def work(worker: int) -> None:
            for i in range(1000):
                op.upsert("t", {"id": worker * 1000 + i, "worker": worker, "i": i})
                if i % 100 == 99:
                    op.upsert("shared", {"id": i, "by": worker})
            for i in range(0, 1000, 10):
                op.update("t", {"id": worker * 1000 + i, "touched": True})

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        op.checkpoint({"done": True})

    run = target.sync(update, schema=keyed_schema("t", "shared"))
    assert run.succeeded, run.err
    ids = target.values("t", "id")
    touched = [v for v in target.values("t", "touched") if v is not None]
    assert (len(ids), len(set(ids)), min(ids), max(ids), len(touched)) == (8000, 8000, 0, 7999, 800)
    by_worker: dict[int, list[int]] = {}
    for worker, i in target.rows("t", "worker, i"):
        by_worker.setdefault(worker, []).append(i)
    assert sorted((w, len(v), sum(v)) for w, v in by_worker.items()) == [(w, 1000, 499500) for w in range(8)]
    assert count_distinct(target, "id", "shared") == (10, 10)
    assert run.counters.upserts == 8080 and run.counters.updates == 800


def test_generator_update_mixed_with_plain_calls(target: Target) -> None:
    def update(configuration: Any, state: Any) -> Any:
        yield op.upsert("t", {"id": 1, "v": "yielded"})
        op.upsert("t", {"id": 2, "v": "plain"})
        yield op.update("t", {"id": 1, "v": "yielded update"})
        yield op.checkpoint({"cursor": 1})
        op.delete("t", {"id": 2})
        yield op.upsert("t", {"id": 3, "v": "after"})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "id, v, _fivetran_deleted", order_by="id") == [
        (1, "yielded update", False), (2, "plain", True), (3, "after", False)]
    assert json.loads(target.saved_state() or "null") == {"cursor": 1}
    assert (run.counters.upserts, run.counters.updates, run.counters.deletes, run.counters.checkpoints) == (3, 1, 1, 1)


def test_generator_that_raises_discards_operations_after_its_last_checkpoint(target: Target) -> None:
    def update(configuration: Any, state: Any) -> Any:
        yield op.upsert("t", {"id": 1})
        yield op.checkpoint({"cursor": 1})
        yield op.upsert("t", {"id": 2})
        raise Boom("midway")

    run = target.sync(update, schema=keyed_schema("t"))
    assert not run.succeeded
    assert "Boom" in (run.error or "") and "midway" in (run.error or "")
    assert live(target) == [1]


def test_tables_in_several_schemas_are_separate(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [
            {"table": "users", "primary_key": ["id"], "schema": "crm"},
            {"table": "users", "primary_key": ["id"]},
            {"table": "events", "schema": "Web Analytics", "columns": {"at": "UTC_DATETIME"}},
        ]

    def update(configuration: Any, state: Any) -> None:
        op.upsert("users", {"id": 1, "src": "crm"}, schema="crm")
        op.upsert("users", {"id": 1, "src": "tester"})
        op.upsert("users", {"id": 2, "src": "tester"})
        op.delete("users", {"id": 1}, schema="crm")
        op.upsert("events", {"at": "2024-01-01T00:00:00Z", "kind": "x"}, schema="Web Analytics")

    run = target.sync(update, schema=schema)
    assert run.succeeded, run.err
    assert target.tables() == [("crm", "users"), ("tester", "users"), ("web_analytics", "events")]
    assert target.rows("users", "id, src, _fivetran_deleted", schema="crm") == [(1, "crm", True)]
    assert target.table_rows("users", system=True) == [(1, "tester", False), (2, "tester", False)]
    assert target.column_types("events", "web_analytics")[0] == ("at", "UTC_DATETIME")


def test_declared_table_without_data_exists_after_the_first_commit(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "empty", "primary_key": ["id"], "columns": {"id": "LONG", "name": "STRING"}},
                {"table": "bare", "primary_key": ["k"]}]

    run = target.sync(lambda configuration, state: None, schema=schema)
    assert run.succeeded, run.err
    assert target.column_types("empty") == [("id", "LONG"), ("name", "STRING"),
                                               ("_fivetran_synced", "UTC_DATETIME"),
                                               ("_fivetran_deleted", "BOOLEAN")]
    assert target.column_types("bare") == [("_fivetran_synced", "UTC_DATETIME"),
                                              ("_fivetran_deleted", "BOOLEAN")]
    assert run.counters.schema_changes == 2


# ---------------------------------------------------------------------------------------------
# commit points and failures (SEM-50, SEM-51, SEM-53, SEM-54)


def test_statements_after_a_new_rows_insert_in_the_same_interval_see_those_rows(target: Target) -> None:
    # The first statement of an interval that only appends rows is held back until the commit
    # point (to commit in one statement); anything that follows it must still see those rows.
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        for i in range(100, 400):
            op.upsert("t", {"id": i, "name": f"new {i}"})
        op.checkpoint({"stage": 1})
        for i in range(400, 700):
            op.upsert("t", {"id": i, "name": f"new {i}"})  # held: new keys only
        op.update("t", {"id": 450, "name": "updated"})
        op.delete("t", {"id": 451})
        op.checkpoint({"stage": 2})
        for i in range(700, 1000):
            op.upsert("t", {"id": i, "name": f"new {i}"})  # held, and committed alone
        op.checkpoint({"stage": 3})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.rows("t", "name", where={"id": 450}) == [("updated",)]
    assert deleted(target) == [451]
    ids = target.values("t", "id")
    assert (len(ids), max(ids)) == (3 + 900, 999)


def test_failure_discards_everything_after_the_last_checkpoint(target: Target) -> None:
    seed(target)
    before_types = target.column_types("t")

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 4, "name": "n4"})
        op.checkpoint({"cursor": 4})
        op.upsert("t", {"id": 5, "name": 5.5, "late_column": 1})
        op.update("t", {"id": 1, "name": "changed"})
        op.delete("t", {"id": 2})
        op.truncate("t")
        op.upsert("other", {"id": 1})
        raise Boom("after the checkpoint")

    run = target.sync(update)
    assert not run.succeeded and run.report.exit_code == 1
    assert live(target) == [1, 2, 3, 4]
    assert target.column_types("t") == before_types
    assert target.rows("t", "name", where={"id": 1}) == [("n1",)]
    assert target.tables() == [("tester", "t")]
    assert json.loads(target.saved_state() or "null") == {"cursor": 4}
    # Calls are counted although rolled back (SEM-70).
    assert (run.counters.upserts, run.counters.updates, run.counters.deletes, run.counters.truncates) == (3, 1, 1, 1)


def test_failure_without_checkpoint_leaves_the_state_missing(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 9})
        raise Boom("x")

    assert not target.sync(update).succeeded
    assert target.saved_state() is None
    assert live(target) == [1, 2, 3]


def test_checkpoint_saves_the_state_as_it_was_at_the_call(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        cursor = {"n": 1, "nested": {"k": [1]}}
        op.checkpoint(cursor)
        cursor["n"] = 2
        cursor["nested"]["k"].append(2)

    run = target.sync(update)
    assert run.succeeded, run.err
    assert json.loads(target.saved_state() or "null") == {"n": 1, "nested": {"k": [1]}}


# ---------------------------------------------------------------------------------------------
# the spill path: tables flushed many times into the open transaction before a commit point

SPILL_BYTES = 1  # the engine flushes a table every 2048 buffered operations at the smallest budget


def spill_workload(configuration: Any, state: Any) -> None:
    """~17,000 operations on three tables in blocks, so that each table is flushed several times before
    the checkpoint, with replacements, updates, deletes, revivals, new columns and widenings that
    reach back into rows of earlier flushes."""
    for block in range(8):
        base = block * 1000
        for i in range(base, base + 1200):  # overlaps the next block: replacements across flushes
            op.upsert("events", {"id": i, "v": i, "tag": f"t{i % 7}"})
        for i in range(max(0, base - 300), base + 100):
            op.update("events", {"id": i, "v": -i, "note": "late note" if block >= 5 else None})
        for i in range(base + 50, base + 150, 2):
            op.delete("events", {"id": i})
        if block == 3:
            for i in range(0, 3000, 60):
                op.upsert("events", {"id": i, "v": i + 0.5})  # INT -> DOUBLE, rows flushed long ago
        if block == 4:
            for i in range(50, 150, 2):
                op.upsert("events", {"id": i, "v": i, "revived": True})
        if block == 6:
            for i in range(0, 6000, 100):
                op.upsert("events", {"id": i, "v": f"text {i}"})  # DOUBLE -> STRING
            op.update("events", {"id": 12, "tag": 12})
            op.update("events", {"id": 999_999, "ghost": 1})
        for i in range(block * 400, block * 400 + 400):
            op.upsert("log", {"line": i % 700, "kind": "even" if i % 2 == 0 else None})
        for i in range(block * 50, block * 50 + 30):
            op.delete("log", {"line": i % 700, "kind": "even" if i % 2 == 0 else None})
        for i in range(block * 300, block * 300 + 300):
            op.upsert("mixed", {"id": i % 500, "payload": i if block < 4 else f"s{i}"})
        if block == 5:
            op.truncate("mixed")
        if block == 6:
            op.checkpoint({"block": block})


def whole_tables(target: Target) -> dict[str, Any]:
    return {
        table: (target.column_types(table), target.table_rows(table, system=True))
        for table in ("events", "log", "mixed")
    }


def counting_flushes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the table of every flush the engine makes (spills and commits)."""
    flushed: list[str] = []
    original = flush_module.flush_table

    def flush_table(sync: Any, t: Any) -> None:
        flushed.append(t.name)
        original(sync, t)

    monkeypatch.setattr(flush_module, "flush_table", flush_table)
    return flushed


def test_spilling_many_times_before_a_checkpoint_gives_the_same_tables(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    spilled, buffered = target.new("spilled"), target.new("buffered")
    schema = keyed_schema("events", "mixed")
    flushed = counting_flushes(monkeypatch)
    first = spilled.sync(spill_workload, schema=schema, buffer_bytes=SPILL_BYTES)
    spilled_flushes = flushed.count("events")
    second = buffered.sync(spill_workload, schema=schema)
    assert spilled_flushes >= 5, "the small budget must make the engine spill events several times"
    assert flushed.count("events") - spilled_flushes == 2  # default budget: once per commit point
    assert first.succeeded, first.err
    assert second.succeeded, second.err
    spilled_tables, buffered_tables = whole_tables(spilled), whole_tables(buffered)
    assert spilled_tables["events"][0] == buffered_tables["events"][0]
    assert spilled_tables == buffered_tables
    assert first.counters == second.counters
    assert spilled.type_of("v", "events") == "STRING"


def test_failure_after_spilled_but_uncommitted_rows_leaves_only_committed_data(target: Target) -> None:
    seed(target, data=[{"id": i, "name": f"n{i}"} for i in range(100)])
    committed_before = target.table_rows("t", system=True)
    types_before = target.column_types("t")

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1000, "name": "committed"})
        op.checkpoint({"stage": "committed"})
        for block in range(5):
            for i in range(block * 2000, block * 2000 + 2000):
                op.upsert("t", {"id": 2000 + i, "name": i, "extra": 1.5})
            for i in range(100):
                op.update("t", {"id": i, "name": "changed", "more": True})
            for i in range(1000):
                op.upsert("spilled_only", {"n": block * 1000 + i})
        op.delete("t", {"id": 5})
        raise Boom("after spills")

    run = target.sync(update, schema=keyed_schema("t"), buffer_bytes=SPILL_BYTES)
    assert not run.succeeded
    # Made in the open transaction by the spills (table created, columns added), then rolled back.
    assert run.counters.schema_changes >= 3
    assert target.column_types("t") == types_before
    after = target.table_rows("t", system=True)
    assert sorted([*committed_before, (1000, "committed", False)], key=lambda r: r[0]) == sorted(after,
                                                                                                  key=lambda r: r[0])
    assert target.tables() == [("tester", "t")]
    assert json.loads(target.saved_state() or "null") == {"stage": "committed"}


@pytest.mark.parametrize("buffer_bytes", [
    pytest.param(None, id="buffered"),
    pytest.param(SPILL_BYTES, id="spilled"),
])
def test_failure_before_any_commit_point_leaves_no_warehouse_behind(target: Target, buffer_bytes: Any) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(5000):
            op.upsert("t", {"id": i})
        raise Boom("before any checkpoint")

    run = target.sync(update, schema=keyed_schema("t"), buffer_bytes=buffer_bytes)
    assert not run.succeeded
    assert not target.exists()  # DuckDB: no files/warehouse.db
    assert target.saved_state() is None


# ---------------------------------------------------------------------------------------------
# replacing rows whose keys lie inside, outside and across the range of stored keys


def test_upserts_below_inside_and_above_the_stored_key_range_never_duplicate(target: Target) -> None:
    seed(target, data=[{"id": i, "name": "stored"} for i in range(100, 200)])

    def update(configuration: Any, state: Any) -> None:
        for i in range(10):
            op.upsert("t", {"id": i, "name": "below"})
        op.checkpoint({})
        for i in (5, 150, 199, 300):
            op.upsert("t", {"id": i, "name": "across"})
        op.checkpoint({})
        for i in range(1000, 1010):
            op.upsert("t", {"id": i, "name": "above"})
        op.upsert("t", {"id": 100, "name": "edge"})
        op.checkpoint({})
        op.upsert("t", {"id": 1005, "name": "again"})
        op.upsert("t", {"id": 9, "name": "again"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert count_distinct(target, "id") == (100 + 10 + 1 + 10,) * 2
    names = dict(target.rows("t", "id, name"))
    assert (names[5], names[9], names[100], names[150], names[199], names[300], names[1005]) == (
        "across", "again", "edge", "across", "across", "across", "again")


def test_text_keys_are_replaced_whatever_their_code_points(target: Target) -> None:
    keys = ["m", "n", "mm"]
    seed(target, data=[{"id": k, "name": "stored"} for k in keys])

    def update(configuration: Any, state: Any) -> None:
        for k in ["a", "Z", "é", "😀", "m", "nn"]:
            op.upsert("t", {"id": k, "name": "new"})
        op.checkpoint({})
        for k in ["é", "Z", "mm", "zz"]:
            op.upsert("t", {"id": k, "name": "newer"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert count_distinct(target, "id") == (9, 9)
    assert dict(target.rows("t", "id, name")) == {
        "m": "new", "n": "stored", "mm": "newer", "a": "new", "Z": "newer", "é": "newer", "😀": "new",
        "nn": "new", "zz": "newer"}


def test_key_column_widened_mid_sync_still_finds_stored_rows(target: Target) -> None:
    seed(target, data=[{"id": i, "name": "stored"} for i in range(100, 110)])

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 5, "name": "int below"})
        op.checkpoint({})
        op.upsert("t", {"id": "x", "name": "text"})   # id becomes VARCHAR
        op.checkpoint({})
        op.upsert("t", {"id": "105", "name": "text key"})
        op.upsert("t", {"id": 5, "name": "int again"})
        op.checkpoint({})
        op.upsert("t", {"id": 107, "name": "int later"})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert count_distinct(target, "id") == (12, 12)
    names = dict(target.rows("t", "id, name"))
    assert (names["5"], names["105"], names["107"], names["x"]) == ("int again", "text key", "int later", "text")


def test_composite_key_rows_are_replaced_when_the_first_column_range_overlaps(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "t", "primary_key": ["a", "b"]}]

    def update(configuration: Any, state: Any) -> None:
        for a in range(3):
            for b in range(3):
                op.upsert("t", {"a": a, "b": b, "v": "first"})
        op.checkpoint({})
        op.upsert("t", {"a": 1, "b": 1, "v": "second"})
        op.upsert("t", {"a": 5, "b": 1, "v": "second"})
        op.checkpoint({})
        op.upsert("t", {"a": 2, "b": 9, "v": "third"})

    run = target.sync(update, schema=schema)
    assert run.succeeded, run.err
    assert count_distinct(target, "a, b") == (11, 11)
    assert target.rows("t", "v", where={"a": 1, "b": 1}) == [("second",)]


# ---------------------------------------------------------------------------------------------
# column order of columns that first appear together (SEM-40)


def test_columns_first_valued_together_are_added_in_that_dicts_order(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "x": None, "y": None})  # no column for x or y yet (TYPES-24)
        op.checkpoint({})
        op.upsert("t", {"id": 2, "y": 1, "x": 2})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert [c for c, _ in target.column_types("t")] == ["id", "_fivetran_synced", "_fivetran_deleted", "y", "x"]


def test_creating_row_columns_follow_its_dict_order(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"b": 1, "id": 1, "a": 2})
        op.upsert("t", {"a": 1, "id": 2, "b": 2})

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert [c for c, _ in target.column_types("t")] == ["id", "b", "a", "_fivetran_synced", "_fivetran_deleted"]
    assert target.rows("t", "id, a, b", order_by="id") == [(1, 2, 1), (2, 1, 2)]


def test_update_of_missing_row_does_not_affect_the_order_of_added_columns(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 99, "y": 1})
        op.update("t", {"id": 1, "x": 1, "y": 2})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert [c for c, _ in target.column_types("t")] == [
        "id", "name", "_fivetran_synced", "_fivetran_deleted", "x", "y"]


def test_update_of_missing_row_does_not_decide_the_type_of_a_new_column(target: Target) -> None:
    seed(target)

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 99, "y": "text"})
        op.update("t", {"id": 1, "y": 2})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert dict(target.column_types("t"))["y"] == "INT"
    assert run.counters.schema_changes == 1


def test_partial_updates_of_one_key_keep_a_later_none(target: Target) -> None:
    seed(target, data=[{"id": 1, "e": 0, "o": 0}, {"id": 2, "e": 0, "o": 0}])

    def update(configuration: Any, state: Any) -> None:
        op.update("t", {"id": 1, "e": 1})
        op.update("t", {"id": 2, "o": 5})
        op.update("t", {"id": 1, "o": 1})
        op.update("t", {"id": 1, "e": None})
        op.update("t", {"id": 1, "o": 2})
        op.update("t", {"id": 2, "e": None})
        op.update("t", {"id": 2, "e": 7})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert target.rows("t", "id, e, o", order_by="id") == [(1, None, 2), (2, 7, 5)]


def test_operations_from_threads_while_tables_spill(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        def work(worker: int) -> None:
            for i in range(1500):
                op.upsert("t", {"id": worker * 10_000 + i, "worker": worker})
            for i in range(0, 1500, 3):
                op.delete("t", {"id": worker * 10_000 + i})

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    run = target.sync(update, schema=keyed_schema("t"), buffer_bytes=SPILL_BYTES)
    assert run.succeeded, run.err
    assert count_distinct(target, "id") == (12000, 12000)
    assert len(target.rows("t", deleted=True)) == 4000


def test_successful_sync_without_checkpoint_leaves_the_saved_state_alone(target: Target) -> None:
    run = target.sync(lambda configuration, state: op.upsert("t", {"id": 1}))
    assert run.succeeded, run.err
    assert target.saved_state() is None
    target.save_state('{"cursor":  "kept exactly"}')  # DuckDB: files/state.json
    run = target.sync(lambda configuration, state: op.upsert("t", {"id": 2}))
    assert run.succeeded, run.err
    assert target.saved_state() == '{"cursor":  "kept exactly"}'


def test_checkpoint_without_operations_still_saves_its_state(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.checkpoint({"n": 1})
        op.checkpoint({"n": 2})

    run = target.sync(update)
    assert run.succeeded, run.err
    assert json.loads(target.saved_state() or "null") == {"n": 2}
    assert run.counters.checkpoints == 2


def test_refused_checkpoint_commits_nothing(target: Target) -> None:
    messages: list[str] = []

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1})
        for bad in ([1], {"when": float("nan")}, {"s": {1, 2}}):
            try:
                op.checkpoint(bad)
            except TypeError as exc:
                messages.append(str(exc))
        raise Boom("after refused checkpoints")

    run = target.sync(update)
    assert not run.succeeded
    assert "t" not in [name for _, name in target.tables()]
    assert target.saved_state() is None
    assert "checkpoint state must be a dict" in messages[0]
    assert all("not json serializable" in m.lower() for m in messages[1:])
    assert run.counters.checkpoints == 0


def test_after_operations_error_checkpoints_refuse_and_the_sync_fails(target: Target) -> None:
    refusals: list[str] = []

    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1})
        op.checkpoint({"n": 1})
        op.upsert("t", {"id": 2})
        try:
            op.error("source is broken")
        except Exception:  # noqa: BLE001 - a connector that swallows the error
            pass
        try:
            op.checkpoint({"n": 2})
        except RuntimeError as exc:
            refusals.append(str(exc))

    run = target.sync(update)
    assert not run.succeeded
    assert "connector reported an error" in (run.error or "") and "source is broken" in (run.error or "")
    assert len(refusals) == 1 and "sync has failed" in refusals[0]
    assert live(target) == [1]
    assert json.loads(target.saved_state() or "null") == {"n": 1}


def test_keyless_id_of_a_declared_decimal_uses_its_scale(target: Target) -> None:
    def schema(configuration: Any) -> Any:
        return [{"table": "log", "columns": {"amount": {"type": "DECIMAL", "precision": 10, "scale": 2}}}]

    def update(configuration: Any, state: Any) -> None:
        op.upsert("log", {"amount": 1.5})
        op.upsert("log", {"amount": "1.50"})
        op.upsert("log", {"amount": 1})

    run = target.sync(update, schema=schema)
    assert run.succeeded, run.err
    ids = {str(amount): row_id for amount, row_id in target.rows("log", "amount, _fivetran_id")}
    assert ids == {"1.50": expected_id({"amount": "1.50"}), "1.00": expected_id({"amount": "1.00"})}


def test_columns_and_widenings_caused_by_a_replaced_upsert_still_happen(target: Target) -> None:
    def update(configuration: Any, state: Any) -> None:
        op.upsert("t", {"id": 1, "w": 5, "v": 1})
        op.upsert("t", {"id": 2, "v": 2})
        op.upsert("t", {"id": 1, "v": "x"})   # v becomes STRING; row 1 loses w
        op.upsert("t", {"id": 1, "v": 3})     # replaces the row again; v stays STRING

    run = target.sync(update, schema=keyed_schema("t"))
    assert run.succeeded, run.err
    assert target.column_types("t")[:3] == [("id", "INT"), ("w", "INT"), ("v", "STRING")]
    assert target.rows("t", "id, w, v", order_by="id") == [(1, None, "3"), (2, None, "2")]
    assert run.counters.schema_changes == 2
