"""A sync never loses checkpointed data and never succeeds silently: races, half-resets, odd names, traps.

Every test drives the real ``headwater`` command the way a careful (or hostile) user would.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

SLOW_CONNECTOR = """
import time
from pathlib import Path
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    n = state.get("n", 0)
    for i in range(n, n + 3):
        op.upsert("t", {"id": i})
    op.checkpoint({"n": n + 3})
    Path(configuration["ready"]).write_text("ready")
    time.sleep(float(configuration.get("sleep", "0")))
    for i in range(n + 3, n + 6):
        op.upsert("t", {"id": i})
    op.checkpoint({"n": n + 6})

connector = Connector(update=update)
"""


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)


def _start(hw: Any, *args: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([str(hw.HEADWATER), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=hw.clean_environment())


def _slow_project(tmp_path: Path, hw: Any, sleep: float = 3.0) -> tuple[Path, Path]:
    ready = tmp_path / "ready"
    project = hw.write_project(tmp_path / "project", SLOW_CONNECTOR, {"ready": str(ready), "sleep": str(sleep)})
    return project, ready


# -- races ---------------------------------------------------------------------------------------------


def test_a_second_run_on_a_fresh_project_is_refused_and_deletes_nothing_of_the_first(tmp_path: Path,
                                                                                       hw: Any) -> None:
    project, ready = _slow_project(tmp_path, hw)
    first = _start(hw, "debug", project)
    _wait_for(ready)
    code, out, err = hw.run_cli("debug", project)
    assert code == 1 and "in use by another headwater process" in err, out + err
    first_out, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_out + first_err
    assert hw.read_state(project) == {"n": 6}
    assert hw.query(project / "files" / "warehouse.db", "SELECT count(*) FROM tester.t") == [(6,)]


def test_two_runs_started_together_on_a_fresh_project_leave_one_consistent_pair(tmp_path: Path, hw: Any) -> None:
    project, _ = _slow_project(tmp_path, hw, sleep=0.5)
    runs = [_start(hw, "debug", project) for _ in range(2)]
    outcomes = [(run.wait(timeout=60), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], outcomes
    assert any("in use by another headwater process" in err for _, _, err in outcomes)
    assert hw.read_state(project) == {"n": 6}
    assert hw.query(project / "files" / "warehouse.db", "SELECT count(*) FROM tester.t") == [(6,)]


def test_reset_during_a_sync_is_refused_and_the_sync_keeps_its_data(tmp_path: Path, hw: Any) -> None:
    project, ready = _slow_project(tmp_path, hw)
    sync = _start(hw, "debug", project)
    _wait_for(ready)
    code, out, err = hw.run_cli("reset", "--force", project)
    assert code == 1 and "in use by another headwater process" in err and "--wait" in err, out + err
    assert sync.wait(timeout=60) == 0
    sync.communicate()
    assert hw.query(project / "files" / "warehouse.db", "SELECT count(*) FROM tester.t") == [(6,)]


def test_reset_with_wait_waits_for_the_sync_then_deletes(tmp_path: Path, hw: Any) -> None:
    project, ready = _slow_project(tmp_path, hw, sleep=1.0)
    sync = _start(hw, "debug", project)
    _wait_for(ready)
    code, out, err = hw.run_cli("reset", "--force", "--wait", project)
    assert sync.wait(timeout=60) == 0
    sync.communicate()
    assert code == 0, out + err
    assert not (project / "files" / "warehouse.db").exists() and not (project / "files" / "state.json").exists()


# -- state and data stay a pair ---------------------------------------------------------------------------


def _synced_twice(tmp_path: Path, hw: Any) -> Path:
    project, _ = _slow_project(tmp_path, hw, sleep=0)
    assert hw.run_cli("debug", project).code == 0
    return project


def test_a_state_whose_warehouse_was_deleted_is_refused_with_the_fixes(tmp_path: Path, hw: Any) -> None:
    project = _synced_twice(tmp_path, hw)
    (project / "files" / "warehouse.db").unlink()
    code, out, err = hw.run_cli("debug", project)
    assert code == 1, out + err
    assert "missing" in err and "headwater reset" in err and "--full-resync" in err
    assert hw.read_state(project) == {"n": 6}
    code, out, err = hw.run_cli("debug", "--full-resync", project)
    assert code == 0, out + err
    assert hw.read_state(project) == {"n": 6}
    assert hw.query(project / "files" / "warehouse.db", "SELECT count(*) FROM tester.t") == [(6,)]
    assert hw.run_cli("debug", project).code == 0   # paired again: resumes
    assert hw.read_state(project) == {"n": 12}


def test_a_state_paired_with_another_warehouse_is_refused(tmp_path: Path, hw: Any) -> None:
    project = _synced_twice(tmp_path, hw)
    other, _ = _slow_project(tmp_path / "other", hw, sleep=0)
    assert hw.run_cli("debug", other).code == 0
    shutil.copyfile(other / "files" / "warehouse.db", project / "files" / "warehouse.db")
    code, out, err = hw.run_cli("debug", project)
    assert code == 1 and "another warehouse" in err, out + err


def test_a_reset_killed_after_the_state_went_resumes_from_scratch_into_the_kept_warehouse(tmp_path: Path,
                                                                                          hw: Any) -> None:
    project = _synced_twice(tmp_path, hw)
    # reset deletes the state first: a kill right after leaves the warehouse without a state.
    (project / "files" / "state.json").unlink()
    code, out, err = hw.run_cli("debug", project)
    assert code == 0, out + err
    assert hw.read_state(project) == {"n": 6}
    assert hw.query(project / "files" / "warehouse.db", "SELECT count(*), count(DISTINCT id) FROM tester.t") == [
        (6, 6)]


def test_reset_deletes_the_state_before_the_warehouse(tmp_path: Path) -> None:
    from headwater.reset import reset_targets

    files = tmp_path / "files"
    files.mkdir()
    for name in ("warehouse.db", "warehouse.db.wal", "state.json"):
        (files / name).write_text("x")
    assert [p.name for p in reset_targets(tmp_path)] == ["state.json", "warehouse.db", "warehouse.db.wal"]


# -- SIGTERM ---------------------------------------------------------------------------------------------


def test_sigterm_is_handled_like_ctrl_c_with_exit_143_and_a_summary(tmp_path: Path, hw: Any) -> None:
    project, ready = _slow_project(tmp_path, hw, sleep=30)
    sync = _start(hw, "debug", project)
    _wait_for(ready)
    sync.send_signal(signal.SIGTERM)
    out, err = sync.communicate(timeout=60)
    assert sync.returncode == 143, out + err
    assert "Sync FAILED" in out and "Checkpoints   | 1" in out
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "SIGTERM" in errors[0], err
    assert hw.read_state(project) == {"n": 3}
    assert hw.query(project / "files" / "warehouse.db", "SELECT count(*) FROM tester.t") == [(3,)]


# -- silent success ----------------------------------------------------------------------------------------


def test_yielding_records_instead_of_operations_warns(make_project: Any, run_cli: Any) -> None:
    project = make_project("""
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            yield {"id": 1}
            yield op.upsert("t", {"id": 2})

        connector = Connector(update=update)
    """)
    code, out, err = run_cli("debug", project)
    assert code == 0, out + err
    assert "yielded a dict that is not an operation" in out


def test_a_helper_generator_that_is_only_called_is_reported(make_project: Any, run_cli: Any) -> None:
    project = make_project("""
        from fivetran_connector_sdk import Connector, Operations as op

        def rows():
            yield op.upsert("t", {"id": 1})

        def update(configuration, state):
            rows()

        connector = Connector(update=update)
    """)
    code, out, err = run_cli("debug", project)
    assert code == 0, out + err
    assert "without sending any operation" in out and "yield from" in out


def test_update_returning_records_is_reported(make_project: Any, run_cli: Any) -> None:
    project = make_project("""
        from fivetran_connector_sdk import Connector

        def update(configuration, state):
            return [{"id": 1}]

        connector = Connector(update=update)
    """)
    code, out, err = run_cli("debug", project)
    assert code == 0, out + err
    assert "update() returned a list" in out


def test_module_level_connector_debug_is_ignored_with_a_warning_and_writes_nothing_elsewhere(
        make_project: Any, run_cli: Any, tmp_path: Path) -> None:
    project = make_project("""
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})

        connector = Connector(update=update)
        connector.debug()
    """)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    code, out, err = run_cli("debug", project, cwd=elsewhere)
    assert code == 0, out + err
    assert "connector.debug() was called while headwater was importing connector.py" in out
    assert out.count("Sync SUCCEEDED") == 1
    assert list(elsewhere.iterdir()) == []


# -- names that look internal ---------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["main", "temp", "system", "tester"])
def test_a_table_named_like_the_internal_batch_is_written(make_project: Any, run_cli: Any, query: Any,
                                                          schema: str) -> None:
    project = make_project(f"""
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            for i in range(3):
                op.upsert("hw_batch", {{"id": i, "k0": i, "v0": "x"}}, schema="{schema}")
            op.checkpoint({{}})
            op.upsert("hw_batch", {{"id": 1, "k0": 5, "v0": "y"}}, schema="{schema}")

        connector = Connector(update=update, schema=lambda c: [
            {{"table": "hw_batch", "schema": "{schema}", "primary_key": ["id"]}}])
    """, {}, name=f"p_{schema}")
    for _ in range(2):
        code, out, err = run_cli("debug", project)
        assert code == 0, out + err
    rows = query(project / "files" / "warehouse.db",
                 f'SELECT id, k0, v0 FROM warehouse."{schema}".hw_batch ORDER BY id')
    assert rows == [(0, 0, "x"), (1, 5, "y"), (2, 2, "x")]


def test_update_and_delete_of_a_table_whose_names_match_the_internal_aliases(make_project: Any, run_cli: Any,
                                                                             query: Any) -> None:
    project = make_project("""
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            for i in range(4):
                op.upsert("u", {"k0": i, "v0": f"v{i}", "hw_source": i, "hw_target": i, "seq": i, "p0": True})
            op.checkpoint({})
            op.update("u", {"k0": 1, "v0": "changed", "seq": 10})
            op.delete("u", {"k0": 2})

        connector = Connector(update=update, schema=lambda c: [{"table": "u", "primary_key": ["k0"]}])
    """)
    code, out, err = run_cli("debug", project)
    assert code == 0, out + err
    rows = query(project / "files" / "warehouse.db",
                 "SELECT k0, v0, seq, _fivetran_deleted FROM tester.u ORDER BY k0")
    assert rows == [(0, "v0", 0, False), (1, "changed", 10, False), (2, "v2", 2, True), (3, "v3", 3, False)]


@pytest.mark.parametrize("schema", ["information_schema", "pg_catalog"])
def test_a_reserved_schema_is_refused_with_the_spec_error(make_project: Any, run_cli: Any, schema: str) -> None:
    project = make_project(f"""
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {{"id": 1}}, schema="{schema}")

        connector = Connector(update=update)
    """)
    code, out, err = run_cli("debug", project)
    assert code == 1, out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "reserved" in errors[0] and "internal error" not in err, err
