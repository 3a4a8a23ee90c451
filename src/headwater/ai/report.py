"""What a generate or enhance run did, round by round, and the files it leaves in ``files/ai/``.

``files/ai/transcript.jsonl``
    one JSON object per line: each request as sent (the redacted prompts), each answer (the files,
    notes, tokens, estimated cost) and each round's gate results, then the outcome.
``files/ai/rounds.json``
    every round's gate results, tokens and cost, and the totals; rewritten after each round.
``files/ai/summary.txt``
    the table :func:`render_summary` draws, also printed at the end by the CLI.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from headwater.ai.client import Usage
from headwater.ai.gates import GateResult
from headwater.ai.prompt import Prompt

__all__ = ["AI_DIR", "GenerationReport", "RoundRecord", "Status", "Transcript", "render_summary"]

AI_DIR: Final = Path("files") / "ai"
Status = Literal["converged", "budget_exhausted", "needs_configuration", "infrastructure", "model_error"]
STATUS_TEXT: Final[dict[str, str]] = {
    "converged": "converged: every gate passed",
    "budget_exhausted": "stopped: the budget is spent",
    "needs_configuration": "stopped: the configuration needs fixing (the model was not asked to change code)",
    "infrastructure": "stopped: an infrastructure problem (network, API or service)",
    "model_error": "stopped: the model could not be called",
}
GATE_MARK: Final = {"passed": "pass", "failed": "FAIL", "skipped": "skip", "unavailable": "n/a"}


@dataclass
class RoundRecord:
    """One round: the prompt kind, the model's answer and every gate's result."""

    number: int
    prompt_kind: str
    templates: dict[str, int]
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    model_seconds: float = 0.0
    gate_seconds: float = 0.0
    changed: list[str] = field(default_factory=list)
    notes: str = ""
    gates: list[GateResult] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.number, "prompt": self.prompt_kind, "templates": self.templates,
            "usage": self.usage.to_dict(), "cost_usd": round(self.cost_usd, 6),
            "model_seconds": round(self.model_seconds, 3), "gate_seconds": round(self.gate_seconds, 3),
            "changed": self.changed, "notes": self.notes, "error": self.error,
            "gates": [result.to_dict() for result in self.gates],
        }


@dataclass
class GenerationReport:
    """The outcome of ``generate`` or ``enhance``: ``succeeded`` when every gate passed."""

    command: Literal["generate", "enhance"]
    project: Path
    model: str
    status: Status
    reason: str
    rounds: list[RoundRecord] = field(default_factory=list)
    seconds: float = 0.0
    written: list[str] = field(default_factory=list)
    diff: str = ""
    new_configuration_keys: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "converged"

    @property
    def usage(self) -> Usage:
        total = Usage()
        for record in self.rounds:
            total = total + record.usage
        return total

    @property
    def cost_usd(self) -> float:
        return sum(record.cost_usd for record in self.rounds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command, "project": str(self.project), "model": self.model, "status": self.status,
            "succeeded": self.succeeded, "reason": self.reason, "rounds": [record.to_dict() for record in self.rounds],
            "usage": self.usage.to_dict(), "cost_usd": round(self.cost_usd, 6), "seconds": round(self.seconds, 3),
            "written": self.written, "new_configuration_keys": self.new_configuration_keys,
        }


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return lines


def render_summary(report: GenerationReport) -> str:
    """A table with one line per round (tokens, cost, every gate), the totals and the outcome."""
    gate_names: list[str] = []
    for record in report.rounds:
        for result in record.gates:
            if result.gate not in gate_names:
                gate_names.append(result.gate)
    header = ["Round", "Tokens in", "Tokens out", "Cost", *gate_names, "Note"]
    rows = [header]
    for record in report.rounds:
        marks = {result.gate: GATE_MARK[result.status] for result in record.gates}
        row = [str(record.number), f"{record.usage.input_tokens:,}", f"{record.usage.output_tokens:,}",
               f"${record.cost_usd:.4f}", *(marks.get(name, "-") for name in gate_names),
               f"answer unusable: {record.error[:70]}" if record.error else ""]
        rows.append(row)
    usage = report.usage
    rows.append(["Total", f"{usage.input_tokens:,}", f"{usage.output_tokens:,}", f"${report.cost_usd:.4f}",
                 *([""] * len(gate_names)), ""])
    lines = _table(rows) if report.rounds else ["(no round was run)"]
    lines.append("")
    lines.append(f"{report.command} {report.project} with {report.model}: {STATUS_TEXT[report.status]}, "
                 f"{len(report.rounds)} round{'s' if len(report.rounds) != 1 else ''}, {report.seconds:.1f}s")
    if report.reason and report.status != "converged":
        lines.append(f"reason: {report.reason}")
    if report.rounds and report.status != "converged":
        for result in report.rounds[-1].gates:
            if result.status == "failed":
                lines.append(f"  {result.gate} ({result.category}): {result.summary}")
    if report.new_configuration_keys:
        lines.append(f"new configuration keys to add to configuration.json: {', '.join(report.new_configuration_keys)}")
    return "\n".join(lines) + "\n"


class Transcript:
    """Writes ``files/ai/`` of one run as it goes, so an interrupted run still leaves its record."""

    def __init__(self, project: Path) -> None:
        self.directory = project / AI_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "transcript.jsonl"
        self.path.write_text("", encoding="utf-8")

    def _append(self, entry: dict[str, Any]) -> None:
        entry = {"time": round(time.time(), 3), **entry}
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def request(self, number: int, model: str, prompt: Prompt) -> None:
        self._append({"event": "request", "round": number, "model": model, "prompt": prompt.kind,
                      "templates": dict(prompt.templates), "system": prompt.system, "user": prompt.user})

    def response(self, number: int, record: RoundRecord, files: list[dict[str, str]], deleted: list[str]) -> None:
        self._append({"event": "response", "round": number, "files": files, "deleted": deleted,
                      "notes": record.notes, "usage": record.usage.to_dict(), "cost_usd": round(record.cost_usd, 6),
                      "seconds": round(record.model_seconds, 3), "error": record.error})

    def gates(self, number: int, results: list[GateResult]) -> None:
        self._append({"event": "gates", "round": number, "results": [result.to_dict() for result in results]})

    def rounds(self, report: GenerationReport) -> None:
        (self.directory / "rounds.json").write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n",
                                                    encoding="utf-8")

    def finish(self, report: GenerationReport) -> None:
        self._append({"event": "stopped", "status": report.status, "reason": report.reason,
                      "usage": report.usage.to_dict(), "cost_usd": round(report.cost_usd, 6),
                      "rounds": len(report.rounds)})
        self.rounds(report)
        (self.directory / "summary.txt").write_text(render_summary(report), encoding="utf-8")
        if report.diff:
            (self.directory / f"{report.command}.diff").write_text(report.diff, encoding="utf-8")
