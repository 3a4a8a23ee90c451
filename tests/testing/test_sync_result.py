"""What run_connector() returns beyond the tables: the operations, the log, the primary keys and
a snapshot of the saved state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from headwater.testing import LogLine, Operation, SyncResult, run_connector
from headwater.testing.logs import parse_log

# -- operations ------------------------------------------------------------------------------------


def test_operations_are_recorded_in_call_order(shop_result: SyncResult) -> None:
    calls = [(o.kind, o.table) for o in shop_result.operations]
    assert calls == [("upsert", "users")] * 5 + [
        ("update", "users"), ("delete", "users"), ("upsert", "lines"), ("upsert", "lines"),
        ("upsert", "events"), ("checkpoint", None),
    ]
    assert shop_result.operations[0] == Operation("upsert", "users", {"id": 1, "email": "user1@example.com",
                                                                      "name": "user 1"})
    assert shop_result.operations[5].data == {"id": 2, "name": "renamed"}
    assert shop_result.operations[6].data == {"id": 5}
    assert shop_result.operations[-1].data == {"runs": 1, "cursor": "2024-05-01T00:00:00Z"}


def test_operations_agree_with_the_summary_counters(shop_result: SyncResult) -> None:
    counters = shop_result.counters
    kinds = [o.kind for o in shop_result.operations]
    assert (kinds.count("upsert"), kinds.count("update"), kinds.count("delete"), kinds.count("checkpoint")) == (
        counters.upserts, counters.updates, counters.deletes, counters.checkpoints)


def test_recorded_data_is_a_copy_taken_at_the_call(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_project('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            row = {"id": 1, "tags": ["a"]}
            up = op.upsert                      # taken before the sync binds its fast path
            up("t", row)
            row["id"], row["tags"] = 2, row["tags"] + ["b"]
            op.upsert(table="t", data=row)
            op.truncate("t", deferred=True)
            state["pages"] = [1]
            op.checkpoint(state)
            state["pages"].append(2)

        connector = Connector(update=update)
    ''')
    result = run_connector(project, warehouse_dir=tmp_path / "w")
    assert result.succeeded, result.output + result.errors
    assert result.operations == [
        Operation("upsert", "t", {"id": 1, "tags": ["a"]}),
        Operation("upsert", "t", {"id": 2, "tags": ["a", "b"]}),
        Operation("truncate", "t", None, deferred=True),
        Operation("checkpoint", None, {"pages": [1]}),
    ]


def test_yield_style_connectors_are_recorded(make_project: Callable[..., Path], tmp_path: Path) -> None:
    project = make_project('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            yield op.upsert("t", {"id": 1})
            yield op.checkpoint({"done": True})

        connector = Connector(update=update)
    ''')
    result = run_connector(project, warehouse_dir=tmp_path / "w")
    assert [o.kind for o in result.operations] == ["upsert", "checkpoint"]


def test_refused_operations_are_not_recorded_and_earlier_ones_are(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_project('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.upsert("t", [{"id": 2}])

        connector = Connector(update=update)
    ''')
    result = run_connector(project, warehouse_dir=tmp_path / "w")
    assert not result.succeeded
    assert result.operations == [Operation("upsert", "t", {"id": 1})]


def test_recording_can_be_turned_off(shop_project: Path, tmp_path: Path) -> None:
    result = run_connector(shop_project, warehouse_dir=tmp_path, capture_operations=False)
    assert result.succeeded and result.operations == []


# -- log -------------------------------------------------------------------------------------------------


def test_log_holds_the_connector_and_headwater_lines_without_the_summary(shop_result: SyncResult) -> None:
    connector = [(line.level, line.message) for line in shop_result.log if line.origin == "connector"]
    assert connector == [("INFO", "syncing users"), ("WARNING", "first line\nsecond line")]
    messages = [line.message for line in shop_result.log]
    assert "calling update()" in messages
    assert messages[-1].startswith("sync finished: ")
    assert not any("Sync SUCCEEDED" in message or "Upserts" in message for message in messages)
    assert all(isinstance(line, LogLine) for line in shop_result.log)


def test_log_of_a_failed_sync_keeps_the_traceback_as_one_record(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    project = make_project('''
        from fivetran_connector_sdk import Connector

        def update(configuration, state):
            raise ValueError("bad page token")

        connector = Connector(update=update)
    ''')
    result = run_connector(project, warehouse_dir=tmp_path / "w")
    severe = [line for line in result.log if line.level == "SEVERE"]
    assert len(severe) == 1
    assert severe[0].message.startswith("Traceback (most recent call last):\n")
    assert severe[0].message.endswith("ValueError: bad page token")


def test_parse_log_joins_continuation_lines_and_stops_at_other_text() -> None:
    output = (
        "12:00:00.001 INFO     [connector] one\n"
        "12:00:00.002 WARNING  [connector] two\n"
        "                                  more\n"
        "                                  \n"
        "                                    indented\n"
        "12:00:00.003 CRITICAL [headwater] \n"
        "\n"
        "Profile (wall time of the sync)\n"
        "  connector code  0.1 s\n"
        "Operation     | Calls\n"
    )
    assert parse_log(output) == [
        LogLine("12:00:00.001", "INFO", "connector", "one"),
        LogLine("12:00:00.002", "WARNING", "connector", "two\nmore\n\n  indented"),
        LogLine("12:00:00.003", "CRITICAL", "headwater", ""),
    ]
    assert str(parse_log(output)[0]) == "12:00:00.001 INFO     [connector] one"


# -- primary keys and state --------------------------------------------------------------------------------


def test_primary_keys_come_from_the_table_comment(shop_result: SyncResult) -> None:
    assert shop_result.primary_keys("users") == ["id"]
    assert shop_result.primary_keys("tester.lines") == ["order_id", "line"]
    assert shop_result.primary_keys("LINES", schema="tester") == ["order_id", "line"]
    assert shop_result.primary_keys("events") == ["_fivetran_id"]
    with pytest.raises(LookupError, match="no table tester.orders in the warehouse; its tables: tester.events"):
        shop_result.primary_keys("orders")


def test_state_is_a_snapshot_of_each_sync(shop_project: Path, tmp_path: Path) -> None:
    first = run_connector(shop_project, warehouse_dir=tmp_path)
    second = run_connector(shop_project, warehouse_dir=tmp_path)
    assert (first.state, second.state) == ({"runs": 1, "cursor": "2024-05-01T00:00:00Z"},
                                           {"runs": 2, "cursor": "2024-05-02T00:00:00Z"})
    first_state = first.state
    assert first_state is not None
    first_state["runs"] = 99
    assert first.state == {"runs": 1, "cursor": "2024-05-01T00:00:00Z"}


def test_testing_namespace_exports_the_helpers() -> None:
    import headwater.testing

    assert headwater.testing.__all__ == sorted(headwater.testing.__all__)
    assert set(headwater.testing.__all__) == {
        "LogLine", "Operation", "SyncResult", "assert_no_duplicate_keys", "assert_no_null_keys", "assert_row_count",
        "assert_state_advanced", "assert_sync_succeeded", "run_connector",
    }
