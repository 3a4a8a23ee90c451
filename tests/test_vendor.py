"""``headwater vendor``: the copy of headwater's helpers a project deploys with, and that it needs no headwater.

The central test scaffolds every template and runs its connector with ``python connector.py`` in a
fresh virtual environment (``python -m venv --without-pip``) that has ``requests`` and its
dependencies (copied from this environment's site-packages, so no network is needed), a minimal
``fivetran_connector_sdk`` stand-in written here, and no headwater: what a connector has once it is
deployed. rest-api's mock_server.py runs with that environment's Python too, on a free loopback port.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import headwater.vendor as vendor_module
from headwater import __version__
from headwater.lint import lint_project
from headwater.scaffold import TEMPLATES, scaffold
from headwater.vendor import (
    MARKER,
    PACKAGE,
    SHIMS,
    THIRD_PARTY,
    ExistingVendoredFilesError,
    VendorError,
    plan,
    vendor,
    vendored_name,
)
from headwater.vendor_cli import vendor as vendor_command

HEADWATER = Path(sys.executable).parent / "headwater"
SRC = Path(vendor_module.__file__).resolve().parent
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
#: template -> (the table it fills, rows the first sync sends with the shipped configuration)
EXPECTED = {"basic": ("greetings", 3), "rest-api": ("orders", 250), "database": ("customers", 250), "csv": ("sales", 9)}
DROPPED_PREFIXES = ("FIVETRAN_", "HW_", "HEADWATER_")


def clean_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED_PREFIXES)}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"})
    return env


def run(argv: list[str | os.PathLike[str]], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in argv], cwd=cwd, env=env if env is not None else clean_environment(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8",
                          timeout=timeout, check=False)


def start_mock(python: Path, project: Path, env: dict[str, str], started: list[subprocess.Popen[str]],
               *extra: str) -> str:
    """Start the project's mock_server.py with ``python`` on a free loopback port; return its base URL."""
    process = subprocess.Popen([str(python), str(project / "mock_server.py"), "--port", "0", *extra],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True, encoding="utf-8")
    started.append(process)
    assert process.stdout is not None
    banner = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", banner)
    assert match, f"mock server did not start: {banner!r}"
    return match.group(0)


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; each is stopped (by its own handle) at the end."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def point_at(project: Path, base_url: str) -> None:
    configuration = json.loads((project / "configuration.json").read_text(encoding="utf-8"))
    configuration["base_url"] = base_url
    (project / "configuration.json").write_text(json.dumps(configuration), encoding="utf-8")


def imports_of(text: str) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every absolute import statement, nested ones included."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.append((node.lineno, node.module or "", [alias.name for alias in node.names]))
    return found


# what the copy holds ------------------------------------------------------------------------------


def test_the_copy_is_headwater_http_and_incremental_plus_two_stand_ins() -> None:
    paths = {file.path.as_posix() for file in plan()}
    http = {f"{PACKAGE}/http/{path.name}" for path in (SRC / "http").glob("*.py")}

    assert paths == {*http, f"{PACKAGE}/incremental.py", f"{PACKAGE}/__init__.py", f"{PACKAGE}/_errors.py",
                     f"{PACKAGE}/_log.py"}
    assert PACKAGE.split(".")[0] not in {"headwater", "fivetran_connector_sdk"}  # it can never shadow them


def test_every_import_of_the_copy_is_the_stdlib_requests_urllib3_or_the_copy_itself() -> None:
    files = {file.path: file for file in plan()}
    modules = {".".join(path.parent.parts) if path.name == "__init__.py" else ".".join(path.with_suffix("").parts)
               for path in files}
    for path, file in files.items():
        for line, module, names in imports_of(file.text):
            top = module.split(".")[0]
            assert top in STDLIB | THIRD_PARTY | {PACKAGE}, f"{path}:{line} imports {module}"
            if top == PACKAGE:
                assert module in modules, f"{path}:{line} imports {module}, which the copy does not have"
                shim = next((shim for shim in SHIMS.values() if module == f"{PACKAGE}.{shim.module}"), None)
                if shim is not None:
                    assert set(names) <= shim.provides, f"{path}:{line}"


def test_the_copies_differ_from_headwater_only_in_their_header_and_the_module_names() -> None:
    for file in plan():
        if not file.origin.startswith("headwater/"):
            continue
        original = (SRC.parent / file.origin).read_text(encoding="utf-8")
        header, _, body = file.text.partition("# ruff: noqa\n")
        assert header.startswith(f"{MARKER} {__version__} ({file.origin})")
        restored = body
        for name, shim in SHIMS.items():
            restored = restored.replace(f"{PACKAGE}.{shim.module}", name)
        assert restored.replace(f"{PACKAGE}.", "headwater.") == original, file.path


