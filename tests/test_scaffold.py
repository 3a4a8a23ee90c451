"""``headwater init``: templates, the refusal to overwrite, and every generated project end to end.

The end-to-end tests do what a user does right after ``headwater init``: run the installed
``headwater debug`` on the project (for rest-api, with its mock_server.py started first) and run the
project's own tests with pytest in a subprocess.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from headwater.lint import lint_project
from headwater.scaffold import (
    TEMPLATES,
    ExistingFilesError,
    ScaffoldError,
    UnknownTemplateError,
    list_templates,
    next_steps,
    scaffold,
    uses_helpers,
)
from headwater.scaffold.cli import init
from headwater.vendor import PACKAGE as HELPERS
from headwater.vendor import plan as vendor_plan

HEADWATER = Path(sys.executable).parent / "headwater"
DROPPED_PREFIXES = ("FIVETRAN_", "HW_", "HEADWATER_")
LAYOUT = ("connector.py", "requirements.txt", "configuration.json", "configuration.example.json", "README.md",
          "tests/test_connector.py", ".gitignore")
#: template -> (a table it fills, rows after the first `headwater debug` with the shipped configuration)
EXPECTED = {"basic": ("greetings", 3), "rest-api": ("orders", 250), "database": ("customers", 250), "csv": ("sales", 9)}
PLACEHOLDER = re.compile(r"\{\{\s*\w+\s*\}\}")


def clean_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED_PREFIXES)}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"})
    return env


def run(argv: list[str | os.PathLike[str]], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in argv], cwd=cwd, env=clean_environment(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, encoding="utf-8", timeout=120, check=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def query(project: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def mock_api(tmp_path: Path) -> Iterator[Any]:
    """A factory starting a project's mock_server.py on a free loopback port; returns its base URL."""
    started: list[subprocess.Popen[str]] = []

    def start(project: Path) -> str:
        process = subprocess.Popen([sys.executable, str(project / "mock_server.py"), "--port", "0"],
                                   stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=clean_environment(),
                                   text=True, encoding="utf-8")
        started.append(process)
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert match, f"mock server did not start: {banner!r}"
        return match.group(0)

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


# the template catalogue ----------------------------------------------------------------------------


def test_list_templates_gives_the_four_templates_in_order() -> None:
    assert [name for name, _ in list_templates()] == ["basic", "rest-api", "database", "csv"]
    assert all(description for _, description in list_templates())


def test_unknown_template_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(UnknownTemplateError, match="choose one of: basic, rest-api, database, csv"):
        scaffold(tmp_path / "x", "graphql")
    assert not (tmp_path / "x").exists()


def test_template_name_is_case_insensitive(tmp_path: Path) -> None:
    created = scaffold(tmp_path / "x", "REST-API")
    assert tmp_path / "x" / "mock_server.py" in created


