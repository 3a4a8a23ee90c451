"""The ``lint`` command: output formats, exit statuses, --select/--ignore and # noqa."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.lint import lint_project
from headwater.lint.cli import lint

WriteProject = Callable[..., Path]

# HW060 and HW062 (warnings) on line 5, HW050 (error) on line 7.
PROBLEMS = '''
import requests
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    response = requests.get("https://api.example.com/items")
    op.upsert("t", response.json())
    op.checkpoint({"password": "hunter2!"})

connector = Connector(update=update)
'''
CLEAN = '''
from fivetran_connector_sdk import Connector, Operations as op

def update(configuration, state):
    op.upsert("t", {"id": 1})
    op.checkpoint({})

connector = Connector(update=update)
'''


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(lint, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_text_output_lists_findings_then_a_summary_and_exits_1_on_errors(write_project: WriteProject) -> None:
    root = write_project({"connector.py": PROBLEMS})
    code, out, _ = run(str(root))
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == (f"{root}/connector.py:5:16: HW060 warning requests.get() has no timeout, so a stalled "
                        "connection hangs the sync forever (hint: pass one: `requests.get(..., timeout=30)`)")
    assert lines[1].startswith(f"{root}/connector.py:5:16: HW062 warning `requests.get()` is never retried")
    assert lines[2].startswith(f"{root}/connector.py:7:20: HW050 error `password` is given the literal secret")
    assert lines[-1] == "Found 3 problems: 1 error, 2 warnings, 0 info (1 file checked)."


def test_clean_project_exits_0_with_a_summary(write_project: WriteProject) -> None:
    code, out, _ = run(str(write_project({"connector.py": CLEAN, "configuration.json": "{}"})))
    assert (code, out) == (0, "No problems found (2 files checked).\n")


def test_warnings_alone_exit_0(write_project: WriteProject) -> None:
    root = write_project({"connector.py": PROBLEMS})
    code, out, _ = run(str(root), "--ignore", "HW050")
    assert code == 0
    assert "HW060" in out and "HW050" not in out


def test_json_output_is_one_object_with_the_findings(write_project: WriteProject) -> None:
    root = write_project({"connector.py": PROBLEMS})
    code, out, _ = run(str(root), "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert data["has_errors"] is True
    assert data["counts"] == {"error": 1, "warning": 2, "info": 0}
    assert data["files"] == [f"{root}/connector.py"]
    assert [(f["rule"], f["severity"], f["line"], f["col"]) for f in data["findings"]] == [
        ("HW060", "warning", 5, 16), ("HW062", "warning", 5, 16), ("HW050", "error", 7, 20)]
    assert set(data["findings"][0]) == {"rule", "severity", "path", "line", "col", "message", "hint"}
    assert data == json.loads(lint_project(root).to_json())


@pytest.mark.parametrize(("options", "rules"), [
    (["--select", "HW060"], ["HW060"]),
    (["--select", "HW05"], ["HW050"]),
    (["--select", "http-no-timeout,HW050"], ["HW060", "HW050"]),
    (["--select", "HW06", "--select", "HW05"], ["HW060", "HW062", "HW050"]),
    (["--select", "ALL", "--ignore", "HW0"], []),
    (["--ignore", "hw06", "--ignore", "hardcoded-secret"], []),
])
def test_select_and_ignore_take_ids_prefixes_and_names(write_project: WriteProject, options: list[str],
                                                      rules: list[str]) -> None:
    root = write_project({"connector.py": PROBLEMS})
    _, out, _ = run(str(root), "--format", "json", *options)
    assert [finding["rule"] for finding in json.loads(out)["findings"]] == rules


def test_unknown_rule_is_a_usage_error(write_project: WriteProject) -> None:
    code, _, err = run(str(write_project({"connector.py": CLEAN})), "--select", "HW999")
    assert code == 2
    assert "no rule matches 'HW999'" in err


def test_noqa_silences_the_named_rule_on_that_line_only(write_project: WriteProject) -> None:
    source = PROBLEMS.replace('"https://api.example.com/items")', '"https://api.example.com/items")  # noqa: HW060')
    source = source.replace('{"password": "hunter2!"})', '{"password": "hunter2!"})  # noqa: E501, HW061')
    code, out, _ = run(str(write_project({"connector.py": source})))
    assert code == 1
    assert "HW060" not in out and "HW050" in out


def test_noqa_with_an_id_prefix_silences_the_family(write_project: WriteProject) -> None:
    source = PROBLEMS.replace('"https://api.example.com/items")', '"https://api.example.com/items")  # noqa: HW06')
    source = source.replace('{"password": "hunter2!"})', '{"password": "hunter2!"})  # noqa: HW06')
    code, out, _ = run(str(write_project({"connector.py": source})))
    assert code == 1
    assert "HW060" not in out and "HW050" in out


def test_bare_noqa_silences_every_rule_on_the_line(write_project: WriteProject) -> None:
    source = PROBLEMS.replace('{"password": "hunter2!"})', '{"password": "hunter2!"})  # noqa')
    code, out, _ = run(str(write_project({"connector.py": source})))
    assert code == 0
    assert "HW050" not in out


def test_noqa_inside_a_string_does_not_count(write_project: WriteProject) -> None:
    source = PROBLEMS.replace('{"password": "hunter2!"})', '{"password": "hunter2!", "x": "# noqa"})')
    code, _, _ = run(str(write_project({"connector.py": source})))
    assert code == 1


def test_path_may_be_the_connector_file_itself(write_project: WriteProject) -> None:
    root = write_project({"connector.py": PROBLEMS})
    code, out, _ = run(str(root / "connector.py"), "--select", "HW060")
    assert code == 0
    assert out.startswith(f"{root}/connector.py:5:16: HW060")


def test_folder_without_connector_py_exits_2_with_a_message(tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path))
    assert code == 2
    assert out == ""
    assert f"no connector.py in {tmp_path}" in err


def test_missing_path_exits_2_with_a_message(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nowhere"))
    assert code == 2
    assert "does not exist" in err


@pytest.mark.parametrize("where", ["nowhere", "."])
def test_json_format_says_why_nothing_was_linted_and_exits_2(tmp_path: Path, where: str) -> None:
    code, out, err = run(str(tmp_path / where), "--format", "json")
    assert code == 2
    data = json.loads(out)
    assert data["findings"] == [] and data["files"] == []
    assert data["error"] and data["error"] in err


def test_a_connector_that_does_not_parse_is_a_finding_not_a_failure_to_run(write_project: WriteProject) -> None:
    code, out, _ = run(str(write_project({"connector.py": "def update(:\n"})))
    assert code == 1
    assert "HW000 error" in out


def test_default_path_is_the_working_directory(write_project: WriteProject, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project({"connector.py": PROBLEMS})
    monkeypatch.chdir(root)
    code, out, _ = run("--select", "HW060")
    assert code == 0
    assert out.startswith("connector.py:5:16: HW060 warning")


def test_help_describes_the_options() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for word in ("--format", "--select", "--ignore", "noqa", "exit status"):
        assert word in out
