"""Durability (SEM-50 to SEM-55, SEM-60): a sync killed or failing part-way leaves the warehouse at a
commit point and the saved state never ahead of the data, and the next run resumes from the state
without losing or duplicating rows.

The connector writes BATCHES batches of SIZE keyed rows with a checkpoint {"batch": n} after each, n
being the number of batches written so far, so a warehouse at a commit point holds exactly the
batches 0..k-1 and the state says k, or k-1 if headwater was killed between the warehouse commit
and the state file replacement (SEM-55).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BATCHES = 20
SIZE = 5000

CONNECTOR = f"""
import os
import time

from fivetran_connector_sdk import Connector, Logging as log, Operations as op

BATCHES = {BATCHES}
SIZE = {SIZE}
PAUSE = float(os.environ.get("HW_PAUSE", "0"))
FAIL_IN_BATCH = int(os.environ.get("HW_FAIL_IN_BATCH", "-1"))


def schema(configuration):
    return [{{"table": "rows", "primary_key": ["id"]}}]


def update(configuration, state):
    start = state.get("batch", 0)
    log.info(f"RESUMING FROM BATCH {{start}}")
    for batch in range(start, BATCHES):
        for i in range(SIZE):
            op.upsert("rows", {{"id": batch * SIZE + i, "batch": batch, "payload": f"row {{i}} of batch {{batch}}"}})
            if batch == FAIL_IN_BATCH and i == SIZE - 10:
                raise RuntimeError(f"the source failed in batch {{batch}}")
        op.checkpoint({{"batch": batch + 1}})
        time.sleep(PAUSE)


