"""headwater.testing.assertions: each helper passes on good data and fails with a message that
names the table, the keys and the offending rows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import SyncResult, run_connector
from headwater.testing.assertions import (
    assert_no_duplicate_keys,
    assert_no_null_keys,
    assert_row_count,
    assert_state_advanced,
    assert_sync_succeeded,
)


def failure(function: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


# -- assert_sync_succeeded ------------------------------------------------------------------------


def test_sync_succeeded_passes_for_a_successful_sync(shop_result: SyncResult) -> None:
    assert_sync_succeeded(shop_result)


def test_sync_succeeded_failure_shows_the_error_and_the_log(tmp_path: Path, make_project: Callable[..., Path]) -> None:
    project = make_project('''
        from fivetran_connector_sdk import Connector, Logging as log

        def update(configuration, state):
            log.info("about to fail")
            raise RuntimeError("the source is down")

        connector = Connector(update=update)
    ''')
    result = run_connector(project, warehouse_dir=tmp_path / "warehouse")
    message = failure(assert_sync_succeeded, result)
    assert message.startswith("the sync failed (exit status 1): update() failed")
    assert "the source is down" in message
    assert "[connector] about to fail" in message
    assert "Sync FAILED" in message


# -- assert_no_duplicate_keys -----------------------------------------------------------------------


def test_no_duplicate_keys_passes_on_primary_keys(shop_result: SyncResult) -> None:
    assert_no_duplicate_keys(shop_result, "users")
    assert_no_duplicate_keys(shop_result, "tester.lines")
    assert_no_duplicate_keys(shop_result, "events")   # keyless: _fivetran_id


def test_no_duplicate_keys_failure_lists_the_duplicated_rows(shop_result: SyncResult) -> None:
    message = failure(assert_no_duplicate_keys, shop_result, "users", "email")
    assert message.splitlines()[0] == "tester.users has 1 duplicated value of (email), 2 rows in all:"
    assert "  email='dup@example.com': 2 rows" in message
    assert "'id': 4" in message and "'id': 5" in message
    assert "_fivetran_synced" not in message


def test_no_duplicate_keys_can_leave_soft_deleted_rows_out(shop_result: SyncResult) -> None:
    assert_no_duplicate_keys(shop_result, "users", ["email"], include_deleted=False)


def test_no_duplicate_keys_defaults_to_the_key_in_the_table_comment(handmade_result: SyncResult) -> None:
    message = failure(assert_no_duplicate_keys, handmade_result, "accounts")
    assert message.splitlines()[0] == "tester.accounts has 1 duplicated value of (id, region), 3 rows in all:"
    assert "  id=1, region='eu': 3 rows" in message
    for name in ("first", "second", "gone"):
        assert f"'name': '{name}'" in message
    message = failure(assert_no_duplicate_keys, handmade_result, "accounts", include_deleted=False)
    assert "id=1, region='eu': 2 rows" in message


def test_key_helpers_report_unknown_tables_and_columns(shop_result: SyncResult) -> None:
    message = failure(assert_no_duplicate_keys, shop_result, "orders")
    assert message == "no table tester.orders in the warehouse; its tables: tester.events, tester.lines, tester.users"
    message = failure(assert_no_null_keys, shop_result, "users", ["mail"])
    assert message.startswith("tester.users has no column 'mail'; its columns: ['id', 'email', 'name'")


def test_helpers_report_a_missing_warehouse(tmp_path: Path) -> None:
    result = SyncResult(exit_code=1, output="", errors="", project=tmp_path,
                        warehouse=tmp_path / "files" / "warehouse.db", state_path=tmp_path / "files" / "state.json")
    assert failure(assert_row_count, result, "users", 1).startswith(f"no warehouse at {result.warehouse}")


# -- assert_no_null_keys ------------------------------------------------------------------------------


def test_no_null_keys_passes_on_primary_keys(shop_result: SyncResult) -> None:
    assert_no_null_keys(shop_result, "users")
    assert_no_null_keys(shop_result, "lines")
    assert_no_null_keys(shop_result, "events")


def test_no_null_keys_failure_shows_the_rows(shop_result: SyncResult, handmade_result: SyncResult) -> None:
    message = failure(assert_no_null_keys, shop_result, "users", "name")
    assert message.splitlines()[0] == "tester.users has 1 row with a NULL in (name):"
    assert "'id': 3" in message
    message = failure(assert_no_null_keys, handmade_result, "accounts")
    assert message.splitlines()[0] == "tester.accounts has 2 rows with a NULL in (id, region):"
    assert "'name': 'no id'" in message and "'name': 'no region'" in message


# -- assert_row_count -------------------------------------------------------------------------------------


def test_row_count_passes(shop_result: SyncResult) -> None:
    assert_row_count(shop_result, "users", 5)
    assert_row_count(shop_result, "users", 4, include_deleted=False)
    assert_row_count(shop_result, "lines", 2)


def test_row_count_failure_explains_soft_deletes_and_shows_rows(shop_result: SyncResult) -> None:
    message = failure(assert_row_count, shop_result, "users", 4)
    assert message.splitlines()[0] == (
        "tester.users has 5 rows, expected 4 (1 of them soft-deleted; pass include_deleted=False to leave those out)"
    )
    assert "'name': 'renamed'" in message
    message = failure(assert_row_count, shop_result, "users", 5, include_deleted=False)
    assert message.splitlines()[0] == "tester.users has 4 rows not deleted, expected 5 (plus 1 soft-deleted)"
    message = failure(assert_row_count, shop_result, "lines", 3)
    assert message.splitlines()[:2] == ["tester.lines has 2 rows, expected 3", "rows:"]


# -- assert_state_advanced ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (1, 2),
        (1.5, 2),
        ("2024-05-01T12:00:00Z", "2024-05-01T13:00:00+00:00"),
        ("2024-05-01T12:00:00Z", "2024-05-01T14:00:01+02:00"),
        (dt.datetime(2024, 5, 1), "2024-05-02"),
        (None, 1),
        ("page-a", "page-b"),            # not orderable: changing is enough
    ],
)
def test_state_advanced_passes(before: Any, after: Any) -> None:
    assert_state_advanced({"cursor": before}, {"cursor": after}, "cursor")


def test_state_advanced_reads_dotted_paths_key_lists_and_results(shop_result: SyncResult) -> None:
    before, after = {"cursors": {"a.b": {"value": 1}}}, {"cursors": {"a.b": {"value": 2}}}
    assert_state_advanced(before, after, ["cursors", "a.b", "value"])
    assert_state_advanced({"pages": [1, 2]}, {"pages": [1, 3]}, "pages.1")
    assert_state_advanced({}, shop_result, "cursor")
    assert_state_advanced({"runs": 0}, shop_result, "runs")
    assert_state_advanced({"runs": 0}, shop_result)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"c": {"v": 5}}, {"c": {"v": 5}}, "state['c']['v'] did not advance: still 5 (before: 5)"),
        ({"c": {"v": "2024-05-01T12:00:00Z"}}, {"c": {"v": "2024-05-01T14:00:00+02:00"}},
         "state['c']['v'] did not advance: still '2024-05-01T14:00:00+02:00' (before: '2024-05-01T12:00:00Z')"),
        ({"c": {"v": 5}}, {"c": {"v": 4}}, "state['c']['v'] went backwards: 5 before, 4 after"),
        ({"c": {"v": 5}}, {"c": {}}, "state['c']['v'] is missing after the sync; the state after: {'c': {}}"),
        ({"c": {"v": "x"}}, {"c": {"v": "x"}}, "state['c']['v'] did not change: still 'x'"),
    ],
)
def test_state_advanced_failures_say_what_happened(
    before: dict[str, Any], after: dict[str, Any], expected: str
) -> None:
    assert failure(assert_state_advanced, before, after, "c.v") == expected


def test_state_advanced_compares_whole_states_without_a_path() -> None:
    assert failure(assert_state_advanced, {"a": 1}, {"a": 1}) == "the state did not change: still {'a': 1}"


def test_state_advanced_between_two_syncs_of_one_warehouse(shop_project: Path, tmp_path: Path) -> None:
    first = run_connector(shop_project, warehouse_dir=tmp_path)
    second = run_connector(shop_project, warehouse_dir=tmp_path)
    assert first.state == {"runs": 1, "cursor": "2024-05-01T00:00:00Z"}   # a snapshot, not the file
    assert_state_advanced(first, second, "cursor")
    assert re.search(r"did not advance", failure(assert_state_advanced, second, second, "runs"))
