"""cli.md end to end: help, version, command names, ``reset``, log lines, the summary, configuration
and state sources, the debug environment variables, and what a run leaves in the project."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headwater import __version__

LEVELS = ("DEBUG", "FINE", "INFO", "WARNING", "ERROR", "SEVERE", "CRITICAL")
LOG_LINE = re.compile(
    r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) (?P<level>[A-Z]+) +\[(?P<origin>connector|headwater)\] (?P<msg>.*)$"
)
SUMMARY_HEAD = "Operation     | Calls"

HELLO = """
from fivetran_connector_sdk import Connector, Operations as op


def update(configuration, state):
    op.upsert("hello", {"message": "hello, world!"})
    op.checkpoint({"done": True})


connector = Connector(update=update)
"""

# Records what update() received; checkpoints {"run": n}.
RECORDER = """
import json

from fivetran_connector_sdk import Connector, Operations as op


def update(configuration, state):
    run = state.get("run", 0) + 1
    op.upsert("runs", {"run": run, "state": json.dumps(state, sort_keys=True),
                       "configuration": json.dumps(configuration, sort_keys=True)})
    op.checkpoint({"run": run})


connector = Connector(update=update)
"""


def describe(result: Any) -> str:
    return f"exit status {result.code}\n--- stdout\n{result.out}\n--- stderr\n{result.err}"


def log_lines(out: str) -> list[re.Match[str]]:
    return [m for m in map(LOG_LINE.match, out.splitlines()) if m]


# -- help, version, command names ----------------------------------------------------------------


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("help",), ("HELP",)])
def test_top_level_help_lists_the_commands(run_cli: Callable[..., Any], args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.code == 0, describe(result)
    for command in ("debug", "reset", "version"):
        assert command in result.out
    assert result.err == ""


@pytest.mark.parametrize("args", [("debug", "--help"), ("debug", "-h"), ("help", "debug")])
def test_debug_help_mentions_its_options(run_cli: Callable[..., Any], args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.code == 0, describe(result)
    for option in ("--configuration", "--state", "--naming", "PROJECT_PATH"):
        assert option in result.out, result.out


def test_reset_help_mentions_every_confirmation_flag(run_cli: Callable[..., Any]) -> None:
    result = run_cli("reset", "--help")
    assert result.code == 0, describe(result)
    for flag in ("--force", "-f", "--yes", "-y", "--non-interactive"):
        assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", result.out), flag


@pytest.mark.parametrize("args", [("version",), ("--version",), ("Version",)])
def test_version_prints_headwater_and_the_version(run_cli: Callable[..., Any], args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.code == 0, describe(result)
    assert result.out == f"headwater {__version__}\n"
    assert re.fullmatch(r"headwater \d+\.\d+\.\d+\S*\n", result.out)


def test_command_names_are_matched_without_regard_to_case(
    make_project: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    project = make_project(HELLO)
    result = run_cli("DEBUG", cwd=project)
    assert result.code == 0, describe(result)
    assert result.out.endswith("Sync SUCCEEDED\n")
    result = run_cli("Reset", "--force", cwd=project)
    assert result.code == 0, describe(result)
    assert not (project / "files").exists()


@pytest.mark.parametrize(("typed", "meant"), [("debgu", "debug"), ("rest", "reset"), ("verison", "version")])
def test_unknown_command_suggests_the_closest_one(run_cli: Callable[..., Any], typed: str, meant: str) -> None:
    result = run_cli(typed)
    assert result.code == 2, describe(result)
    assert "usage" in result.output.lower()
    assert f"'{meant}'" in result.err or f'"{meant}"' in result.err or f" {meant}" in result.err, describe(result)


# -- reset (CLI-20, CLI-21) ----------------------------------------------------------------------


def project_with_outputs(make_project: Callable[..., Path]) -> Path:
    """A project with everything reset deletes and things it must keep."""
    return make_project(HELLO, {"api_key": "secret"}, files={
        "files/warehouse.db": "warehouse",
        "files/warehouse.db.wal": "write-ahead log",
        "files/state.json": '{"done": true}',
        "my_state.json": '{"cursor": 1}',
    })


def test_reset_refuses_without_terminal_or_flag(make_project: Callable[..., Path], run_cli: Callable[..., Any]) -> None:
    project = project_with_outputs(make_project)
    result = run_cli("reset", cwd=project)
    assert result.code == 2, describe(result)
    assert result.err.startswith("error: ") and result.err.count("\n") == 1 and "--force" in result.err
    assert sorted(p.name for p in (project / "files").iterdir()) == ["state.json", "warehouse.db", "warehouse.db.wal"]


@pytest.mark.parametrize("flag", ["--force", "-f", "--yes", "-y", "--non-interactive"])
def test_reset_with_a_confirmation_flag_deletes_warehouse_and_saved_state_only(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], flag: str
) -> None:
    project = project_with_outputs(make_project)
    result = run_cli("reset", flag, cwd=project)
    assert result.code == 0, describe(result)
    assert not (project / "files").exists(), "an emptied files/ folder must be removed"
    assert sorted(p.name for p in project.iterdir()) == ["configuration.json", "connector.py", "my_state.json"]


def test_reset_keeps_files_folder_holding_other_files(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    project = make_project(RECORDER, files={"files/custom_state.json": "{}"})
    assert run_cli("debug", "--state", "files/custom_state.json", cwd=project).code == 0
    assert run_cli("debug", cwd=project).code == 0  # writes files/state.json too
    result = run_cli("reset", "--force", project, cwd=tmp_path)
    assert result.code == 0, describe(result)
    assert sorted(p.name for p in (project / "files").iterdir()) == ["custom_state.json"]
    assert json.loads((project / "files" / "custom_state.json").read_text()) == {"run": 1}


def test_reset_with_nothing_to_delete_says_so(make_project: Callable[..., Path], run_cli: Callable[..., Any]) -> None:
    project = make_project(HELLO)
    result = run_cli("reset", "--force", cwd=project)
    assert result.code == 0, describe(result)
    assert "nothing" in result.output.lower()
    assert sorted(p.name for p in project.iterdir()) == ["connector.py"]


def reset_in_terminal(hw: Any, project: Path, answer: bytes) -> tuple[int, str]:
    """Run ``headwater reset`` with a pseudo-terminal on stdin and type ``answer``."""
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen([hw.HEADWATER, "reset"], cwd=project, env=hw.clean_environment(), stdin=terminal,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
            os.close(terminal)
            terminal = -1
            os.write(controller, answer)
            out, _ = process.communicate(timeout=30)
            return process.returncode, out.decode()
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)


@pytest.mark.parametrize(("answer", "deleted"), [(b"\n", True), (b"y\n", True), (b"n\n", False)],
                         ids=["default_yes", "yes", "no"])
def test_reset_asks_for_confirmation_on_a_terminal(
    make_project: Callable[..., Path], hw: Any, answer: bytes, deleted: bool
) -> None:
    project = project_with_outputs(make_project)
    code, out = reset_in_terminal(hw, project, answer)
    assert code == 0, out
    assert "(Y/n)" in out, out
    assert (project / "files" / "warehouse.db").exists() is not deleted
    assert (project / "files" / "state.json").exists() is not deleted
    assert (project / "configuration.json").exists()


# -- log lines (CLI-10, API-41, API-42) and the summary (CLI-12) ---------------------------------

LOGGING = """
from fivetran_connector_sdk import Connector, Logging as log, Operations as op