connector = Connector(update=update, schema=schema)
"""

# headwater's own knob (not in the spec): with a 1 MB buffer a batch is flushed into the open
# transaction before its checkpoint, so the kill or failure can land after uncommitted rows reached
# DuckDB. An implementation without the knob ignores the variable.
SPILL = {"HEADWATER_BUFFER_MEMORY": "1MB"}


def describe(result: Any) -> str:
    return f"exit status {result.code}\n--- stdout\n{result.out[-3000:]}\n--- stderr\n{result.err}"


def saved_batch(state_file: Path) -> int:
    """The batch count in the saved state; 0 before the first checkpoint. A torn read would raise."""
    try:
        text = state_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    return int(json.loads(text)["batch"])


def committed_batches(query: Callable[..., Any], db: Path) -> int:
    """Check that the warehouse holds exactly the batches 0..k-1, each complete and without
    duplicates, and return k."""
    per_batch = query(db, "SELECT batch, count(*), count(DISTINCT id) FROM tester.rows GROUP BY batch ORDER BY batch")
    k = len(per_batch)
    assert per_batch == [(b, SIZE, SIZE) for b in range(k)], f"not a commit point: {per_batch}"
    total, distinct, low, high = query(db, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM tester.rows")[0]
    assert total == distinct == k * SIZE
    if k:
        assert (low, high) == (0, k * SIZE - 1)
    return k


def resume_to_completion(
    hw: Any, query: Callable[..., Any], project: Path, saved: int, *, killed: bool = False
) -> None:
    """A normal run resumes from the saved state and ends with every row exactly once; files/ then holds
    only the warehouse and the state (CLI-7), unless a killed run left its temporary state file."""
    result = hw.run_cli("debug", cwd=project, timeout=120)
    assert result.code == 0, describe(result)
    assert f"[connector] RESUMING FROM BATCH {saved}\n" in result.out, describe(result)
    assert f"\nUpserts       | {(BATCHES - saved) * SIZE}\n" in result.out
    assert committed_batches(query, project / "files" / "warehouse.db") == BATCHES
    assert hw.read_state(project) == {"batch": BATCHES}
    if not killed:
        assert sorted(p.name for p in (project / "files").iterdir()) == ["state.json", "warehouse.db"]


@pytest.mark.parametrize(
    ("delay", "env"),
    [(0.0, {}), (0.013, {}), (0.031, {}), (0.0, SPILL), (0.009, SPILL), (0.023, SPILL)],
    ids=["at_once", "after_13ms", "after_31ms", "at_once_spilling", "after_9ms_spilling", "after_23ms_spilling"],
)
def test_killed_sync_leaves_a_commit_point_and_resumes_without_duplicates(
    make_project: Callable[..., Path], hw: Any, query: Callable[..., Any], delay: float, env: dict[str, str]
) -> None:
    project = make_project(CONNECTOR)
    state_file = project / "files" / "state.json"
    seen = 0
    with subprocess.Popen([hw.HEADWATER, "debug"], cwd=project, env=hw.clean_environment({"HW_PAUSE": "0.02", **env}),
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        deadline = time.monotonic() + 60
        while seen < 3:
            assert process.poll() is None, f"the sync ended (status {process.returncode}) before it could be killed"
            assert time.monotonic() < deadline, "no third checkpoint within 60 s"
            time.sleep(0.002)
            seen = saved_batch(state_file)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the sync finished before the kill: make it slower"

    k = committed_batches(query, project / "files" / "warehouse.db")
    saved = saved_batch(state_file)
    assert saved in (k, k - 1), f"saved state says {saved} batches, the warehouse holds {k} (SEM-55)"
    assert saved >= seen >= 3
    resume_to_completion(hw, query, project, saved, killed=True)


@pytest.mark.parametrize("env", [{}, SPILL], ids=["buffered", "spilling"])
def test_failure_after_two_checkpoints_keeps_exactly_their_data_and_state(
    make_project: Callable[..., Path], hw: Any, query: Callable[..., Any], env: dict[str, str]
) -> None:
    project = make_project(CONNECTOR)
    result = hw.run_cli("debug", cwd=project, env={"HW_FAIL_IN_BATCH": "2", **env}, timeout=120)
    assert result.code == 1, describe(result)
    assert result.out.endswith("\nSync FAILED\n"), describe(result)
    assert "the source failed in batch 2" in result.err
    assert f"\nUpserts       | {2 * SIZE + SIZE - 9}\n" in result.out
    assert committed_batches(query, project / "files" / "warehouse.db") == 2
    assert hw.read_state(project) == {"batch": 2}
    assert sorted(p.name for p in (project / "files").iterdir()) == ["state.json", "warehouse.db"]  # CLI-7
    resume_to_completion(hw, query, project, 2)


@pytest.mark.parametrize("env", [{}, SPILL], ids=["buffered", "spilling"])
def test_failure_before_the_first_commit_point_of_a_new_project_leaves_no_warehouse(
    make_project: Callable[..., Path], hw: Any, env: dict[str, str]
) -> None:
    project = make_project(CONNECTOR)
    result = hw.run_cli("debug", cwd=project, env={"HW_FAIL_IN_BATCH": "0", **env}, timeout=120)
    assert result.code == 1, describe(result)
    assert hw.read_state(project) is None
    assert not (project / "files" / "warehouse.db").exists()


@pytest.mark.parametrize("delay", [0.0, 0.017], ids=["at_once", "after_17ms"])
def test_interrupted_sync_exits_130_at_a_commit_point_and_resumes(
    make_project: Callable[..., Path], hw: Any, query: Callable[..., Any], delay: float
) -> None:
    """Ctrl-C (SIGINT) is a failed sync (SEM-54, ERR-6): status 130, summary ending Sync FAILED."""
    project = make_project(CONNECTOR)
    state_file = project / "files" / "state.json"
    with subprocess.Popen([hw.HEADWATER, "debug"], cwd=project, env=hw.clean_environment({"HW_PAUSE": "0.02"}),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        deadline = time.monotonic() + 60
        while saved_batch(state_file) < 3:
            assert process.poll() is None, f"the sync ended (status {process.returncode}) before the interrupt"
            assert time.monotonic() < deadline, "no third checkpoint within 60 s"
            time.sleep(0.002)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130, f"{process.returncode}\n{out[-2000:]}\n{err}"
    assert out.endswith("\nSync FAILED\n"), out[-2000:]
    assert [line for line in err.splitlines() if line.strip()] == [err.strip()] and err.startswith("error: "), err
    k = committed_batches(query, project / "files" / "warehouse.db")
    saved = saved_batch(state_file)
    assert saved in (k, k - 1) and saved >= 3
    resume_to_completion(hw, query, project, saved)
