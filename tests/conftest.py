"""Shared helpers for tests that drive the real ``headwater`` command end to end.

Fixtures (each also available as a plain function of this module):

- ``make_project(source, configuration=None, *, files=None, name=None)`` writes a fresh project
  folder under ``tmp_path``: ``connector.py`` from ``source`` (dedented), ``configuration.json``
  from a dict (dumped as JSON) or a string (written as is), plus any ``files`` (relative path ->
  text). Returns the folder.
- ``run_cli(*args, cwd=None, env=None, stdin=None, timeout=60)`` runs the installed ``headwater``
  console script in a clean environment (no ``FIVETRAN_*``/``HW_*``/``HEADWATER_*`` variables,
  ``PYTHONDONTWRITEBYTECODE=1``, ``NO_COLOR=1``) with stdin not a terminal, and returns a
  :class:`CliResult` ``(code, out, err)``. ``env`` adds variables; a ``None`` value removes one.
- ``query(db_path, sql)`` opens the DuckDB file read-only with ``TimeZone='UTC'`` and returns the rows.
- ``cli_pool.submit(*args, cwd=..., env=...)`` starts ``run_cli`` in a thread and returns a future.
- ``hw`` bundles all of these plus ``read_state``, ``snapshot``, ``write_project`` and ``run_command``,
  for module-scoped fixtures.

Hypothesis runs with the ``headwater`` settings profile registered here (for the whole suite): no
deadline and no "too slow"/"data too large" health checks, since a busy shared machine makes input
generation slow without anything being wrong, and derandomized, so a failure reproduces on every
run and in CI. ``HYPOTHESIS_PROFILE=explore`` runs the same tests with fresh random inputs.
A test's own ``@settings(...)`` overrides these per setting (``suppress_health_check`` as a whole).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, settings

HEADWATER = Path(sys.executable).parent / "headwater"
PYTHON = Path(sys.executable)
DROPPED_PREFIXES = ("FIVETRAN_", "HW_", "HEADWATER_")

_RELAXED_HEALTH_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "headwater", deadline=None, suppress_health_check=_RELAXED_HEALTH_CHECKS, derandomize=True, print_blob=True
)
settings.register_profile("explore", deadline=None, suppress_health_check=_RELAXED_HEALTH_CHECKS, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "headwater"))


class CliResult(NamedTuple):
    """What a command run produced; unpacks as ``code, out, err``."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.out + self.err

    def error_lines(self) -> list[str]:
        """The ``error: ...`` lines on stderr (CLI-13)."""
        return [line for line in self.err.splitlines() if line.startswith("error: ")]


def clean_environment(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment for a headwater subprocess: the test process's, without FIVETRAN_*, HW_* and
    HEADWATER_* variables, with bytecode writing and colours off; ``extra`` adds (or, with None, removes)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED_PREFIXES)}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_command(
    argv: list[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str | None] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> CliResult:
    """Run any command in the clean environment; stdin is ``/dev/null`` unless text is given."""
    completed = subprocess.run(
        [str(part) for part in argv],
        cwd=cwd,
        env=clean_environment(env),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


def run_cli(
    *args: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str | None] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> CliResult:
    """Run ``headwater *args`` (the installed console script)."""
    return run_command([HEADWATER, *args], cwd=cwd, env=env, stdin=stdin, timeout=timeout)


def write_project(
    folder: Path,
    source: str,
    configuration: Mapping[str, Any] | str | None = None,
    *,
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write connector.py (dedented), an optional configuration.json and other files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "connector.py").write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    if configuration is not None:
        text = configuration if isinstance(configuration, str) else json.dumps(configuration)
        (folder / "configuration.json").write_text(text, encoding="utf-8")
    for relative, text in (files or {}).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def query(db_path: str | os.PathLike[str], sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run read-only on the DuckDB file, in a session with TimeZone UTC."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def read_state(project: Path, name: str = "files/state.json") -> Any:
    """The parsed saved state, or None when the file does not exist."""
    path = project / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def snapshot(project: Path) -> dict[str, bytes | None]:
    """Exact bytes of every file under the project (None for no ``files/`` entries), to prove nothing changed."""
    found: dict[str, bytes | None] = {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }
    found.setdefault("files/warehouse.db", None)
    found.setdefault("files/state.json", None)
    return found


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a fresh project folder under tmp_path on each call."""
    counter = iter(range(1_000_000))

    def factory(
        source: str,
        configuration: Mapping[str, Any] | str | None = None,
        *,
        files: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> Path:
        folder = tmp_path / (name or f"project{next(counter)}")
        if folder.exists():
            raise FileExistsError(folder)
        return write_project(folder, source, configuration, files=files)

    return factory


@pytest.fixture(name="run_cli", scope="session")
def _run_cli_fixture() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture(name="query", scope="session")
def _query_fixture() -> Callable[..., list[tuple[Any, ...]]]:
    return query


class CliPool:
    """Runs ``headwater`` commands in parallel threads: ``pool.submit(*args, cwd=..., env=...)`` returns a
    future of the :class:`CliResult`. Lets a module-scoped fixture start many slow runs at once."""

    def __init__(self, workers: int) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers)

    def submit(self, *args: str | os.PathLike[str], **options: Any) -> concurrent.futures.Future[CliResult]:
        return self._executor.submit(run_cli, *args, **options)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def cli_pool() -> Iterator[CliPool]:
    """A :class:`CliPool` with about two runs per CPU."""
    pool = CliPool(workers=max(2, 2 * (os.cpu_count() or 1)))
    yield pool
    pool.shutdown()


class Toolkit:
    """Every helper of this module in one object, for module-scoped fixtures and helper functions
    (test modules cannot import conftest reliably)."""

    HEADWATER = HEADWATER
    PYTHON = PYTHON
    CliResult = CliResult
    clean_environment = staticmethod(clean_environment)
    run_command = staticmethod(run_command)
    run_cli = staticmethod(run_cli)
    write_project = staticmethod(write_project)
    query = staticmethod(query)
    read_state = staticmethod(read_state)
    snapshot = staticmethod(snapshot)


@pytest.fixture(scope="session")
def hw() -> type[Toolkit]:
    """The helpers of this module: ``hw.run_cli``, ``hw.write_project``, ``hw.query``, ``hw.snapshot``..."""
    return Toolkit