def update(configuration, state):
    log.debug("a debug line")
    log.fine("a fine line")
    log.info("an info line")
    log.warning("rate limit low")
    log.error("an error line")
    log.severe("a severe line")
    log.critical("a critical line")
    op.warning("an operations warning")
    log.info("first line\\nsecond line\\n  third line, indented")
    log.info(12345)
    op.checkpoint({"done": True})


connector = Connector(update=update)
"""


@pytest.fixture(scope="module")
def logging_run(tmp_path_factory: pytest.TempPathFactory, hw: Any) -> tuple[Any, dt.datetime]:
    """One run of LOGGING in a time zone 5:45 ahead of UTC (Nepal), without NO_COLOR (stdout is a pipe, so
    no colour codes either way), and the local time it started."""
    project = hw.write_project(tmp_path_factory.mktemp("logging"), LOGGING)
    zone = dt.timezone(dt.timedelta(hours=5, minutes=45))
    started = dt.datetime.now(zone)
    result = hw.run_cli("debug", cwd=project, env={"TZ": "NPT-05:45", "NO_COLOR": None})
    assert result.code == 0, describe(result)
    return result, started


def test_every_output_line_is_a_log_line_a_continuation_or_the_summary(logging_run: tuple[Any, dt.datetime]) -> None:
    result, _ = logging_run
    lines = result.out.splitlines()
    body, summary = lines[:-9], lines[-9:]
    assert summary[0] == SUMMARY_HEAD
    for line in body:
        match = LOG_LINE.match(line)
        if match is None:
            assert line.startswith(" " * 22), f"neither a log line nor a continuation: {line!r}"
            continue
        level = match["level"]
        assert level in LEVELS
        assert line[13:22] == f"{level:<8} ", f"level not padded to 8 characters and a space: {line!r}"
    assert "\x1b" not in result.out, "colour codes written although stdout is not a terminal"


def test_connector_log_lines_carry_their_level_and_origin(logging_run: tuple[Any, dt.datetime]) -> None:
    result, _ = logging_run
    found = {(m["level"], m["origin"], m["msg"]) for m in log_lines(result.out)}
    for expected in [
        ("DEBUG", "connector", "a debug line"),
        ("FINE", "connector", "a fine line"),
        ("INFO", "connector", "an info line"),
        ("WARNING", "connector", "rate limit low"),
        ("ERROR", "connector", "an error line"),
        ("SEVERE", "connector", "a severe line"),
        ("CRITICAL", "connector", "a critical line"),
        ("WARNING", "connector", "an operations warning"),
        ("INFO", "connector", "12345"),
    ]:
        assert expected in found, f"{expected} not logged\n{result.out}"
    assert any(origin == "headwater" and level == "INFO" for level, origin, _ in found)
    assert " WARNING  [connector] rate limit low" in result.out


def test_multi_line_message_continues_at_the_message_column(logging_run: tuple[Any, dt.datetime]) -> None:
    result, _ = logging_run
    lines = result.out.splitlines()
    first = next(n for n, line in enumerate(lines) if line.endswith("[connector] first line"))
    column = lines[first].index("first line")
    assert lines[first + 1] == " " * column + "second line"
    assert lines[first + 2] == " " * column + "  third line, indented"


def test_log_time_is_local_wall_clock_time_with_milliseconds(logging_run: tuple[Any, dt.datetime]) -> None:
    result, started = logging_run
    first = log_lines(result.out)[0]
    hours, minutes = int(first.group(1)), int(first.group(2))
    logged = hours * 60 + minutes
    expected = started.hour * 60 + started.minute
    assert min((logged - expected) % 1440, (expected - logged) % 1440) <= 2, (first.group(0), started)


def test_summary_block_counts_the_operations(make_project: Callable[..., Path], run_cli: Callable[..., Any]) -> None:
    project = make_project(
        """
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration):
            return [{"table": "t", "primary_key": ["id"], "columns": {"id": "INT", "name": "STRING"}}]


        def update(configuration, state):
            for i in range(3):
                op.upsert("t", {"id": i, "name": f"row {i}"})
            op.update("t", {"id": 1, "name": "changed"})
            op.delete("t", {"id": 0})
            op.delete("t", {"id": 2})
            op.truncate("t")
            op.checkpoint({"done": True})


        connector = Connector(update=update, schema=schema)
        """
    )
    result = run_cli("debug", cwd=project)
    assert result.code == 0, describe(result)
    expected = (
        "Operation     | Calls\n"
        "------------- + ------------\n"
        "Upserts       | 3\n"
        "Updates       | 1\n"
        "Deletes       | 2\n"
        "Truncates     | 1\n"
        "SchemaChanges | 1\n"
        "Checkpoints   | 1\n"
        "Sync SUCCEEDED\n"
    )
    assert result.out.endswith("\n" + expected), result.out
    assert result.out.count(SUMMARY_HEAD) == 1


@pytest.mark.parametrize("level", ["name", "enum"])
def test_connector_debug_log_level_hides_lower_connector_levels(
    make_project: Callable[..., Path], hw: Any, level: str
) -> None:
    project = make_project(
        """
        import sys

        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration, state):
            log.info("an info line that must be hidden")
            log.warning("a warning that must be shown")
            log.severe("a severe line that must be shown")
            op.checkpoint({"done": True})


        connector = Connector(update=update)

        if __name__ == "__main__":
            connector.debug(log_level=log.Level.WARNING if sys.argv[1] == "enum" else "WARNING")
        """
    )
    result = hw.run_command([hw.PYTHON, "connector.py", level], cwd=project)
    assert result.code == 0, describe(result)
    assert "an info line that must be hidden" not in result.out
    assert "WARNING  [connector] a warning that must be shown" in result.out
    assert "SEVERE   [connector] a severe line that must be shown" in result.out
    assert result.out.endswith("Sync SUCCEEDED\n")
    assert hw.read_state(project) == {"done": True}


# -- configuration and state sources (CLI-4, CLI-5) ----------------------------------------------


def no_configuration_notes(out: str) -> list[str]:
    """headwater's INFO lines saying that no configuration was found."""
    return [m["msg"] for m in log_lines(out)
            if m["level"] == "INFO" and m["origin"] == "headwater"
            and re.search(r"\b(no|without)\b.*configuration|configuration.*\bnot found", m["msg"].lower())]


