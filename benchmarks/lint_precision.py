"""How often ``headwater lint`` is right on real connectors: run it over a corpus, sample findings.

    .venv/bin/python benchmarks/lint_precision.py CORPUS [--per-rule 10] [--seed 2024]
                                                  [--judgments FILE] [--show]

CORPUS is a checkout of a repository of connectors, e.g. Fivetran's public examples
(github.com/fivetran/fivetran_connector_sdk): every folder under ``CORPUS/connectors`` and
``CORPUS/examples`` that has a ``connector.py`` is linted (all rules, default severities). Nothing
of the corpus is imported or run.

It prints, as JSON: how many projects were linted, which ones made lint crash (with the
traceback's last line), the time taken, the findings per rule, and a sample: for each rule, up to
``--per-rule`` findings drawn with ``random.Random(seed).sample`` from that rule's findings in a
stable order (sorted by path, line, column, message), so the same corpus and seed always give
the same sample. ``--show`` prints each sampled finding with the code around it instead, for
judging by reading.

Judging: write a JSON file mapping ``"RULE path:line"`` (path relative to CORPUS, as printed) to
``true`` (the finding is right) or ``false``, and pass it with ``--judgments``; the output then
has judged and correct counts per rule and the overall precision over the judged sample.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from headwater.lint import Finding, lint_project

SUBFOLDERS = ("connectors", "examples")


def projects(corpus: Path) -> list[Path]:
    """Every folder with a connector.py under the corpus' connectors/ and examples/, sorted."""
    found = {path.parent for folder in SUBFOLDERS if (corpus / folder).is_dir()
             for path in (corpus / folder).rglob("connector.py")}
    return sorted(found)


def key(finding: Finding, corpus: Path) -> str:
    """``"HW014 connectors/x/connector.py:12"``: how a finding is named in a judgments file."""
    path = Path(finding.path)
    relative = path.relative_to(corpus) if path.is_absolute() and path.is_relative_to(corpus) else path
    return f"{finding.rule} {relative.as_posix()}:{finding.line}"


def run(corpus: Path, per_rule: int, seed: int) -> tuple[dict[str, Any], dict[str, list[Finding]]]:
    corpus = corpus.resolve()
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    crashes = []
    folders = projects(corpus)
    started = time.perf_counter()
    for folder in folders:
        try:
            report = lint_project(folder)
        except Exception:  # noqa: BLE001 - a crash is what this counts
            crashes.append({"project": folder.relative_to(corpus).as_posix(),
                            "error": traceback.format_exc().strip().splitlines()[-1]})
            continue
        for finding in report.findings:
            by_rule[finding.rule].append(finding)
    elapsed = time.perf_counter() - started
    sample: dict[str, list[Finding]] = {}
    for rule in sorted(by_rule):
        findings = sorted(by_rule[rule], key=lambda f: (f.path, f.line, f.col, f.message))
        sample[rule] = random.Random(f"{seed}:{rule}").sample(findings, min(per_rule, len(findings)))
        sample[rule].sort(key=lambda f: (f.path, f.line, f.col))
    summary = {
        "projects": len(folders),
        "crashes": crashes,
        "seconds": round(elapsed, 2),
        "findings": sum(len(found) for found in by_rule.values()),
        "per_rule": {rule: len(by_rule[rule]) for rule in sorted(by_rule)},
        "sampling": f"per rule: random.Random('{seed}:<rule>').sample(findings sorted by path, line, col, message, "
                    f"min({per_rule}, count))",
    }
    return summary, sample


def excerpt(finding: Finding, context: int = 6) -> str:
    path = Path(finding.path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(unreadable)"
    low, high = max(1, finding.line - context), min(len(lines), finding.line + context)
    return "\n".join(f"{'>' if number == finding.line else ' '}{number:5} {lines[number - 1]}"
                     for number in range(low, high + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--per-rule", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--judgments", type=Path)
    parser.add_argument("--show", action="store_true", help="print the sampled findings with their code")
    options = parser.parse_args(argv)
    corpus = options.corpus.resolve()
    summary, sample = run(corpus, options.per_rule, options.seed)
    if options.show:
        for findings in sample.values():
            for finding in findings:
                print(f"=== {key(finding, corpus)}  [{finding.severity}] {finding.message}")
                print(excerpt(finding))
        return 0
    summary["sample"] = {rule: [key(finding, corpus) for finding in findings] for rule, findings in sample.items()}
    if options.judgments is not None:
        judged: dict[str, bool] = json.loads(options.judgments.read_text(encoding="utf-8"))
        per_rule: dict[str, dict[str, int]] = {}
        totals: Counter[str] = Counter()
        for rule, findings in sample.items():
            verdicts = [judged[name] for name in (key(f, corpus) for f in findings) if name in judged]
            per_rule[rule] = {"sampled": len(findings), "judged": len(verdicts), "correct": sum(verdicts)}
            totals["judged"] += len(verdicts)
            totals["correct"] += sum(verdicts)
        summary["judged"] = per_rule
        summary["precision"] = round(totals["correct"] / totals["judged"], 3) if totals["judged"] else None
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 1 if summary["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
