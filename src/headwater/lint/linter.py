"""Run the selected rules over a parsed project and collect what is not silenced."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from headwater.errors import UsageError
from headwater.lint.context import NoqaMap, ProjectContext, load_project, parse_noqa
from headwater.lint.registry import Rule, all_rules
from headwater.lint.report import Finding, LintReport

__all__ = ["lint_project", "select_rules"]


def _tokens(values: Iterable[str] | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


def _matches(rule: Rule, token: str) -> bool:
    upper = token.upper()
    return upper == "ALL" or rule.id.startswith(upper) or rule.name == token.lower()


def select_rules(select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> tuple[Rule, ...]:
    """The rules chosen by ``select`` and not removed by ``ignore``.

    Each value is a rule id (``HW060``), an id prefix (``HW06`` for the HTTP family, ``ALL``), or a rule
    name (``http-no-timeout``); commas separate several. An unknown value raises
    :class:`~headwater.errors.UsageError` naming it.
    """
    rules = all_rules()
    chosen_tokens, ignored_tokens = _tokens(select), _tokens(ignore)
    for option, tokens in (("--select", chosen_tokens), ("--ignore", ignored_tokens)):
        for token in tokens:
            if not any(_matches(rule, token) for rule in rules):
                raise UsageError(
                    f"{option}: no rule matches {token!r}; give rule ids such as HW060, prefixes such as HW06, "
                    f"or names such as http-no-timeout (rules: {rules[0].id} to {rules[-1].id})"
                )
    if chosen_tokens:
        rules = tuple(rule for rule in rules if any(_matches(rule, token) for token in chosen_tokens))
    return tuple(rule for rule in rules if not any(_matches(rule, token) for token in ignored_tokens))


def lint_project(path: str | Path, *, select: Iterable[str] | None = None,
                 ignore: Iterable[str] | None = None) -> LintReport:
    """Lint the connector project at ``path`` (a folder with connector.py, or the file itself).

    Findings silenced by a ``# noqa: HW0xx`` comment on their line (an id prefix such as ``HW06``
    silences the family; a bare ``# noqa`` every rule) are dropped::

        report = lint_project("examples/hello", ignore=["HW013"])
        for finding in report.findings:
            print(finding.path, finding.line, finding.rule, finding.message)
        assert not report.has_errors

    Raises :class:`~headwater.errors.ProjectError` or :class:`~headwater.errors.ConnectorLoadError`
    when there is no project to lint, :class:`~headwater.errors.UsageError` for an unknown rule.
    """
    rules = select_rules(select, ignore)
    project = load_project(path)
    noqa = _noqa_maps(project)
    findings = []
    for rule in rules:
        for violation in rule.check(project):
            codes = noqa.get(violation.path, {}).get(violation.line, frozenset())
            if codes is None or _silenced(rule.id, codes):
                continue
            findings.append(Finding(
                rule=rule.id, severity=rule.severity, path=violation.path, line=violation.line,
                col=violation.col, message=violation.message, hint=violation.hint or rule.fix,
            ))
    return LintReport.from_findings(findings, project.files())


def _silenced(rule_id: str, codes: frozenset[str]) -> bool:
    """True if a ``# noqa`` code names the rule or is a prefix of its id (``HW06``; not ``HW`` alone)."""
    return rule_id in codes or any(len(code) >= 3 and rule_id.startswith(code) for code in codes)


def _noqa_maps(project: ProjectContext) -> dict[str, NoqaMap]:
    maps = {module.display: module.noqa for module in project.modules}
    requirements = project.root / "requirements.txt"
    if requirements.is_file():
        found: NoqaMap = {}
        try:
            lines = requirements.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        for number, line in enumerate(lines, start=1):
            if "#" in line:
                present, codes = parse_noqa(line[line.index("#"):])
                if present:
                    found[number] = codes
        maps[project.display(requirements)] = found
    return maps
