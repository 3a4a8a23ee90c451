"""``headwater run`` into a real PostgreSQL: incremental runs, kills at random moments, racing workers.

The state lives in ``_headwater.state`` and commits with the data; these tests check that no kill
loses or duplicates a row, that the state is never ahead of the data, and that a second worker on
one connection exits at once with status 75.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent.parent
HEADWATER = Path(sys.executable).parent / "headwater"

STEPS = 12
ROWS_PER_STEP = 400

KILLABLE = f"""
import time
from fivetran_connector_sdk import Connector, Operations as op

def schema(configuration):
    return [{{"table": "events", "primary_key": ["id"]}}]

def update(configuration, state):
    step = state.get("step", 0)
    pause = float(configuration.get("pause", "0"))
    while step < {STEPS}:
        for i in range(step * {ROWS_PER_STEP}, (step + 1) * {ROWS_PER_STEP}):
            op.upsert("events", {{"id": i, "step": step, "payload": "x" * 50}})
            if i % 100 == 0:
                op.update("events", {{"id": i, "payload": "updated"}})
        step += 1
        op.checkpoint({{"step": step}})
        time.sleep(pause)

connector = Connector(update=update, schema=schema)
"""


def _url(dsn: str) -> str:
    parts = dict(item.split("=", 1) for item in dsn.split())
    return f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"


def _env(hw: Any) -> dict[str, str]:
    return hw.clean_environment()


def _run(hw: Any, project: Path, dsn: str, *args: str) -> Any:
    return hw.run_cli("run", project, "--destination", _url(dsn), *args, timeout=180)


def _state(dsn: str, connection: str) -> dict[str, Any] | None:
    with psycopg.connect(dsn, autocommit=True) as con:
        exists = con.execute("SELECT to_regclass('_headwater.state')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = con.execute("SELECT state FROM _headwater.state WHERE connection = %s ORDER BY sequence DESC LIMIT 1",
                          [connection]).fetchone()
    return json.loads(row[0]) if row else None


def _rows(dsn: str, schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as con:
        exists = con.execute("SELECT to_regclass(%s)", [f'"{schema}"."events"']).fetchone()
        if exists is None or exists[0] is None:
            return []
        return con.execute(f'SELECT id, step, payload FROM "{schema}".events ORDER BY id').fetchall()


def _expected(steps: int) -> list[tuple[Any, ...]]:
    return [(i, i // ROWS_PER_STEP, "updated" if i % 100 == 0 else "x" * 50) for i in range(steps * ROWS_PER_STEP)]


def test_run_of_the_example_twice_continues_incrementally_from_the_database(pg_dsn: str, tmp_path: Path,
                                                                            hw: Any) -> None:
    project = tmp_path / "orders"
    shutil.copytree(ROOT / "examples" / "incremental_orders", project,
                    ignore=shutil.ignore_patterns("files", "__pycache__"))
    first = _run(hw, project, pg_dsn)
    assert first.code == 0, first.output
    second = _run(hw, project, pg_dsn)
    assert second.code == 0, second.output
    assert "from its saved state" in second.out
    assert not (project / "files").exists()   # files/state.json untouched: never written
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        total, distinct = con.execute("SELECT count(*), count(DISTINCT order_id) FROM orders.orders").fetchone()
        runs = con.execute("SELECT run_id, status FROM _headwater.runs ORDER BY run_id").fetchall()
    assert total == distinct > 0
    assert runs == [(1, "succeeded"), (2, "succeeded")]
    assert _state(pg_dsn, "orders") is not None


def test_sigkill_at_random_moments_never_loses_duplicates_or_runs_ahead(pg_dsn: str, tmp_path: Path,
                                                                        hw: Any) -> None:
    """Seeded and bounded: kill `headwater run` at random moments, resume with a new process each time."""
    project = hw.write_project(tmp_path / "killable", KILLABLE, {"pause": "0.6"})
    rng = random.Random(20261208)
    trials = violations = 0
    deadline = time.monotonic() + 90
    finished = False
    while not finished and time.monotonic() < deadline:
        worker = subprocess.Popen([str(HEADWATER), "run", str(project), "--destination", _url(pg_dsn)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  env=_env(hw), text=True)
        time.sleep(rng.uniform(0.4, 2.0))
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            trials += 1
        worker.communicate(timeout=60)
        finished = worker.returncode == 0
        state = _state(pg_dsn, "killable")
        step = state["step"] if state else 0
        rows = _rows(pg_dsn, "killable")
        # State and data are one transaction: the rows are exactly those of the saved step.
        if rows != _expected(step):
            violations += 1
    if not finished:
        result = _run(hw, project, pg_dsn)
        assert result.code == 0, result.output
    assert _state(pg_dsn, "killable") == {"step": STEPS}
    assert _rows(pg_dsn, "killable") == _expected(STEPS)
    assert trials >= 3, f"only {trials} kills landed"
    assert violations == 0, f"{violations} violations in {trials} kills"


def test_two_workers_on_one_connection_one_runs_and_the_other_exits_75(pg_dsn: str, tmp_path: Path,
                                                                        hw: Any) -> None:
    project = hw.write_project(tmp_path / "racer", KILLABLE, {"pause": "0.2"})
    first = subprocess.Popen([str(HEADWATER), "run", str(project), "--destination", _url(pg_dsn)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             env=_env(hw), text=True)
    deadline = time.monotonic() + 60
    while _state(pg_dsn, "racer") is None:
        assert time.monotonic() < deadline and first.poll() is None, "the first worker never checkpointed"
        time.sleep(0.05)
    second = _run(hw, project, pg_dsn)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert second.code == 75, second.output
    assert "already being synced" in second.err
    assert _rows(pg_dsn, "racer") == _expected(STEPS)


def test_an_unreachable_server_exits_69(tmp_path: Path, hw: Any) -> None:
    project = hw.write_project(tmp_path / "p", KILLABLE)
    with socket_closed() as port:
        result = hw.run_cli("run", project, "--destination", f"postgresql://nobody@127.0.0.1:{port}/db",
                            env={"PGCONNECT_TIMEOUT": "3"})
    assert result.code == 69, result.output
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "127.0.0.1" in errors[0], result.err


class socket_closed:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        return int(self.port)

    def __exit__(self, *exc: Any) -> None:
        pass