def test_missing_configuration_is_an_empty_one_with_an_info_line(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], query: Callable[..., Any]
) -> None:
    project = make_project(RECORDER)
    result = run_cli("debug", cwd=project)
    assert result.code == 0, describe(result)
    assert len(no_configuration_notes(result.out)) == 1, result.out
    assert query(project / "files" / "warehouse.db", "SELECT configuration FROM tester.runs") == [("{}",)]

    (project / "configuration.json").write_text('{"api_key": "k"}')
    result = run_cli("debug", cwd=project)
    assert result.code == 0, describe(result)
    assert no_configuration_notes(result.out) == [], result.out


@pytest.mark.parametrize(("keys", "warned"), [(101, True), (100, False)])
def test_more_than_100_configuration_keys_warns_but_syncs(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], query: Callable[..., Any], keys: int, warned: bool
) -> None:
    project = make_project(RECORDER, {f"key_{n:03d}": str(n) for n in range(keys)})
    result = run_cli("debug", cwd=project)
    assert result.code == 0, describe(result)
    warnings = [m for m in log_lines(result.out) if m["level"] == "WARNING" and m["origin"] == "headwater"]
    assert bool(warnings) is warned, result.out
    if warned:
        assert "100" in warnings[0]["msg"] or "101" in warnings[0]["msg"]
    (received,) = query(project / "files" / "warehouse.db", "SELECT configuration FROM tester.runs")[0]
    assert len(json.loads(received)) == keys


