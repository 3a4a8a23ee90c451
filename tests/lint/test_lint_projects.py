"""lint on whole connectors: our examples and templates are clean, the conformance connectors never
crash it, and the realistic fixture connectors get exactly the findings marked in them.

Fixtures (tests/lint/fixtures/<name>/) mark each expected finding on its line with a comment
``# expect: HW060`` (several: ``# expect: HW031, HW031``); configuration.json cannot hold comments,
so its expectations are listed here. Every unmarked line must stay silent.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from headwater.lint import lint_project

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path for path in (REPOSITORY / "examples").iterdir() if (path / "connector.py").is_file())
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_NAMES = sorted(path.name for path in FIXTURES.iterdir() if (path / "connector.py").is_file())
CONFORMANCE = REPOSITORY.parent / "shared" / "conformance" / "cases"
CONFORMANCE_CASES = sorted(CONFORMANCE.glob("*/connector.py")) if CONFORMANCE.is_dir() else []
# Conformance connectors that misbehave on purpose, with the findings that say so; every other case
# is plain, correct code and must lint clean.
CONFORMANCE_FINDINGS = {
    "api_empty_update": {"HW010"},            # sends nothing, on purpose
    "api_logging_output": {"HW022"},          # logs at every level, fine and severe included
    "api_yield_style": {"HW013"},             # the old generator style (info)
    "cli_version": {"HW011"},                 # never checkpoints
    "err_connector_callables": {"HW003", "HW004"},  # update=None / "update" / async def
    "err_load_connector": {"HW003"},          # Connector(schema=schema) without update
    # Writes to tables schema() does not declare, to test inferred tables (HW033 is right to warn).
    "api_helper_modules": {"HW033"}, "json_nested_values": {"HW033"}, "ops_delete_soft": {"HW033"},
    "ops_multiple_tables": {"HW033"}, "sem_column_order": {"HW033"},
}
# Every template deploys as it is: the rest-api one imports the vendored headwater_helpers copy.
TEMPLATE_FINDINGS: dict[str, set[str]] = {}
EXTRA_EXPECTED = {"careless_rest": [("configuration.json", 3, "HW040")]}
EXPECT = re.compile(r"#\s*expect:\s*(?P<rules>HW\d{3}(?:\s*,\s*HW\d{3})*)")


def expected_findings(root: Path) -> Counter[tuple[str, int, str]]:
    expected: Counter[tuple[str, int, str]] = Counter()
    for path in [*root.rglob("*.py"), *root.glob("requirements.txt")]:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = EXPECT.search(text)
            if match:
                for rule in re.split(r"\s*,\s*", match.group("rules")):
                    expected[(path.relative_to(root).as_posix(), number, rule)] += 1
    for name, line, rule in EXTRA_EXPECTED.get(root.name, []):
        expected[(name, line, rule)] += 1
    return expected


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """A copy outside the repository, so that git's view of the repository plays no part."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_our_examples_are_clean(example: Path) -> None:
    assert lint_project(example).findings == ()


def test_the_templates_are_clean(tmp_path: Path) -> None:
    scaffold = pytest.importorskip("headwater.scaffold")
    for template in scaffold.TEMPLATES:
        project = tmp_path / template
        scaffold.scaffold(project, template=template)
        subprocess.run(["git", "init", "-q", str(project)], check=True, capture_output=True)
        report = lint_project(project)
        rules = {finding.rule for finding in report.findings}
        assert rules == TEMPLATE_FINDINGS.get(template, set()), f"template {template}: {report.findings}"


@pytest.mark.skipif(not CONFORMANCE_CASES, reason="../shared/conformance is not next to this repository")
@pytest.mark.parametrize("connector", CONFORMANCE_CASES, ids=[path.parent.name for path in CONFORMANCE_CASES])
def test_conformance_connectors_lint_without_crashing(connector: Path) -> None:
    report = lint_project(connector.parent)
    rules = {finding.rule for finding in report.findings}
    assert rules == CONFORMANCE_FINDINGS.get(connector.parent.name, set()), report.findings


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_connectors_get_exactly_the_marked_findings(name: str, tmp_path: Path) -> None:
    root = copy_fixture(name, tmp_path)
    report = lint_project(root)
    found = Counter((Path(f.path).relative_to(root).as_posix(), f.line, f.rule) for f in report.findings)
    assert found == expected_findings(root)


def test_fixture_set_covers_the_common_styles() -> None:
    assert set(FIXTURE_NAMES) >= {"rest_api_requests", "database_source", "generator_style", "httpx_client",
                                  "careless_rest", "sdk_example_style"}


def test_careless_fixture_in_a_git_work_tree_also_reports_its_configuration(tmp_path: Path) -> None:
    root = copy_fixture("careless_rest", tmp_path)
    subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
    report = lint_project(root, select=["HW041"])
    assert [(Path(f.path).name, f.line) for f in report.findings] == [("configuration.json", 2)]
    (root / ".gitignore").write_text("configuration.json\n", encoding="utf-8")
    assert lint_project(root, select=["HW041"]).findings == ()


def test_lint_reads_only_the_modules_the_connector_imports(tmp_path: Path) -> None:
    root = copy_fixture("rest_api_requests", tmp_path)
    (root / "scratch.py").write_text('print("a throwaway script")\nAPI_KEY = "Zt8pQ2wXc4-q8Wm2Z"\n', encoding="utf-8")
    report = lint_project(root)
    assert report.findings == ()
    assert "scratch.py" not in " ".join(report.files)


def test_the_benchmark_connector_is_realistic_clean_code(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("lint_speed", REPOSITORY / "benchmarks" / "lint_speed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generate: Callable[[], tuple[str, str]] = module.generate_connector
    connector, client = generate()
    assert len(connector.splitlines()) >= 2000
    (tmp_path / "connector.py").write_text(connector, encoding="utf-8")
    (tmp_path / "client.py").write_text(client, encoding="utf-8")
    assert lint_project(tmp_path).findings == ()