def test_every_file_says_where_it_came_from_and_how_to_update_it() -> None:
    for file in plan():
        first, second = file.text.splitlines()[:2]
        assert first.startswith(f"{MARKER} {__version__} (") and "do not edit" in first, file.path
        assert "headwater vendor --force" in second, file.path
        ast.parse(file.text)  # the header keeps the module valid (and its docstring first)


def test_vendored_names() -> None:
    assert vendored_name("headwater.http") == f"{PACKAGE}.http"
    assert vendored_name("headwater.http.client.HttpClient") == f"{PACKAGE}.http.client.HttpClient"
    assert vendored_name("headwater.incremental") == f"{PACKAGE}.incremental"
    assert vendored_name("headwater.errors") == f"{PACKAGE}._errors"
    assert vendored_name("headwater.log.emit") == f"{PACKAGE}._log.emit"
    assert vendored_name("headwater.recording") is None
    assert vendored_name("headwater.httpx") is None


# the closure is checked, not assumed --------------------------------------------------------------


@pytest.fixture
def fake_headwater(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in for the installed headwater's source: headwater.http as one __init__.py to fill in."""
    source = tmp_path / "http" / "__init__.py"
    source.parent.mkdir()
    monkeypatch.setattr(vendor_module, "_modules", lambda: {"headwater.http": (source, True)})
    vendor_module._plan.cache_clear()
    yield source
    vendor_module._plan.cache_clear()


@pytest.mark.parametrize(("code", "named"), [
    ("from headwater.engine import sync\n", "headwater.engine, which has no vendored stand-in"),
    ("from headwater.log import LogPrinter\n", "imports LogPrinter from headwater.log"),
    ("import headwater.errors\n", "imports the module headwater.errors itself"),
    ("def later():\n    import numpy\n", "numpy, which is neither the standard library nor requests or urllib3"),
    ("from .. import errors\n", "imports headwater relatively"),
])
def test_an_import_the_copy_cannot_satisfy_is_refused(fake_headwater: Path, tmp_path: Path, code: str,
                                                      named: str) -> None:
    fake_headwater.write_text(code, encoding="utf-8")

    with pytest.raises(VendorError, match=re.escape(named)):
        vendor(tmp_path)

    assert not (tmp_path / PACKAGE).exists()


def test_a_satisfiable_closure_is_rewritten(fake_headwater: Path, tmp_path: Path) -> None:
    fake_headwater.write_text("from headwater.errors import HeadwaterError\nfrom headwater.log import Level, emit\n"
                              "import requests\n", encoding="utf-8")

    vendor(tmp_path)

    text = (tmp_path / PACKAGE / "http" / "__init__.py").read_text(encoding="utf-8")
    assert f"from {PACKAGE}._errors import HeadwaterError\nfrom {PACKAGE}._log import Level, emit\n" in text


# headwater vendor ----------------------------------------------------------------------------------


def test_vendor_writes_the_copy_and_prints_what_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()

    result = CliRunner().invoke(vendor_command, ["p"])

    assert result.exit_code == 0, result.output
    assert f"vendored headwater {__version__}'s helpers into p/{PACKAGE}" in result.output
    for file in plan():
        assert (tmp_path / "p" / file.path).read_text(encoding="utf-8") == file.text
        assert f"  p/{file.path.as_posix()}\n" in result.output
    assert "headwater vendor --force p" in result.output


def test_vendor_refuses_to_overwrite_without_force_and_updates_with_it(tmp_path: Path) -> None:
    vendor(tmp_path)
    client = tmp_path / PACKAGE / "http" / "client.py"
    client.write_text("# edited by hand\n", encoding="utf-8")
    stale = tmp_path / PACKAGE / "http" / "gone.py"  # vendored by an older headwater, no longer part of the copy
    stale.write_text(f"{MARKER} 0.0.1 (headwater/http/gone.py) by `headwater vendor`; do not edit.\n", encoding="utf-8")
    mine = tmp_path / PACKAGE / "notes.py"
    mine.write_text("# not vendored\n", encoding="utf-8")

    refused = CliRunner().invoke(vendor_command, [str(tmp_path)])

    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: {tmp_path} already has a vendored copy") and "--force" in refused.stderr
    assert client.read_text(encoding="utf-8") == "# edited by hand\n" and stale.exists()
    with pytest.raises(ExistingVendoredFilesError) as raised:
        vendor(tmp_path)
    assert client in raised.value.paths

    forced = CliRunner().invoke(vendor_command, [str(tmp_path), "--force"])

    assert forced.exit_code == 0, forced.output
    assert client.read_text(encoding="utf-8").startswith(MARKER)
    assert not stale.exists() and "removed" in forced.output and "gone.py" in forced.output
    assert mine.read_text(encoding="utf-8") == "# not vendored\n"


def test_vendor_needs_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / PACKAGE).write_text("", encoding="utf-8")

    missing = CliRunner().invoke(vendor_command, [str(tmp_path / "nothing")])
    with pytest.raises(VendorError, match="is not a folder"):
        vendor(tmp_path / "file")
    with pytest.raises(VendorError, match=f"{PACKAGE} is a file"):
        vendor(tmp_path / "p", force=True)

    assert missing.exit_code == 1 and "does not exist" in missing.stderr