# what scaffold writes ------------------------------------------------------------------------------


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_scaffold_writes_the_standard_layout(tmp_path: Path, template: str) -> None:
    project = tmp_path / "my_connector"

    created = scaffold(project, template)

    assert sorted(created) == sorted(path for path in project.rglob("*") if path.is_file())
    for relative in LAYOUT:
        assert (project / relative).is_file(), relative
    for path in created:
        if path.suffix != ".db":
            assert not PLACEHOLDER.search(path.read_text(encoding="utf-8")), f"placeholder left in {path}"
    assert (project / "README.md").read_text(encoding="utf-8").startswith("# my_connector\n")
    configuration = json.loads((project / "configuration.json").read_text(encoding="utf-8"))
    assert configuration and all(isinstance(value, str) for value in configuration.values())
    assert (project / "configuration.example.json").read_bytes() == (project / "configuration.json").read_bytes()
    requirements = (project / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert [line for line in requirements if line.strip() and not line.startswith("#")] == []
    ignored = (project / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "files/" in ignored and "configuration.json" in ignored and "configuration.example.json" not in ignored
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert all(word in readme for word in ("## Configure", "## Debug", "## Test", "headwater debug", "pytest"))
    connector = (project / "connector.py").read_text(encoding="utf-8")
    assert "from fivetran_connector_sdk import Connector, Operations as op, Logging as log" in connector
    assert 'if __name__ == "__main__":\n    # ' in connector and "connector.debug()" in connector
    assert called_names(connector).isdisjoint({"print", "fetchall"})


def called_names(source: str) -> set[str]:
    """The names of every function or method called in the source."""
    calls = [node.func for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]
    return {func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "") for func in calls}


def test_scaffold_uses_the_given_name(tmp_path: Path) -> None:
    scaffold(tmp_path / "x", name="Orders sync")

    assert (tmp_path / "x" / "README.md").read_text(encoding="utf-8").startswith("# Orders sync\n")
    assert '"""Orders sync: ' in (tmp_path / "x" / "connector.py").read_text(encoding="utf-8")


def test_scaffold_into_an_existing_folder_keeps_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")

    scaffold(tmp_path, "basic")

    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "connector.py").is_file()


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_scaffold_refuses_to_overwrite_without_force_and_overwrites_with_it(tmp_path: Path, template: str) -> None:
    project = tmp_path / "p"
    scaffold(project, template)
    (project / "connector.py").write_text("# my own work\n", encoding="utf-8")
    (project / "notes.txt").write_text("mine", encoding="utf-8")
    before = snapshot(project)

    with pytest.raises(ExistingFilesError, match="--force") as refused:
        scaffold(project, template)

    assert snapshot(project) == before
    assert project / "connector.py" in refused.value.paths
    assert "connector.py" in str(refused.value)

    scaffold(project, template, force=True)

    assert (project / "connector.py").read_text(encoding="utf-8") != "# my own work\n"
    assert (project / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_scaffold_refuses_when_a_single_file_exists_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# mine\n", encoding="utf-8")

    with pytest.raises(ExistingFilesError) as refused:
        scaffold(tmp_path, "database")

    assert refused.value.paths == [tmp_path / "README.md"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["README.md"]


def test_scaffold_refuses_a_generated_file_too(tmp_path: Path) -> None:
    (tmp_path / "sample.db").write_bytes(b"my data")

    with pytest.raises(ExistingFilesError, match="sample.db"):
        scaffold(tmp_path, "database")

    assert (tmp_path / "sample.db").read_bytes() == b"my data"


def test_scaffold_refuses_a_folder_where_a_file_goes_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "connector.py").mkdir()

    with pytest.raises(ScaffoldError, match="is a folder"):
        scaffold(tmp_path, "basic", force=True)

    assert not (tmp_path / "README.md").exists()


def test_scaffold_refuses_a_file_as_the_project_path(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("", encoding="utf-8")

    with pytest.raises(ScaffoldError, match="not a folder"):
        scaffold(tmp_path / "x")


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_generated_project_has_no_lint_findings(tmp_path: Path, template: str) -> None:
    scaffold(tmp_path / "p", template)

    report = lint_project(tmp_path / "p")

    assert report.findings == (), report.findings


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_git_ignores_the_local_configuration_so_real_keys_stay_out_of_commits(tmp_path: Path) -> None:
    project = tmp_path / "p"
    scaffold(project, "rest-api")
    assert run(["git", "init", "-q"], cwd=project).returncode == 0
    configuration = json.loads((project / "configuration.json").read_text(encoding="utf-8"))
    configuration["api_key"] = "q8Wm2ZtR5yHv1KcP9dLx3NbF"  # what a real key looks like
    (project / "configuration.json").write_text(json.dumps(configuration), encoding="utf-8")

    assert run(["git", "check-ignore", "-q", "configuration.json"], cwd=project).returncode == 0
    assert run(["git", "check-ignore", "-q", "configuration.example.json"], cwd=project).returncode == 1
    assert run(["git", "check-ignore", "-q", "files/warehouse.db"], cwd=project).returncode == 0
    assert lint_project(project).findings == ()  # HW041 stays quiet: the file is ignored


def imported_names(source: str) -> dict[str, set[str]]:
    """Module -> the names ``from module import ...`` takes from it; ``import module`` adds the module with no names."""
    imports: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imports.setdefault(node.module, set()).update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imports.setdefault(alias.name, set())
    return imports


def test_rest_api_connector_uses_the_vendored_helpers_and_its_tests_replay(tmp_path: Path) -> None:
    project = tmp_path / "p"
    scaffold(project, "rest-api")

    connector = imported_names((project / "connector.py").read_text(encoding="utf-8"))
    tests = imported_names((project / "tests" / "test_connector.py").read_text(encoding="utf-8"))

    assert {"HttpClient", "RetryPolicy", "ApiKeyAuth", "CursorPaginator"} <= connector["headwater_helpers.http"]
    assert "Cursor" in connector["headwater_helpers.incremental"]
    # Deployable: nothing from headwater itself, and requests only through the vendored client.
    assert not {"headwater", "requests", "urllib3"} & {module.split(".")[0] for module in connector}
    assert (project / "headwater_helpers" / "http" / "client.py").is_file()
    assert (project / "headwater_helpers" / "incremental.py").is_file()
    assert {"recording", "replaying", "FaultPlan"} <= tests["headwater.recording"]
    calls = called_names((project / "connector.py").read_text(encoding="utf-8"))
    assert {"paginate", "skip", "track", "commit", "checkpoint"} <= calls


def test_rest_api_ships_a_recording_that_matches_its_configuration_and_holds_no_secret(tmp_path: Path) -> None:
    from headwater.recording import REDACTED, Cassette

    project = tmp_path / "p"
    created = scaffold(project, "rest-api")
    folder = project / "tests" / "recordings" / "first_sync"
    assert {folder / "meta.json", folder / "exchanges.jsonl"} <= set(created)
    configuration = json.loads((project / "configuration.json").read_text(encoding="utf-8"))

    cassette = Cassette.load(folder)

    assert cassette.runs == 1 and len(cassette.exchanges) == 5  # 250 orders in pages of 50
    assert cassette.meta["redacted_config_keys"] == ["api_key"]
    first = cassette.exchanges[0]
    assert first.url == f"{configuration['base_url']}/v1/orders?limit={configuration['page_size']}"
    for exchange in cassette.exchanges:
        assert exchange.url.startswith(f"{configuration['base_url']}/v1/orders?"), exchange.url
        assert exchange.request_headers["X-API-Key"] == REDACTED
        assert exchange.response is not None and exchange.response.status == 200
    for path in folder.iterdir():
        assert configuration["api_key"] not in path.read_text(encoding="utf-8"), path


def test_rest_api_project_replays_its_recording_right_after_init_without_the_mock(tmp_path: Path) -> None:
    project = tmp_path / "p"
    assert run([HEADWATER, "init", project, "--template", "rest-api"]).returncode == 0
    recording = project / "tests" / "recordings" / "first_sync"

    replayed = run([HEADWATER, "debug", project, "--replay", recording])

    assert replayed.returncode == 0 and "Sync SUCCEEDED" in replayed.stdout, replayed.stdout + replayed.stderr
    assert "5 requests answered from 5 recorded exchanges" in replayed.stdout
    assert query(project, "SELECT count(*), count(DISTINCT id) FROM tester.orders") == [(250, 250)]

    assert run([HEADWATER, "reset", "--force", project]).returncode == 0
    faulty = run([HEADWATER, "debug", project, "--replay", recording, "--faults", "429:retry-after=0@2,503@3"])

    assert faulty.returncode == 0 and "Sync SUCCEEDED" in faulty.stdout, faulty.stdout + faulty.stderr
    assert faulty.stdout.count("retried by the HTTP adapter") == 2, faulty.stdout
    assert query(project, "SELECT count(*) FROM tester.orders") == [(250,)]


def test_only_templates_importing_the_helpers_get_them_vendored(tmp_path: Path) -> None:
    for template in TEMPLATES:
        project = tmp_path / template
        created = scaffold(project, template)
        vendored = sorted(path.relative_to(project).as_posix() for path in created
                          if path.relative_to(project).parts[0] == HELPERS)
        assert uses_helpers(template) == ("headwater_helpers" in (project / "connector.py").read_text(encoding="utf-8"))
        if uses_helpers(template):
            assert vendored == sorted(file.path.as_posix() for file in vendor_plan()), template
        else:
            assert vendored == [] and not (project / HELPERS).exists(), template
        for path in created:  # no template connector imports headwater itself
            if path.suffix == ".py" and "tests" not in path.relative_to(project).parts:
                assert "headwater" not in {module.split(".")[0] for module in imported_names(
                    path.read_text(encoding="utf-8"))}, path


def test_init_refuses_to_overwrite_a_vendored_file_without_force(tmp_path: Path) -> None:
    project = tmp_path / "p"
    client = project / HELPERS / "http" / "client.py"
    client.parent.mkdir(parents=True)
    client.write_text("# my own edits\n", encoding="utf-8")

    with pytest.raises(ExistingFilesError, match="headwater_helpers/http/client.py") as refused:
        scaffold(project, "rest-api")

    assert refused.value.paths == [client]
    assert not (project / "connector.py").exists()
    scaffold(project, "rest-api", force=True)
    assert client.read_text(encoding="utf-8").startswith("# Vendored from headwater ")


def test_next_steps_start_the_mock_server_for_rest_api_only() -> None:
    assert next_steps("x", "rest-api")[0].startswith("python x/mock_server.py &")
    assert next_steps("x", "basic") == ["headwater lint x", "headwater debug x", "python -m pytest x/tests"]
    assert next_steps(".", "csv") == ["headwater lint", "headwater debug", "python -m pytest tests"]


# the init command ----------------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as the working directory, for commands given relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_list_prints_every_template_with_its_description(in_tmp: Path) -> None:
    result = CliRunner().invoke(init, ["--list"])

    assert result.exit_code == 0, result.output
    for name, description in TEMPLATES.items():
        assert re.search(rf"^{re.escape(name)} +{re.escape(description)}$", result.output, re.MULTILINE)
    assert list(in_tmp.iterdir()) == []


def test_init_creates_the_project_and_prints_files_and_next_steps(in_tmp: Path) -> None:
    result = CliRunner().invoke(init, ["demo", "--template", "csv"])

    assert result.exit_code == 0, result.output
    assert (in_tmp / "demo" / "data" / "sales-2024-01.csv").is_file()
    assert "from the 'csv' template" in result.output
    assert "  demo/connector.py\n" in result.output
    assert "  headwater debug demo\n" in result.output


def test_init_defaults_to_basic_in_the_working_directory(in_tmp: Path) -> None:
    result = CliRunner().invoke(init, [])

    assert result.exit_code == 0, result.output
    assert (in_tmp / "connector.py").is_file()
    assert "  headwater debug\n" in result.output


def test_init_without_force_exits_1_naming_the_files(in_tmp: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(init, ["demo"]).exit_code == 0
    (in_tmp / "demo" / "connector.py").write_text("# mine\n", encoding="utf-8")

    refused = runner.invoke(init, ["demo"])
    forced = runner.invoke(init, ["demo", "--force"])

    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: demo already has 7 of the files")
    assert "connector.py" in refused.stderr and "--force" in refused.stderr
    assert forced.exit_code == 0, forced.output
    assert (in_tmp / "demo" / "connector.py").read_text(encoding="utf-8") != "# mine\n"


def test_headwater_init_exits_1_when_it_refuses_to_overwrite(tmp_path: Path) -> None:
    scaffold(tmp_path, "basic")

    refused = run([HEADWATER, "init", tmp_path])

    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and "--force" in refused.stderr


def test_init_rejects_an_unknown_template_as_a_usage_error(in_tmp: Path) -> None:
    result = CliRunner().invoke(init, ["demo", "--template", "soap"])

    assert result.exit_code == 2
    assert "'soap' is not one of 'basic', 'rest-api', 'database', 'csv'" in result.output
    assert list(in_tmp.iterdir()) == []


# every template end to end -------------------------------------------------------------------------


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_generated_project_debugs_and_its_tests_pass(tmp_path: Path, template: str, mock_api: Any) -> None:
    project = tmp_path / f"{template}_project"
    created = run([HEADWATER, "init", project, "--template", template])
    assert created.returncode == 0, created.stdout + created.stderr
    if template == "rest-api":
        configuration = json.loads((project / "configuration.json").read_text(encoding="utf-8"))
        configuration["base_url"] = mock_api(project)
        (project / "configuration.json").write_text(json.dumps(configuration), encoding="utf-8")

    lint = run([HEADWATER, "lint", project])
    assert lint.returncode == 0 and "No problems found" in lint.stdout, lint.stdout + lint.stderr

    debug = run([HEADWATER, "debug", project])

    assert debug.returncode == 0 and "Sync SUCCEEDED" in debug.stdout, debug.stdout + debug.stderr
    table, count = EXPECTED[template]
    assert query(project, f"SELECT count(*) FROM tester.{table}") == [(count,)]
    assert json.loads((project / "files" / "state.json").read_text(encoding="utf-8"))

    tests = run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-W", "error"], cwd=project)

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert re.search(r"\d+ passed", tests.stdout) and "skipped" not in tests.stdout, tests.stdout
