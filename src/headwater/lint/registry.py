"""The rule catalogue: every rule declared once, with its metadata, examples and check function.

A rule module declares a rule with :func:`rule` as a decorator on its check function::

    @rule(
        "HW020", "print-call", "warning",
        summary="print() used instead of the SDK's Logging.",
        why="...", fix="...",
        bad=Example(BAD_CODE, line=6), good=Example(GOOD_CODE),
    )
    def check_print(project: ProjectContext) -> Iterator[Violation]:
        ...

The check function reads the shared, already parsed :class:`~headwater.lint.context.ProjectContext`
and yields :class:`Violation` values; the runner turns them into findings with the rule's id and
severity, drops the ones a ``# noqa`` comment silences, and sorts them. The same examples feed the
generated reference page (``python -m headwater.lint.docs``) and the tests.
"""

from __future__ import annotations

import importlib
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.lint.report import Severity

if TYPE_CHECKING:
    from headwater.lint.context import ProjectContext

__all__ = ["MINIMAL_CONNECTOR", "Example", "Rule", "Violation", "all_rules", "get_rule", "rule"]

RULE_ID = re.compile(r"HW\d{3}")

#: A clean connector.py, written next to examples that are about another file (requirements.txt, ...).
MINIMAL_CONNECTOR = '''\
from fivetran_connector_sdk import Connector, Operations as op


def update(configuration: dict, state: dict):
    op.upsert(table="hello", data={"id": 1, "message": "hello"})
    op.checkpoint(state={"done": True})


connector = Connector(update=update)
'''


@dataclass(frozen=True)
class Violation:
    """What a check function reports: a place, a message naming the offending thing, a hint.

    ``hint=None`` uses the rule's generic ``fix``.
    """

    path: str
    line: int
    col: int
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Example:
    """A small project showing a rule: the main file's text plus any other files it needs.

    ``line`` is where the single finding of a bad example points (in ``file``). ``git=True`` makes
    the project a git work tree (for the rule about git-ignored configuration).
    """

    code: str
    file: str = "connector.py"
    line: int | None = None
    others: Mapping[str, str] = field(default_factory=dict)
    git: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", textwrap.dedent(self.code).lstrip("\n"))

    def files(self) -> dict[str, str]:
        """Every file of the example project, with a clean connector.py unless one is given."""
        files = {"connector.py": MINIMAL_CONNECTOR, **self.others}
        files[self.file] = self.code
        return files


CheckFunction = Callable[["ProjectContext"], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """One lint rule: a stable id (``HW0xx``), a short name, a severity and its documentation."""

    id: str
    name: str
    severity: Severity
    summary: str
    why: str
    fix: str
    bad: Example
    good: Example
    check: CheckFunction
    family: str


_RULES: dict[str, Rule] = {}
_LOADED = False


def rule(
    rule_id: str,
    name: str,
    severity: Severity,
    *,
    summary: str,
    why: str,
    fix: str,
    bad: Example,
    good: Example,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated check function as rule ``rule_id`` (each id once)."""

    def register(check: CheckFunction) -> CheckFunction:
        if not RULE_ID.fullmatch(rule_id):
            raise ValueError(f"rule id {rule_id!r} must look like HW012")
        if rule_id in _RULES:
            raise ValueError(f"rule {rule_id} is registered twice ({_RULES[rule_id].name} and {name})")
        if bad.line is None:
            raise ValueError(f"rule {rule_id}: the bad example must say which line the finding points at")
        family = check.__module__.rsplit(".", 1)[-1]
        _RULES[rule_id] = Rule(
            id=rule_id, name=name, severity=severity, summary=summary, why=" ".join(why.split()),
            fix=" ".join(fix.split()), bad=bad, good=good, check=check, family=family,
        )
        return check

    return register


def all_rules() -> tuple[Rule, ...]:
    """Every registered rule, sorted by id (imports the rule modules the first time)."""
    global _LOADED
    if not _LOADED:
        importlib.import_module("headwater.lint.rules")
        _LOADED = True
    return tuple(_RULES[rule_id] for rule_id in sorted(_RULES))


def get_rule(rule_id: str) -> Rule:
    """The rule with this id; ``KeyError`` if there is none."""
    all_rules()
    return _RULES[rule_id.upper()]
