"""docs/lint-rules.md is generated from the registry and committed; it must match the code."""

from __future__ import annotations

from pathlib import Path

from headwater.lint import all_rules
from headwater.lint.docs import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "lint-rules.md"


def test_committed_reference_page_equals_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/lint-rules.md is stale: run `.venv/bin/python -m headwater.lint.docs > docs/lint-rules.md`")


def test_every_rule_is_documented_with_a_bad_and_a_good_example() -> None:
    page = render()
    for rule in all_rules():
        section = page.split(f"### {rule.id} ", 1)[1].split("\n### ", 1)[0]
        assert section.startswith(f"{rule.name} ({rule.severity})")
        assert "**Bad**" in section and "**Good**" in section and "*Fix:*" in section and "*Why:*" in section
        assert rule.bad.code.strip() in section and rule.good.code.strip() in section
