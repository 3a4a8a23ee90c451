"""The bundled examples run end to end through the real ``headwater debug`` command.

Each test copies an example folder into ``tmp_path`` first, so the repository's ``examples/`` is
never written to, then checks the exit status, the summary and the warehouse contents.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEADWATER = Path(sys.executable).parent / "headwater"
DROPPED_PREFIXES = ("FIVETRAN_", "HW_", "HEADWATER_")


class Run(NamedTuple):
    code: int
    out: str
    err: str

    def counter(self, name: str) -> int:
        """One counter of the operation summary (``Upserts``, ``Checkpoints``, ...)."""
        match = re.search(rf"^{name}\s+\| (\d+)$", self.out, re.MULTILINE)
        assert match, f"no {name} line in the summary:\n{self.out}"
        return int(match.group(1))

    def succeeded(self) -> bool:
        return self.code == 0 and "Sync SUCCEEDED" in self.out


def copy_example(name: str, tmp_path: Path) -> Path:
    """A fresh copy of examples/<name> without any local warehouse or state."""
    target = tmp_path / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("files", "__pycache__"))
    return target


def run(argv: list[str | os.PathLike[str]], cwd: Path | None = None) -> Run:
    """Run a command with no FIVETRAN_*/HEADWATER_* variables and stdin not a terminal."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED_PREFIXES)}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"})
    done = subprocess.run([str(part) for part in argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, encoding="utf-8", timeout=120, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def debug(project: Path) -> Run:
    """``headwater debug PROJECT`` with the console script installed next to this Python."""
    return run([HEADWATER, "debug", project])


def rows(project: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def scalar(project: Path, sql: str) -> Any:
    return rows(project, sql)[0][0]


def saved_state(project: Path) -> Any:
    return json.loads((project / "files" / "state.json").read_text(encoding="utf-8"))


# hello ---------------------------------------------------------------------------------------------


def test_hello_upserts_three_rows_and_checkpoints(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)

    result = debug(project)

    assert result.succeeded(), result.out + result.err
    assert rows(project, "SELECT id, greeting FROM tester.greeting ORDER BY id") == [
        (1, "hello"), (2, "bonjour"), (3, "konnichiwa")]
    assert saved_state(project) == {"runs": 1}


def test_hello_rerun_replaces_rows_instead_of_duplicating(tmp_path: Path) -> None:
    project = copy_example("hello", tmp_path)

    first, second = debug(project), debug(project)

    assert first.succeeded() and second.succeeded(), second.out + second.err
    assert scalar(project, "SELECT count(*) FROM tester.greeting") == 3
    assert saved_state(project) == {"runs": 2}


# every example also runs as `python connector.py` -------------------------------------------------


@pytest.mark.parametrize("name", ["hello", "incremental_orders", "relational_sync"])
def test_example_runs_as_python_connector_py(tmp_path: Path, name: str) -> None:
    project = copy_example(name, tmp_path)

    result = run([sys.executable, "connector.py"], cwd=project)

    assert result.succeeded(), result.out + result.err
    assert (project / "files" / "warehouse.db").is_file()
    assert not list(project.rglob("__pycache__"))


# incremental_orders --------------------------------------------------------------------------------


def test_incremental_orders_first_sync_loads_every_order_with_a_checkpoint_per_page(tmp_path: Path) -> None:
    project = copy_example("incremental_orders", tmp_path)

    result = debug(project)

    assert result.succeeded(), result.out + result.err
    assert result.counter("Checkpoints") == 25  # 2,500 orders in pages of 100
    assert scalar(project, "SELECT count(*) FROM tester.orders") == 2500
    assert scalar(project, "SELECT count(*) FROM tester.order_lines") == scalar(
        project, "SELECT sum(line_count) FROM tester.orders")
    assert saved_state(project) == {"cursor": {"updated_at": "2024-01-05T08:05:00Z", "order_id": 2500}}
    column_types = dict(rows(project, "SELECT column_name, data_type FROM information_schema.columns "
                                      "WHERE table_schema = 'tester' AND table_name = 'orders'"))
    assert column_types["amount"] == "DECIMAL(12,2)"
    assert column_types["is_gift"] == "BOOLEAN"
    assert column_types["updated_at"] == "TIMESTAMP WITH TIME ZONE"


def test_incremental_orders_second_sync_fetches_only_changes_since_the_saved_cursor(tmp_path: Path) -> None:
    project = copy_example("incremental_orders", tmp_path)
    first = debug(project)
    assert first.succeeded(), first.out + first.err
    cursor = saved_state(project)["cursor"]

    second = debug(project)

    assert second.succeeded(), second.out + second.err
    assert f"resuming from cursor updated_at={cursor['updated_at']} order_id={cursor['order_id']}" in second.out
    assert "fetched 8 orders" in second.out  # 5 updated + 3 new
    assert 0 < second.counter("Upserts") < first.counter("Upserts")
    assert scalar(project, "SELECT count(*) FROM tester.orders") == 2503
    assert scalar(project, "SELECT count(*) - count(DISTINCT order_id) FROM tester.orders") == 0
    assert scalar(project, "SELECT count(*) - count(DISTINCT (order_id, line_number)) FROM tester.order_lines") == 0
    assert scalar(project, "SELECT count(*) FROM tester.order_lines") == scalar(
        project, "SELECT sum(line_count) FROM tester.orders")
    changed = scalar(project, f"SELECT count(*) FROM tester.orders WHERE updated_at > '{cursor['updated_at']}'")
    assert changed == 8
    assert saved_state(project)["cursor"]["updated_at"] > cursor["updated_at"]


def test_incremental_orders_small_pages_give_the_same_orders(tmp_path: Path) -> None:
    # Two orders share each timestamp; odd page sizes split those pairs across pages, which the
    # (updated_at, order_id) cursor must handle without skipping or repeating an order.
    project = copy_example("incremental_orders", tmp_path)
    (project / "configuration.json").write_text(json.dumps({"total_orders": "50", "page_size": "7"}))

    first, second = debug(project), debug(project)

    assert first.succeeded() and second.succeeded(), second.out + second.err
    assert first.counter("Checkpoints") == 8
    assert rows(project, "SELECT count(*), count(DISTINCT order_id), min(order_id), max(order_id) "
                         "FROM tester.orders") == [(53, 53, 1, 53)]


def test_incremental_orders_rejects_a_non_numeric_page_size(tmp_path: Path) -> None:
    project = copy_example("incremental_orders", tmp_path)
    (project / "configuration.json").write_text(json.dumps({"page_size": "lots"}))

    result = debug(project)

    assert result.code == 1
    assert "Sync FAILED" in result.out
    assert "'page_size' must be a whole number from 1 to 1000" in result.err
    assert not (project / "files" / "state.json").exists()


# relational_sync -----------------------------------------------------------------------------------


def counts(project: Path, table: str) -> tuple[int, int]:
    """(rows, soft-deleted rows) of a table."""
    return rows(project, f"SELECT count(*), count(*) FILTER (WHERE _fivetran_deleted) FROM tester.{table}")[0]


def test_relational_sync_first_sync_is_a_full_load(tmp_path: Path) -> None:
    project = copy_example("relational_sync", tmp_path)

    result = debug(project)

    assert result.succeeded(), result.out + result.err
    assert counts(project, "customers") == (8, 0)
    assert counts(project, "orders") == (20, 0)
    assert counts(project, "order_items") == (41, 0)
    assert counts(project, "order_statuses") == (5, 0)
    assert saved_state(project) == {"rounds_synced": 1}


def test_relational_sync_later_syncs_apply_updates_deletes_and_inserts(tmp_path: Path) -> None:
    project = copy_example("relational_sync", tmp_path)
    assert debug(project).succeeded()

    second = debug(project)

    assert second.succeeded(), second.out + second.err
    assert (second.counter("Updates"), second.counter("Deletes")) == (2, 2)
    assert counts(project, "customers") == (9, 0)
    assert counts(project, "orders") == (22, 1)
    assert counts(project, "order_items") == (44, 1)
    # op.update changed the e-mail only; the other columns kept their values.
    assert rows(project, "SELECT name, email FROM tester.customers WHERE customer_id = 1") == [
        ("Ada", "ada+round2@example.org")]
    assert scalar(project, "SELECT status FROM tester.orders WHERE order_id = 2") == "shipped"
    # op.delete is a soft delete: the order and its item stay, flagged.
    assert scalar(project, "SELECT _fivetran_deleted FROM tester.orders WHERE order_id = 12") is True
    assert rows(project, "SELECT line_no, _fivetran_deleted FROM tester.order_items WHERE order_id = 12") == [
        (1, True)]
    # The deferred truncate left only the retired status deleted.
    assert rows(project, "SELECT code FROM tester.order_statuses WHERE _fivetran_deleted") == [("on_hold",)]
    assert counts(project, "order_statuses") == (5, 1)

    third = debug(project)

    assert third.succeeded(), third.out + third.err
    assert counts(project, "customers") == (10, 0)
    assert counts(project, "orders") == (24, 2)
    assert counts(project, "order_items") == (48, 3)
    assert rows(project, "SELECT order_id FROM tester.orders WHERE _fivetran_deleted ORDER BY 1") == [(12,), (13,)]
    assert rows(project, "SELECT customer_id, email FROM tester.customers WHERE email LIKE '%+round%' ORDER BY 1") == [
        (1, "ada+round2@example.org"), (2, "grace+round3@example.org")]
    assert saved_state(project) == {"rounds_synced": 3}