# lint HW009 ----------------------------------------------------------------------------------------

CONNECTOR = """\
from fivetran_connector_sdk import Connector, Operations as op
from {module} import Cursor


def update(configuration: dict, state: dict):
    cursor = Cursor(state, "items", field="updated_at", primary_key="id")
    for item in [{{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}}]:
        op.upsert(table="items", data=item)
        cursor.track(item)
    cursor.commit()
    op.checkpoint(state)


connector = Connector(update=update)
"""


def hw009(project: Path) -> list[tuple[str, int, str]]:
    return [(Path(f.path).relative_to(project).as_posix(), f.line, f.hint or "")
            for f in lint_project(project, select=["HW009"]).findings]


def test_hw009_accepts_the_vendored_copy(tmp_path: Path) -> None:
    (tmp_path / "connector.py").write_text(CONNECTOR.format(module=f"{PACKAGE}.incremental"), encoding="utf-8")
    vendor(tmp_path)

    assert hw009(tmp_path) == []


def test_hw009_still_warns_on_headwater_imports_and_points_at_the_copy(tmp_path: Path) -> None:
    (tmp_path / "connector.py").write_text(CONNECTOR.format(module="headwater.incremental"), encoding="utf-8")
    vendor(tmp_path)

    [(path, line, hint)] = hw009(tmp_path)

    assert (path, line) == ("connector.py", 2)
    assert f"`{PACKAGE}.incremental`" in hint


def test_hw009_warns_on_a_copy_that_still_imports_headwater(tmp_path: Path) -> None:
    (tmp_path / "connector.py").write_text(CONNECTOR.format(module=f"{PACKAGE}.incremental"), encoding="utf-8")
    vendor(tmp_path)
    errors = tmp_path / PACKAGE / "http" / "errors.py"
    text = errors.read_text(encoding="utf-8")
    errors.write_text(text.replace(f"from {PACKAGE}._errors import", "from headwater.errors import"), encoding="utf-8")
    line = next(number for number, module, _ in imports_of(errors.read_text(encoding="utf-8"))
                if module == "headwater.errors")

    assert hw009(tmp_path) == [(f"{PACKAGE}/http/errors.py", line,
                                "rewrite the copy with `headwater vendor --force .`; do not edit its files")]


# record and replay go through the copy ------------------------------------------------------------


def test_the_vendored_client_records_and_replays_under_headwater_debug(
        tmp_path: Path, servers: list[subprocess.Popen[str]]) -> None:
    project = tmp_path / "p"
    scaffold(project, "rest-api")
    point_at(project, start_mock(Path(sys.executable), project, clean_environment(), servers))
    recording = tmp_path / "recording"

    recorded = run([HEADWATER, "debug", project, "--record", recording])

    assert recorded.returncode == 0 and "Sync SUCCEEDED" in recorded.stdout, recorded.stdout + recorded.stderr
    assert "(2 attempts)" in recorded.stdout  # the copy's adapter retried the mock's 429 and logged it
    exchanges = (recording / "exchanges.jsonl").read_text(encoding="utf-8")
    assert len(exchanges.splitlines()) >= 5 and "local-dev-key" not in exchanges
    servers[0].terminate()
    servers[0].wait(timeout=10)

    assert run([HEADWATER, "reset", "--force", project]).returncode == 0
    replayed = run([HEADWATER, "debug", project, "--replay", recording])

    assert replayed.returncode == 0 and "Sync SUCCEEDED" in replayed.stdout, replayed.stdout + replayed.stderr
    assert re.search(r"(\d+) requests answered from \1 recorded exchanges", replayed.stdout), replayed.stdout
    assert "Upserts       | 250" in replayed.stdout

    assert run([HEADWATER, "reset", "--force", project]).returncode == 0
    faulty = run([HEADWATER, "debug", project, "--replay", recording, "--faults", "429:retry-after=0@2,503@3"])

    assert faulty.returncode == 0 and "Sync SUCCEEDED" in faulty.stdout, faulty.stdout + faulty.stderr
    assert faulty.stdout.count("retried by the HTTP adapter") == 2, faulty.stdout


