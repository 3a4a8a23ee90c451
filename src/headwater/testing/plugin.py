"""headwater's pytest plugin: run the connector project under test from its own tests.

Installing headwater registers this module with pytest (entry point ``pytest11``, name
``headwater``), so in any test session these fixtures exist without an import::

    # my_connector/tests/test_connector.py
    from headwater.testing.assertions import assert_no_duplicate_keys, assert_state_advanced

    def test_second_sync_fetches_only_new_orders(headwater_run):
        first = headwater_run(configuration={"api_key": "test"})
        second = headwater_run(configuration={"api_key": "test"})   # continues from first's state
        assert second.succeeded, second.output
        assert_no_duplicate_keys(second, "orders")
        assert_state_advanced(first, second, "cursors.orders.value")

Fixtures:

``connector_project``
    The folder holding the connector under test (a ``pathlib.Path``). By default the test file's
    folder if it holds ``connector.py``, else its parent: the ``my_connector/tests/test_*.py``
    layout ``headwater init`` writes. Set it, in order of precedence, with the marker
    ``@pytest.mark.headwater_project("path")`` (relative to the test file's folder), with the
    command-line option ``--headwater-project PATH`` (relative to where pytest was started), or
    by overriding the fixture in a ``conftest.py``.

``headwater_run``
    A callable ``headwater_run(configuration=None, state=None, *, project=None, naming=None)``
    returning a :class:`~headwater.testing.SyncResult`. Each test gets its own temporary
    warehouse; a second call in the same test continues from the state the first one saved (pass
    ``state=`` to start from another). The project is copied, never written to. Each sync's log
    is attached to the test report, so a failing test shows it. ``headwater_run.results`` lists
    the results so far.

Opting out: ``pytest -p no:headwater`` (or ``addopts = "-p no:headwater"`` in the pytest
configuration, or ``PYTEST_ADDOPTS="-p no:headwater"``) keeps the plugin from loading, for
example when a project defines fixtures of the same names.

Without the entry point (headwater not installed as a distribution), load the plugin with
``pytest -p headwater.testing.plugin`` or ``pytest_plugins = ["headwater.testing.plugin"]`` in the
rootdir's ``conftest.py``. Do not add either while the entry point is installed: pytest then sees
one module under two names and stops with "Plugin already registered under a different name".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import SyncResult, run_connector

__all__ = ["HeadwaterRun", "connector_project", "headwater_run"]

OPTION = "--headwater-project"
MARKER = "headwater_project"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("headwater", "headwater connector tests")
    group.addoption(
        OPTION,
        dest="headwater_project",
        metavar="PATH",
        default=None,
        help="the connector project (folder with connector.py) that the headwater_run and "
        "connector_project fixtures use; default: the test file's folder or its parent",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path): the connector project for this test's headwater_run and connector_project "
        "fixtures, relative to the test file's folder",
    )


class HeadwaterRun:
    """Runs syncs of a connector project in a temporary warehouse of one test.

    Calls on the same project share the warehouse and the saved state, so each continues from
    the previous one, exactly like running ``headwater debug`` again.
    """

    def __init__(self, project: Path, workspace: Path, node: pytest.Item | None = None) -> None:
        self.project = project
        self.workspace = workspace
        self.results: list[SyncResult] = []
        self._node = node
        self._warehouses: dict[Path, Path] = {}

    def warehouse_dir(self, project: str | os.PathLike[str] | None = None) -> Path:
        """The folder holding ``files/warehouse.db`` and ``files/state.json`` for ``project``."""
        resolved = Path(project).resolve() if project is not None else self.project
        folder = self._warehouses.get(resolved)
        if folder is None:
            folder = self.workspace / f"{len(self._warehouses)}-{resolved.name}"
            self._warehouses[resolved] = folder
        return folder

    @property
    def last(self) -> SyncResult | None:
        """The result of the latest call, if any."""
        return self.results[-1] if self.results else None

    def __call__(
        self,
        configuration: Mapping[str, str] | None = None,
        state: Mapping[str, Any] | None = None,
        *,
        project: str | os.PathLike[str] | None = None,
        naming: str | None = None,
    ) -> SyncResult:
        """Run one sync and return its result (a failed sync is returned, not raised).

        Args:
            configuration: the configuration; default: the project's configuration.json, if any.
            state: the input state; default: the state the previous call saved (``{}`` at first).
            project: another project than :attr:`project` (it gets its own warehouse).
            naming: ``"FIVETRAN"`` (default) or ``"SOURCE"``.
        """
        source = Path(project).resolve() if project is not None else self.project
        result = run_connector(
            source,
            configuration=configuration,
            state=state,
            naming=naming,
            warehouse_dir=self.warehouse_dir(source),
        )
        self.results.append(result)
        if self._node is not None:
            text = result.output + (f"\n{result.errors}" if result.errors else "")
            self._node.add_report_section("call", f"headwater sync {len(self.results)} ({source.name})", text)
        return result

    def __repr__(self) -> str:
        return f"HeadwaterRun(project={str(self.project)!r}, runs={len(self.results)})"


def _marker_project(request: pytest.FixtureRequest) -> Path | None:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return None
    value = marker.kwargs.get("path", marker.args[0] if marker.args else None)
    if not isinstance(value, (str, os.PathLike)):
        pytest.fail(f"@pytest.mark.{MARKER} needs the project path, e.g. @pytest.mark.{MARKER}('..')", pytrace=False)
    return Path(request.path).parent / value


def _default_project(test_file: Path) -> Path:
    folder = test_file.parent
    for candidate in (folder, folder.parent):
        if (candidate / "connector.py").is_file():
            return candidate
    pytest.fail(
        f"headwater: no connector.py in {folder} or {folder.parent}, so the project under test is unknown; "
        f"use @pytest.mark.{MARKER}('path/to/project'), {OPTION} PATH, or override the connector_project fixture",
        pytrace=False,
    )


@pytest.fixture
def connector_project(request: pytest.FixtureRequest) -> Path:
    """The folder holding the connector under test (see the module docstring for how it is found)."""
    chosen = _marker_project(request)
    how = f"@pytest.mark.{MARKER}"
    if chosen is None:
        option = request.config.getoption("headwater_project", default=None)
        if option is not None:
            chosen = request.config.invocation_params.dir / str(option)
            how = OPTION
    if chosen is None:
        return _default_project(Path(request.path))
    project = chosen.resolve()
    if not (project / "connector.py").is_file():
        pytest.fail(f"headwater: {how} names {project}, which has no connector.py", pytrace=False)
    return project


@pytest.fixture
def headwater_run(
    connector_project: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> HeadwaterRun:
    """Run the project under test: ``headwater_run(configuration=None, state=None)`` -> SyncResult.

    Calls in one test continue from the previous call's saved state; each test has its own warehouse.
    """
    node = request.node if isinstance(request.node, pytest.Item) else None
    return HeadwaterRun(connector_project, tmp_path_factory.mktemp("headwater"), node)
