"""The public surface: headwater's names, and `fivetran_connector_sdk` resolving to headwater (API-2, API-3, API-10)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import headwater


def test_headwater_exports_the_connector_author_surface() -> None:
    assert headwater.__all__ == sorted(headwater.__all__)
    assert set(headwater.__all__) == {
        "ByteStream", "ConfigurationForm", "Connector", "FileUpload", "Logging", "Operations", "Test", "__version__",
        "sync",
    }


def test_no_fivetran_distribution_is_installed_beside_headwater() -> None:
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("fivetran-connector-sdk")
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("fivetran-connector-sdk-core")


def test_installed_fivetran_connector_sdk_package_is_headwaters_implementation() -> None:
    import fivetran_connector_sdk

    package_root = Path(headwater.__file__).resolve().parent.parent
    assert Path(fivetran_connector_sdk.__file__).resolve().parent.parent == package_root
    assert fivetran_connector_sdk.Connector is headwater.Connector
    assert fivetran_connector_sdk.Operations is headwater.Operations
    assert fivetran_connector_sdk.Logging is headwater.Logging
    assert isinstance(fivetran_connector_sdk.__version__, str)


def test_star_import_gives_the_front_end_names() -> None:
    namespace: dict[str, object] = {}
    exec("from fivetran_connector_sdk import *", namespace)
    names = {name for name in namespace if not name.startswith("__")}
    assert names == {"ByteStream", "FileUpload", "Logging", "Operations", "ConfigurationForm", "Test", "form_field"}


def test_sdk_submodules_import() -> None:
    for name in ("form_field", "operations", "configuration_form", "test", "file_upload"):
        module = importlib.import_module(f"fivetran_connector_sdk.{name}")
        assert module is not None


def test_python_connector_py_runs_through_headwater(tmp_path: Path) -> None:
    (tmp_path / "connector.py").write_text(textwrap.dedent('''
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            op.upsert("t", {"id": 1})
            op.checkpoint({"ok": True})

        connector = Connector(update=update)

        if __name__ == "__main__":
            connector.debug()
    '''))
    done = subprocess.run([sys.executable, "connector.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Sync SUCCEEDED" in done.stdout
    assert (tmp_path / "files" / "warehouse.db").exists()


def test_in_process_syncs_of_two_projects_do_not_share_helper_modules(tmp_path: Path) -> None:
    from headwater.testing import run_connector

    for name in ("one", "two"):
        project = tmp_path / name
        project.mkdir()
        (project / "helpers.py").write_text(f"WHO = {name!r}\n")
        (project / "connector.py").write_text(textwrap.dedent('''
            from fivetran_connector_sdk import Connector, Operations as op
            import helpers

            def update(configuration, state):
                op.upsert("who", {"id": 1, "name": helpers.WHO})

            connector = Connector(update=update)
        '''))
    first = run_connector(tmp_path / "one", warehouse_dir=tmp_path / "w1")
    second = run_connector(tmp_path / "two", warehouse_dir=tmp_path / "w2")
    assert first.rows("SELECT name FROM tester.who") == [("one",)]
    assert second.rows("SELECT name FROM tester.who") == [("two",)]


def test_operation_bound_during_the_sync_is_refused_after_it_ended(tmp_path: Path) -> None:
    import io

    from headwater.connector import Connector
    from headwater.errors import NoSyncRunningError
    from headwater.operations import Operations as op
    from headwater.runner import DebugRequest, run_debug

    captured = {}

    def update(configuration: dict[str, str], state: dict[str, object]) -> None:
        captured["upsert"] = op.upsert  # the sync's own bound method while it runs
        op.upsert("t", {"id": 1})

    report = run_debug(DebugRequest(project=tmp_path, connector=Connector(update=update), environ={}),
                       out=io.StringIO(), err=io.StringIO())
    assert report.exit_code == 0
    with pytest.raises(NoSyncRunningError, match="no sync is running"):
        captured["upsert"]("t", {"id": 2})