def test_relative_state_and_configuration_paths_are_resolved_against_the_project(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], query: Callable[..., Any], tmp_path: Path
) -> None:
    project = make_project(RECORDER, files={"settings/dev.json": '{"mode": "dev"}', "my_state.json": '{"run": 4}'})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("debug", project, "--state", "my_state.json", "--configuration", "settings/dev.json",
                     cwd=elsewhere)
    assert result.code == 0, describe(result)
    rows = query(project / "files" / "warehouse.db", "SELECT run, state, configuration FROM tester.runs")
    assert rows == [(5, '{"run": 4}', '{"mode": "dev"}')]
    assert json.loads((project / "my_state.json").read_text()) == {"run": 5}, "checkpoints write the --state file"
    assert not (project / "files" / "state.json").exists()
    assert list(elsewhere.iterdir()) == []


def test_fivetran_state_variable_names_the_state_file(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], query: Callable[..., Any]
) -> None:
    project = make_project(RECORDER, files={"files/state.json": '{"run": 100}', "env_state.json": '{"run": 7}'})
    result = run_cli("debug", cwd=project, env={"FIVETRAN_STATE": "env_state.json"})
    assert result.code == 0, describe(result)
    assert query(project / "files" / "warehouse.db", "SELECT run FROM tester.runs") == [(8,)]
    assert json.loads((project / "env_state.json").read_text()) == {"run": 8}
    assert (project / "files" / "state.json").read_text() == '{"run": 100}'


