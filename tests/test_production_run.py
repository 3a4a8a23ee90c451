"""``headwater run``: production syncs with the state in the destination (DuckDB here; PostgreSQL in tests/postgres).

Each test drives the real command. The project folder is never written to: state, lock and history
live in the destination's ``_headwater`` schema.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

COUNTER = """
import time
from pathlib import Path
from fivetran_connector_sdk import Connector, Operations as op, Logging as log

def schema(configuration):
    return [{"table": "items", "primary_key": ["id"]}]

def update(configuration, state):
    n = state.get("n", 0)
    log.info(f"token is {configuration.get('token')}")
    for i in range(n, n + 5):
        op.upsert("items", {"id": i, "value": f"v{i}"})
    op.checkpoint({"n": n + 5})
    ready = configuration.get("ready")
    if ready:
        Path(ready).write_text("ready")
        time.sleep(float(configuration.get("sleep", "0")))
    if configuration.get("fail") == "yes":
        raise RuntimeError("the source broke")

connector = Connector(update=update, schema=schema)
"""


@pytest.fixture
def counter(tmp_path: Path, hw: Any) -> Path:
    return hw.write_project(tmp_path / "counter", COUNTER, {"token": "${COUNTER_TOKEN}"})


def _run(hw: Any, project: Path, db: Path, *args: str, env: dict[str, str | None] | None = None) -> Any:
    environment = {"COUNTER_TOKEN": "s3cr3t-token-value-42"}
    environment.update(env or {})
    return hw.run_cli("run", project, "--destination", f"duckdb:///{db}", *args, env=environment)


def test_run_of_the_example_twice_continues_incrementally_with_the_state_in_the_database(tmp_path: Path,
                                                                                          hw: Any) -> None:
    project = tmp_path / "orders"
    shutil.copytree(EXAMPLES / "incremental_orders", project, ignore=shutil.ignore_patterns("files", "__pycache__"))
    db = tmp_path / "prod.duckdb"
    first = hw.run_cli("run", project, "--destination", f"duckdb:///{db}")
    assert first.code == 0, first.output
    second = hw.run_cli("run", project, "--destination", f"duckdb:///{db}")
    assert second.code == 0, second.output
    assert not (project / "files").exists()  # nothing in the project: no state.json, no warehouse
    assert "from its saved state" in second.out
    orders = hw.query(db, "SELECT count(*), count(DISTINCT order_id) FROM orders.orders")
    assert orders[0][0] == orders[0][1] > 0
    states = hw.query(db, "SELECT count(*) FROM _headwater.state WHERE connection = 'orders'")
    assert states[0][0] >= 2
    runs = hw.query(db, "SELECT run_id, status FROM _headwater.runs ORDER BY run_id")
    assert runs == [(1, "succeeded"), (2, "succeeded")]


def test_state_commits_with_the_data_and_a_failed_run_keeps_the_last_checkpoint(counter: Path, tmp_path: Path,
                                                                               hw: Any) -> None:
    db = tmp_path / "prod.duckdb"
    assert _run(hw, counter, db).code == 0
    config = json.loads((counter / "configuration.json").read_text())
    (counter / "configuration.json").write_text(json.dumps({**config, "fail": "yes"}))
    failed = _run(hw, counter, db)
    assert failed.code == 1, failed.output
    assert "the source broke" in failed.err
    assert hw.query(db, "SELECT count(*) FROM counter.items") == [(10,)]
    shown = hw.run_cli("state", "show", counter, "--destination", f"duckdb:///{db}")
    assert shown.code == 0 and json.loads(shown.out) == {"n": 10}
    history = hw.run_cli("history", counter, "--destination", f"duckdb:///{db}", "--format", "json")
    runs = json.loads(history.out)
    assert [r["status"] for r in runs] == ["failed", "succeeded"]
    assert runs[0]["error"] and "the source broke" in runs[0]["error"]
    assert runs[1]["counts"]["upserts"] == 5 and runs[1]["tables"] == {"items": 5}


def test_state_set_and_rewind(counter: Path, tmp_path: Path, hw: Any) -> None:
    db = tmp_path / "prod.duckdb"
    url = f"duckdb:///{db}"
    for _ in range(3):
        assert _run(hw, counter, db).code == 0
    assert json.loads(hw.run_cli("state", "show", counter, "--destination", url).out) == {"n": 15}
    rewound = hw.run_cli("state", "rewind", counter, "--destination", url, "--steps", "2")
    assert rewound.code == 0, rewound.output
    assert json.loads(hw.run_cli("state", "show", counter, "--destination", url).out) == {"n": 5}
    bad = hw.run_cli("state", "set", counter, "[1, 2]", "--destination", url)
    assert bad.code == 2 and "JSON object" in bad.err
    assert hw.run_cli("state", "set", counter, '{"n": 100}', "--destination", url).code == 0
    assert _run(hw, counter, db).code == 0
    assert hw.query(db, "SELECT max(id) FROM counter.items") == [(104,)]
    too_far = hw.run_cli("state", "rewind", counter, "--destination", url, "--steps", "50")
    assert too_far.code == 1 and "cannot go back" in too_far.err


def test_a_second_worker_on_the_same_connection_exits_75_and_disturbs_nothing(counter: Path, tmp_path: Path,
                                                                            hw: Any) -> None:
    db = tmp_path / "prod.duckdb"
    ready = tmp_path / "ready"
    config = json.loads((counter / "configuration.json").read_text())
    (counter / "configuration.json").write_text(json.dumps({**config, "ready": str(ready), "sleep": "3"}))
    env = hw.clean_environment({"COUNTER_TOKEN": "s3cr3t-token-value-42"})
    first = subprocess.Popen([str(hw.HEADWATER), "run", str(counter), "--destination", f"duckdb:///{db}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             env=env)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline, "the first worker never got going"
        time.sleep(0.02)
    second = _run(hw, counter, db)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert second.code == 75, second.output
    assert "another" in second.err
    assert hw.query(db, "SELECT count(*) FROM counter.items") == [(5,)]


def test_configuration_references_resolve_and_their_values_are_masked(counter: Path, tmp_path: Path,
                                                                      hw: Any) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("file-secret-0123456789\n")
    (counter / "configuration.json").write_text(json.dumps({"token": "${file:" + str(secret_file) + "}"}))
    db = tmp_path / "prod.duckdb"
    result = _run(hw, counter, db, "--log-format", "json")
    assert result.code == 0, result.output
    assert "file-secret-0123456789" not in result.output
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert all(set(line) == {"time", "level", "source", "message", "connection"} for line in lines)
    assert any(line["source"] == "connector" and "token is" in line["message"] for line in lines)
    assert {line["connection"] for line in lines} == {"counter"}


def test_a_missing_environment_reference_names_the_key(counter: Path, tmp_path: Path, hw: Any) -> None:
    result = _run(hw, counter, tmp_path / "prod.duckdb", env={"COUNTER_TOKEN": None})
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "'token'" in errors[0] and "COUNTER_TOKEN" in errors[0], result.err


def test_an_unknown_destination_is_a_usage_error(counter: Path, hw: Any) -> None:
    result = hw.run_cli("run", counter, "--destination", "mysql://x/y")
    assert result.code == 2 and "postgresql://" in result.err and "duckdb:///" in result.err


def test_connection_and_schema_options_name_state_and_tables(counter: Path, tmp_path: Path, hw: Any) -> None:
    db = tmp_path / "prod.duckdb"
    assert _run(hw, counter, db, "--connection", "c1", "--schema", "analytics").code == 0
    assert _run(hw, counter, db, "--connection", "c2", "--schema", "analytics").code == 0
    assert hw.query(db, "SELECT count(*) FROM analytics.items") == [(5,)]
    assert hw.query(db, "SELECT connection, max(sequence) FROM _headwater.state GROUP BY 1 ORDER BY 1") == [
        ("c1", 1), ("c2", 1)]


def test_a_connector_cannot_write_into_the_bookkeeping_schema(tmp_path: Path, hw: Any) -> None:
    project = hw.write_project(tmp_path / "sneaky", """
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("state", {"connection": "x"}, schema="_headwater")

        connector = Connector(update=update)
    """)
    # FIVETRAN naming makes "_headwater" "headwater"; SOURCE naming keeps it, and it is refused.
    result = hw.run_cli("run", project, "--naming", "SOURCE", "--destination", f"duckdb:///{tmp_path / 'prod.duckdb'}")
    assert result.code == 1 and "reserved" in result.err, result.output
