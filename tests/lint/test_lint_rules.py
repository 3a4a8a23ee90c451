"""Every rule's documented examples: the bad one gives exactly that finding at the documented line,
the good one gives no finding at all. Plus the catalogue's own invariants."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from headwater.lint import Rule, all_rules, get_rule, lint_project

WriteProject = Callable[..., Path]

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_rule_bad_example_gives_exactly_that_finding(rule: Rule, write_project: WriteProject) -> None:
    root = write_project(rule.bad.files(), git=rule.bad.git)
    report = lint_project(root)
    found = [f for f in report.findings if f.rule == rule.id]
    assert len(found) == 1, f"{rule.id}: expected one finding, got {found}"
    finding = found[0]
    assert finding.path.endswith(rule.bad.file)
    assert finding.line == rule.bad.line, finding
    assert finding.severity == rule.severity
    assert finding.message and finding.hint


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_rule_good_example_gives_no_finding(rule: Rule, write_project: WriteProject) -> None:
    root = write_project(rule.good.files(), git=rule.good.git)
    assert lint_project(root).findings == ()


def test_rule_ids_are_unique_stable_and_grouped_by_family() -> None:
    ids = [rule.id for rule in RULES]
    assert ids == sorted(set(ids))
    assert all(re.fullmatch(r"HW\d{3}", rule_id) for rule_id in ids)
    families: dict[str, str] = {}
    for rule in RULES:
        assert families.setdefault(rule.id[:4], rule.family) == rule.family, rule.id


def test_rule_names_are_unique_kebab_case() -> None:
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)


def test_rules_cover_the_issue_list() -> None:
    """The issue's rule list, by id: a renumbering would break users' noqa comments and --ignore."""
    expected = {
        "HW000": "syntax-error", "HW001": "update-missing", "HW002": "connector-missing",
        "HW003": "update-not-passed", "HW004": "callable-signature", "HW005": "schema-not-passed",
        "HW006": "debug-without-main-guard", "HW007": "exit-call", "HW008": "connector-not-module-level",
        "HW009": "headwater-import",
        "HW010": "no-operations", "HW011": "no-checkpoint", "HW012": "checkpoint-per-row",
        "HW013": "yield-operations", "HW014": "accumulate-then-upsert", "HW015": "fetchall",
        "HW016": "generator-not-consumed",
        "HW020": "print-call", "HW021": "stdlib-logging", "HW022": "deprecated-log-level",
        "HW030": "schema-entry-keys", "HW031": "schema-column-type", "HW032": "schema-primary-key",
        "HW033": "undeclared-table",
        "HW040": "configuration-not-strings", "HW041": "configuration-secret-not-ignored",
        "HW050": "hardcoded-secret", "HW051": "secret-like-literal", "HW052": "literal-authorization",
        "HW053": "secret-in-log",
        "HW060": "http-no-timeout", "HW061": "unbounded-network-loop", "HW062": "http-no-retry",
        "HW070": "bare-except", "HW071": "swallowed-exception", "HW072": "raise-without-from",
        "HW073": "log-and-continue",
        "HW080": "secret-in-state", "HW081": "cursor-before-records", "HW082": "checkpoint-state-unchanged",
        "HW090": "requirements-provided", "HW091": "requirements-unpinned",
    }
    assert {rule.id: rule.name for rule in RULES} == expected


def test_style_rules_are_info() -> None:
    """The yield style and `raise` without `from` are correct code: shown, never the main output."""
    assert {"HW013", "HW072"} <= {rule.id for rule in RULES if rule.severity == "info"}


def test_get_rule_finds_by_id_case_insensitively() -> None:
    assert get_rule("hw060").name == "http-no-timeout"
    with pytest.raises(KeyError):
        get_rule("HW999")
