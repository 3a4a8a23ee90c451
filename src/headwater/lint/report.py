"""What a lint run found: :class:`Finding` values collected in a :class:`LintReport`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["SEVERITIES", "Finding", "LintReport", "Severity"]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    ``line`` and ``col`` are 1-based; ``col`` counts characters. ``hint`` says what to write instead::

        Finding(rule="HW060", severity="warning", path="connector.py", line=12, col=12,
                message="requests.get() has no timeout ...", hint="pass timeout=30 ...")
    """

    rule: str
    severity: Severity
    path: str
    line: int
    col: int
    message: str
    hint: str

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.col, self.rule, self.message)

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict (the keys of ``--format json``)."""
        return asdict(self)


@dataclass(frozen=True)
class LintReport:
    """Every finding of one ``lint_project`` call, sorted by path, line and column.

    ``files`` lists what was read (relative display paths). ``has_errors`` decides the exit status.
    """

    findings: tuple[Finding, ...]
    files: tuple[str, ...] = field(default=())

    @classmethod
    def from_findings(cls, findings: Iterable[Finding], files: Iterable[str]) -> LintReport:
        return cls(findings=tuple(sorted(set(findings), key=lambda finding: finding.sort_key)), files=tuple(files))

    @property
    def has_errors(self) -> bool:
        """True when at least one error-level finding remains (exit status 1)."""
        return any(finding.severity == "error" for finding in self.findings)

    def counts(self) -> dict[Severity, int]:
        """How many findings of each severity, every severity present as a key."""
        counts: dict[Severity, int] = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """``{"findings": [...], "counts": {...}, "has_errors": bool, "files": [...]}``."""
        return {
            "findings": [finding.to_dict() for finding in self.findings],
            "counts": self.counts(),
            "has_errors": self.has_errors,
            "files": list(self.files),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
