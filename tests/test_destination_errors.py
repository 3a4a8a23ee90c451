"""The machine, not the connector, fails the sync: a full disk, a read-only folder, a locked file.

Each ends with exit status 1 and one clear `error:` line naming the file and the fix, never status 70,
and the last checkpoint stays intact. The disk is a real tiny file system (tmpfs, mounted by the test
when it runs as root, as CI does); a read-only folder is a read-only mount (root ignores file modes).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CONNECTOR = """
from fivetran_connector_sdk import Connector, Operations as op

def schema(configuration):
    return [{"table": "t", "primary_key": ["id"]}]

def update(configuration, state):
    start = state.get("next", 0)
    op.upsert("t", {"id": start, "payload": "first"})
    op.checkpoint({"next": start + 1})
    for i in range(start + 1, start + 1 + int(configuration.get("rows", "0"))):
        op.upsert("t", {"id": i, "payload": "x" * 200 + str(i)})
    op.checkpoint({"next": -1})

connector = Connector(update=update, schema=schema)
"""


def _mount(target: Path, options: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], check=True,
                   capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real file system of ``size`` mounted on ``folder`` (needs root; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny file system needs root (CI runs as root)")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _mount(folder, f"size={size},mode=0755")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.fail(f"cannot mount a tmpfs on {folder}: {exc}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def _project(root: Path, hw: Any, rows: int) -> Path:
    return hw.write_project(root, CONNECTOR, {"rows": str(rows)})


def test_disk_full_during_a_checkpoint_fails_with_exit_1_and_keeps_the_last_checkpoint(tmp_path: Path,
                                                                                        hw: Any) -> None:
    with tmpfs(tmp_path / f"disk-{uuid.uuid4().hex[:8]}", "3m") as disk:
        project = _project(disk / "project", hw, rows=200_000)
        code, out, err = hw.run_cli("debug", project, timeout=120)
        assert code == 1, out + err
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, err
        assert "full" in errors[0] or "space" in errors[0], errors[0]
        assert "warehouse.db" in errors[0] or "state.json" in errors[0], errors[0]
        assert "internal error" not in err and "Traceback" not in err
        # The first checkpoint is intact: its row and its state.
        assert hw.read_state(project) == {"next": 1}
        assert hw.query(project / "files" / "warehouse.db", "SELECT id, payload FROM tester.t") == [(0, "first")]


def test_read_only_files_folder_fails_with_exit_1_naming_the_folder(tmp_path: Path, hw: Any) -> None:
    project = _project(tmp_path / "project", hw, rows=3)
    code, out, err = hw.run_cli("debug", project)
    assert code == 0, out + err
    files = project / "files"
    before = hw.snapshot(project)
    if os.geteuid() != 0:
        files.chmod(0o555)
    else:
        # Root ignores file modes: make files/ a read-only bind mount of itself.
        subprocess.run(["mount", "--bind", str(files), str(files)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(files)], check=True)
    try:
        code, out, err = hw.run_cli("debug", project, env={"HEADWATER_TEST_RUN": "2"})
    finally:
        if os.geteuid() != 0:
            files.chmod(0o755)
        else:
            subprocess.run(["umount", "-l", str(files)], check=False)
    assert code == 1, out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert "internal error" not in err and "Traceback" not in err
    assert str(files) in errors[0] or "warehouse.db" in errors[0], errors[0]
    assert "read-only" in errors[0] or "permission" in errors[0].lower() or "writable" in errors[0], errors[0]
    assert hw.snapshot(project) == before


def test_a_warehouse_held_by_another_process_is_reported_as_locked(tmp_path: Path, hw: Any) -> None:
    project = _project(tmp_path / "project", hw, rows=3)
    assert hw.run_cli("debug", project).code == 0
    holder = subprocess.Popen(
        [str(hw.PYTHON), "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
         str(project / "files" / "warehouse.db")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, out, err = hw.run_cli("debug", project)
    finally:
        holder.kill()
        holder.communicate()
    assert code == 1, out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "warehouse.db" in errors[0], err
    assert "internal error" not in err