# every template where headwater is not installed ---------------------------------------------------

SDK_STAND_IN = '''\
"""A minimal stand-in for the Connector SDK where a connector is deployed, written by headwater's tests.

It records what the connector sends and writes it as JSON to $STANDIN_REPORT when the sync ends.
Logging has only the levels every SDK release has had (fine, info, warning, severe).
"""

import json
import os
import traceback
from pathlib import Path

_calls = []
_log = []


class Logging:
    @staticmethod
    def fine(message):
        _log.append(["FINE", str(message)])

    @staticmethod
    def info(message):
        _log.append(["INFO", str(message)])

    @staticmethod
    def warning(message):
        _log.append(["WARNING", str(message)])

    @staticmethod
    def severe(message, exception=None):
        _log.append(["SEVERE", str(message)])


class Operations:
    @staticmethod
    def upsert(table, data):
        _calls.append(["upsert", table, dict(data)])

    @staticmethod
    def update(table, modified):
        _calls.append(["update", table, dict(modified)])

    @staticmethod
    def delete(table, keys):
        _calls.append(["delete", table, dict(keys)])

    @staticmethod
    def checkpoint(state):
        _calls.append(["checkpoint", None, json.loads(json.dumps(state))])  # state must be JSON


class Connector:
    def __init__(self, update, schema=None):
        self.update = update
        self.schema = schema

    def debug(self):
        path = Path("configuration.json")
        configuration = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        state = json.loads(os.environ.get("STANDIN_STATE") or "{}")
        report = {"tables": None, "calls": _calls, "log": _log, "error": None}
        try:
            if self.schema is not None:
                report["tables"] = [entry["table"] for entry in self.schema(configuration)]
            sent = self.update(configuration, state)
            if sent is not None:  # the generator style
                for _ in sent:
                    pass
        except BaseException:
            report["error"] = traceback.format_exc()
            raise
        finally:
            Path(os.environ["STANDIN_REPORT"]).write_text(json.dumps(report, default=str), encoding="utf-8")
'''


@dataclass(frozen=True)
class Isolated:
    """A fresh virtual environment with requests (and what it needs) and the SDK stand-in, no headwater."""

    python: Path
    requests_dir: Path
    sdk_dir: Path

    def env(self, *, sdk: bool = True, **extra: str) -> dict[str, str]:
        paths = [str(self.requests_dir), *([str(self.sdk_dir)] if sdk else [])]
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(paths), "PYTHONNOUSERSITE": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        if "SYSTEMROOT" in os.environ:  # pragma: no cover - Windows
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        env.update(extra)
        return env


def requirement_names(distribution: str) -> list[str]:
    """The distributions ``distribution`` needs, extras left out."""
    names = []
    for requirement in importlib.metadata.requires(distribution) or []:
        if "extra ==" not in requirement:
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            assert match is not None, requirement
            names.append(match.group(0))
    return names