def test_project_path_defaults_to_the_working_directory(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], query: Callable[..., Any]
) -> None:
    project = make_project(HELLO)
    result = run_cli("debug", cwd=project)
    assert result.code == 0, describe(result)
    assert query(project / "files" / "warehouse.db", "SELECT message FROM tester.hello") == [("hello, world!",)]


# -- the debug environment (CLI-8) and what a run leaves behind (CLI-7) --------------------------

ENVIRONMENT = """
import json
import os

from fivetran_connector_sdk import Connector, Operations as op

NAMES = ["FIVETRAN_CONNECTION_ID", "FIVETRAN_DEPLOYMENT_MODEL", "FIVETRAN_GROUP_ID", "FIVETRAN_CONNECTION_NAME"]


def update(configuration, state):
    op.upsert("env", {"id": 1, **{name.lower(): os.environ.get(name, "(unset)") for name in NAMES}})
    op.checkpoint({"done": True})


connector = Connector(update=update)

if __name__ == "__main__":
    os.environ["FIVETRAN_DEPLOYMENT_MODEL"] = "production"
    connector.debug()
    print("AFTER " + json.dumps({name: os.environ.get(name) for name in NAMES}))
"""
DEBUG_VALUES = [("test_connection_id", "local_debug", "test_group_id", "test_connection_name")]
ENV_COLUMNS = "fivetran_connection_id, fivetran_deployment_model, fivetran_group_id, fivetran_connection_name"


def test_debug_sets_the_fivetran_variables_for_the_connector(
    make_project: Callable[..., Path], run_cli: Callable[..., Any], query: Callable[..., Any]
) -> None:
    project = make_project(ENVIRONMENT)
    result = run_cli("debug", cwd=project, env={"FIVETRAN_DEPLOYMENT_MODEL": "production",
                                                "FIVETRAN_GROUP_ID": "real_group"})
    assert result.code == 0, describe(result)
    assert query(project / "files" / "warehouse.db", f"SELECT {ENV_COLUMNS} FROM tester.env") == DEBUG_VALUES


def test_connector_debug_restores_the_environment_afterwards(
    make_project: Callable[..., Path], hw: Any, query: Callable[..., Any]
) -> None:
    project = make_project(ENVIRONMENT)
    result = hw.run_command([hw.PYTHON, "connector.py"], cwd=project)
    assert result.code == 0, describe(result)
    assert query(project / "files" / "warehouse.db", f"SELECT {ENV_COLUMNS} FROM tester.env") == DEBUG_VALUES
    after = json.loads(next(line for line in result.out.splitlines() if line.startswith("AFTER "))[6:])
    assert after == {"FIVETRAN_CONNECTION_ID": None, "FIVETRAN_DEPLOYMENT_MODEL": "production",
                     "FIVETRAN_GROUP_ID": None, "FIVETRAN_CONNECTION_NAME": None}


def test_debug_writes_only_the_warehouse_and_the_state_and_no_bytecode(
    make_project: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    project = make_project(
        """
        from fivetran_connector_sdk import Connector, Operations as op

        import helper
        from sources import api


        def update(configuration, state):
            op.upsert("t", {"id": helper.ONE, "name": api.NAME})
            op.checkpoint({"done": True})


        connector = Connector(update=update)
        """,
        files={"helper.py": "ONE = 1\n", "sources/__init__.py": "", "sources/api.py": "NAME = 'api'\n"},
    )
    before = {str(p.relative_to(project)) for p in project.rglob("*")}
    # Bytecode writing left on in the environment: headwater itself must keep __pycache__ out.
    result = run_cli("debug", cwd=project, env={"PYTHONDONTWRITEBYTECODE": None})
    assert result.code == 0, describe(result)
    after = {str(p.relative_to(project)) for p in project.rglob("*")}
    assert after - before == {"files", "files/warehouse.db", "files/state.json"}
    assert not list(project.rglob("__pycache__"))
