"""headwater.testing.plugin, run the way users run it: pytester writes a connector project with a
test file, runs pytest on it in-process, and we look at the outcomes.

The inner runs load the plugin with ``-p no:headwater -p headwater.testing.plugin``, which works
whether or not the ``pytest11`` entry point is installed (``no:headwater`` keeps the entry point
from registering the same module a second time). The entry point itself is simulated with a
``.dist-info`` folder on ``sys.path``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# Imported here, before any in-process run: pytester removes the modules first imported during a
# run when it ends, and a C extension such as DuckDB's aborts the process when imported twice.
import duckdb  # noqa: F401
import pyarrow  # noqa: F401
import pytest

pytest_plugins = ["pytester"]

CONNECTOR = '''
from fivetran_connector_sdk import Connector, Operations as op, Logging as log


def schema(configuration):
    return [{"table": "items", "primary_key": ["id"]}]


def update(configuration, state):
    last = state.get("last_id", 0)
    step = int(configuration.get("step", "2"))
    log.info(f"items after {last}")
    for item_id in range(last + 1, last + step + 1):
        op.upsert("items", {"id": item_id, "name": f"item {item_id}"})
    op.checkpoint({"last_id": last + step})


connector = Connector(update=update, schema=schema)
'''

# Other plugins stay out of the inner runs: each run would import them afresh (see above), which
# costs about a second for hypothesis.
OTHERS_OFF = ("-p", "no:hypothesispytest", "-p", "no:anyio", "-p", "no:pytest_httpserver")
LOAD_PLUGIN = (*OTHERS_OFF, "-p", "no:headwater", "-p", "headwater.testing.plugin")


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def test_fixtures_run_the_project_and_continue_incrementally(pytester: pytest.Pytester) -> None:
    write(pytester.path, {
        "shop/connector.py": CONNECTOR,
        "shop/tests/test_shop.py": '''
            from headwater.testing.assertions import assert_no_duplicate_keys, assert_row_count, assert_state_advanced


            def test_second_sync_continues(headwater_run, connector_project):
                assert connector_project.name == "shop"
                first = headwater_run(configuration={"step": "2"})
                second = headwater_run(configuration={"step": "3"})
                assert second.succeeded, second.output
                assert [o.data["id"] for o in second.operations if o.kind == "upsert"] == [3, 4, 5]
                assert_row_count(second, "items", 5)
                assert_no_duplicate_keys(second, "items")
                assert_state_advanced(first, second, "last_id")
                assert headwater_run.results == [first, second]
                assert not (connector_project / "files").exists()   # the project is never written to


            def test_state_can_be_given(headwater_run):
                result = headwater_run({"step": "1"}, {"last_id": 41})
                assert result.state == {"last_id": 42}


            def test_each_test_has_its_own_warehouse(headwater_run):
                assert headwater_run({"step": "1"}).state == {"last_id": 1}


            def test_a_wrong_count_fails_with_the_rows(headwater_run):
                assert_row_count(headwater_run(), "items", 3)
        ''',
    })
    result = pytester.runpytest(*LOAD_PLUGIN, "--strict-markers")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: tester.items has 2 rows, expected 3",
        "*Captured headwater sync 1 (shop) call*",
        "*INFO*items after 0",
    ])


def test_project_beside_the_test_file_is_found(pytester: pytest.Pytester) -> None:
    write(pytester.path, {
        "connector.py": CONNECTOR,
        "test_beside.py": '''
            def test_it(headwater_run, connector_project, request):
                assert connector_project == request.path.parent
                assert headwater_run().succeeded
        ''',
    })
    pytester.runpytest(*LOAD_PLUGIN).assert_outcomes(passed=1)


def test_option_and_marker_choose_the_project(pytester: pytest.Pytester) -> None:
    write(pytester.path, {
        "one/connector.py": CONNECTOR,
        "two/connector.py": CONNECTOR,
        "suite/test_choose.py": '''
            import pytest


            def test_option(connector_project):
                assert connector_project.name == "one"


            @pytest.mark.headwater_project("../two")
            def test_marker_wins_over_the_option(connector_project, headwater_run):
                assert connector_project.name == "two"
                assert headwater_run().succeeded


            def test_other_project_in_one_call(headwater_run, connector_project):
                other = headwater_run(project=connector_project.parent / "two")
                assert other.project != headwater_run.warehouse_dir()
                assert other.state == {"last_id": 2}
        ''',
    })
    pytester.runpytest(*LOAD_PLUGIN, "--strict-markers", "--headwater-project", "one").assert_outcomes(passed=3)


def test_unknown_project_fails_with_what_to_do(pytester: pytest.Pytester) -> None:
    write(pytester.path, {
        "suite/tests/test_lost.py": '''
            import pytest


            def test_default(headwater_run):
                pass


            @pytest.mark.headwater_project("nowhere")
            def test_marker(connector_project):
                pass
        ''',
    })
    result = pytester.runpytest(*LOAD_PLUGIN)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*headwater: no connector.py in *tests or *suite, so the project under test is unknown; "
        "use @pytest.mark.headwater_project('path/to/project'), --headwater-project PATH, "
        "or override the connector_project fixture",
        "*headwater: @pytest.mark.headwater_project names *nowhere, which has no connector.py",
    ])


def test_help_lists_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*LOAD_PLUGIN, "--help")
    result.stdout.fnmatch_lines(["*--headwater-project=PATH*"])


def test_entry_point_loads_the_plugin_and_no_headwater_opts_out(pytester: pytest.Pytester) -> None:
    write(pytester.path, {
        "site/headwater_plugin_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: headwater-plugin-probe\n"
                                                              "Version: 1.0\n",
        "site/headwater_plugin_probe-1.0.dist-info/entry_points.txt": "[pytest11]\n"
                                                                      "headwater = headwater.testing.plugin\n",
        "connector.py": CONNECTOR,
        "test_auto.py": '''
            def test_it(headwater_run):
                assert headwater_run().succeeded
        ''',
    })
    pytester.syspathinsert(pytester.path / "site")
    pytester.runpytest(*OTHERS_OFF).assert_outcomes(passed=1)
    opted_out = pytester.runpytest(*OTHERS_OFF, "-p", "no:headwater")
    opted_out.assert_outcomes(errors=1)
    opted_out.stdout.fnmatch_lines(["*fixture 'headwater_run' not found*"])