def copy_distribution(name: str, target: Path, done: set[str]) -> None:
    """Copy an installed distribution's files (and those of what it needs) from site-packages to ``target``."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in done:
        return
    done.add(key)
    distribution = importlib.metadata.distribution(name)
    site = Path(str(distribution.locate_file(""))).resolve()
    for file in distribution.files or []:
        source = Path(str(distribution.locate_file(file))).resolve()
        if site not in source.parents or "__pycache__" in source.parts or not source.is_file():
            continue  # scripts in bin/, caches
        destination = target / source.relative_to(site)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    for requirement in requirement_names(name):
        copy_distribution(requirement, target, done)


@pytest.fixture(scope="session")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Isolated:
    root = tmp_path_factory.mktemp("isolated")
    venv = root / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=180)
    assert created.returncode == 0, created.stdout + created.stderr
    python = venv / "bin" / "python"
    if not python.exists():  # pragma: no cover - Windows
        python = venv / "Scripts" / "python.exe"
    requests_dir = root / "requests_only"
    copy_distribution("requests", requests_dir, set())
    sdk_dir = root / "sdk_stand_in"
    (sdk_dir / "fivetran_connector_sdk").mkdir(parents=True)
    (sdk_dir / "fivetran_connector_sdk" / "__init__.py").write_text(SDK_STAND_IN, encoding="utf-8")
    return Isolated(python, requests_dir, sdk_dir)


def test_the_isolated_environment_has_requests_and_the_stand_in_but_no_headwater(isolated: Isolated,
                                                                                   tmp_path: Path) -> None:
    probe = textwrap.dedent("""
        import json, sys
        import fivetran_connector_sdk, requests, urllib3
        try:
            import headwater
        except ModuleNotFoundError as exc:
            headwater_error = str(exc)
        else:
            headwater_error = None
        print(json.dumps({"prefix": sys.prefix, "base": sys.base_prefix, "requests": requests.__file__,
                          "urllib3": urllib3.__file__, "sdk": fivetran_connector_sdk.__file__,
                          "headwater": headwater_error}))
    """)

    found = run([isolated.python, "-c", probe], cwd=tmp_path, env=isolated.env())

    assert found.returncode == 0, found.stdout + found.stderr
    facts = json.loads(found.stdout)
    assert facts["headwater"] == "No module named 'headwater'"
    assert Path(facts["prefix"]) == isolated.python.parent.parent.resolve() != Path(facts["base"])
    assert Path(facts["requests"]).is_relative_to(isolated.requests_dir)
    assert Path(facts["urllib3"]).is_relative_to(isolated.requests_dir)
    assert Path(facts["sdk"]).is_relative_to(isolated.sdk_dir)


def test_the_copy_imports_with_only_requests_and_logs_without_an_sdk(isolated: Isolated, tmp_path: Path) -> None:
    vendor(tmp_path)
    modules = sorted(".".join(file.path.with_suffix("").parts).removesuffix(".__init__") for file in plan())
    probe = "\n".join([
        "import importlib, logging, sys",
        f"for name in {modules!r}:",
        "    importlib.import_module(name)",
        "assert not [name for name in sys.modules if name.split('.')[0] in ('headwater', 'fivetran_connector_sdk')]",
        "logging.basicConfig(level=logging.DEBUG, format='%(name)s %(levelname)s %(message)s', stream=sys.stdout)",
        f"from {PACKAGE}._log import Level, emit",
        "emit(Level.DEBUG, 'no SDK here')",
    ])

    found = run([isolated.python, "-c", probe], cwd=tmp_path, env=isolated.env(sdk=False))

    assert found.returncode == 0, found.stdout + found.stderr
    assert f"{PACKAGE} DEBUG no SDK here" in found.stdout


def sync(isolated: Isolated, project: Path, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """``python connector.py`` in the isolated environment; what the stand-in recorded."""
    report = project.parent / f"{project.name}-report.json"
    report.unlink(missing_ok=True)
    done = run([isolated.python, "connector.py"], cwd=project, timeout=180,
               env=isolated.env(STANDIN_REPORT=str(report), STANDIN_STATE=json.dumps(state or {})))
    assert done.returncode == 0, done.stdout + done.stderr
    recorded: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    assert recorded["error"] is None, recorded["error"]
    return recorded


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_every_template_syncs_where_only_requests_and_the_sdk_exist(
        isolated: Isolated, tmp_path: Path, template: str, servers: list[subprocess.Popen[str]]) -> None:
    project = tmp_path / f"{template}_project"
    scaffold(project, template)
    if template == "rest-api":
        # The mock needs only the standard library: run it with the isolated Python, without requests.
        point_at(project, start_mock(isolated.python, project, {**isolated.env(sdk=False), "PYTHONPATH": ""},
                                     servers))
    table, count = EXPECTED[template]

    first = sync(isolated, project)

    assert table in first["tables"]
    upserts = [data for kind, name, data in first["calls"] if kind == "upsert" and name == table]
    checkpoints = [data for kind, _, data in first["calls"] if kind == "checkpoint"]
    assert len(upserts) == count, [call[:2] for call in first["calls"]]
    assert checkpoints and checkpoints[-1], first["calls"][-3:]
    assert first["calls"][-1][0] == "checkpoint"  # nothing is sent after the last checkpoint

    # The next sync continues from the saved state (JSON, as the stand-in stored it) and succeeds too.
    second = sync(isolated, project, state=checkpoints[-1])

    if template == "rest-api":
        assert len({order["id"] for order in upserts}) == count
        # The copy's client logged each request at DEBUG; the stand-in has no debug(), so they arrive as FINE,
        # and the mock's 429 every fourth request was retried after its Retry-After.
        assert any(level == "FINE" and "(2 attempts)" in message for level, message in first["log"]), first["log"]
        # Incremental: only what changed since the cursor (the mock changes 3 orders and adds 2).
        assert 0 < sum(kind == "upsert" for kind, _, _ in second["calls"]) < count
