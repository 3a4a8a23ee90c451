"""The generation loop: the model writes, the gates judge, the findings go back; bounded by a budget.

::

    from headwater.ai import Budget, GenerateRequest, ModelClient, generate

    request = GenerateRequest(project=Path("acme"), description="The Acme orders API ...",
                              tables=("orders",), configuration={"base_url": "...", "api_key": "..."})
    report = generate(request, model=ModelClient(model="claude-sonnet-5-5"))
    print(report.status, len(report.rounds), report.usage, report.cost_usd)

Each round sends one self-contained prompt (the first: the task; later ones: the task, the files as
they are and the failed gates' findings) and applies the answer's files to a staging copy of the
project, then runs every gate on it. The loop stops when:

- every gate passes (``converged``);
- a gate failed for a ``configuration`` reason, e.g. the API refused the configured credentials
  (``needs_configuration``): the model is never asked to change code for that;
- a gate failed for an ``infrastructure`` reason (``infrastructure``), or the model cannot be
  called (``model_error``);
- the budget is spent (``budget_exhausted``): rounds, tokens, estimated dollars or wall time,
  checked before each call to the model.

``generate`` then writes the last attempt into the project, whatever the outcome (the report says
whether it passed). ``enhance`` writes nothing unless every gate passed and ``confirm(diff)`` agreed.
Both leave ``files/ai/`` (:mod:`headwater.ai.report`).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from headwater.ai.client import Model, Usage, estimate_cost
from headwater.ai.errors import GenerationError, ModelOutputError, UnsafePathError
from headwater.ai.gates import (
    TESTS_RECORDING,
    Gate,
    GateContext,
    GateOptions,
    GateResult,
    LintLevel,
    default_gates,
    run_gates,
)
from headwater.ai.prompt import (
    DocFile,
    Prompt,
    TaskSpec,
    build_enhancement_prompt,
    build_fix_prompt,
    build_generation_prompt,
)
from headwater.ai.redaction import Redactor
from headwater.ai.report import AI_DIR, GenerationReport, RoundRecord, Status, Transcript
from headwater.ai.workspace import (
    CONFIGURATION,
    EXAMPLE_CONFIGURATION,
    apply_reply,
    copy_project,
    is_placeholder,
    placeholder_configuration,
    project_files,
    unified_diff,
    write_files,
)

__all__ = [
    "Budget",
    "EnhanceRequest",
    "GenerateRequest",
    "LoopEvent",
    "enhance",
    "enhancement_prompt",
    "generate",
    "generation_prompt",
    "load_configuration",
]

EventKind = Literal["round_started", "model_waiting", "model_answered", "model_failed", "gate_finished", "stopped"]
RECORDING_DIR = AI_DIR / "recording"


@dataclass(frozen=True)
class Budget:
    """Limits of one run; the loop checks them before every call to the model.

    ``rounds`` model calls at most, ``tokens`` input plus output tokens, ``usd`` estimated dollars
    (see :func:`~headwater.ai.client.estimate_cost`), ``seconds`` of wall time.
    """

    rounds: int = 5
    tokens: int = 1_000_000
    usd: float = 5.0
    seconds: float = 1800.0

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"Budget.rounds must be at least 1, got {self.rounds}")

    def exhausted(self, *, rounds: int, tokens: int, usd: float, seconds: float) -> str | None:
        """Which limit is reached, as a sentence, or None while there is budget left."""
        if rounds >= self.rounds:
            return f"{rounds} round{'s' if rounds != 1 else ''} used (--max-rounds {self.rounds})"
        if tokens >= self.tokens:
            return f"{tokens:,} tokens used (--budget-tokens {self.tokens:,})"
        if usd >= self.usd:
            return f"${usd:.2f} spent (--budget-usd {self.usd:g})"
        if seconds >= self.seconds:
            return f"{seconds:.0f}s elapsed (--budget-seconds {self.seconds:g})"
        return None


@dataclass(frozen=True)
class LoopEvent:
    """Progress of the loop, for a display: the CLI renders these, the library never prints."""

    kind: EventKind
    round: int
    data: Mapping[str, Any] = field(default_factory=dict)


EventHandler = Callable[[LoopEvent], None]


@dataclass(kw_only=True)
class RunOptions:
    """What ``generate`` and ``enhance`` share: inputs, budget, how the connector is run and judged."""

    docs: Sequence[Path] = ()
    tables: tuple[str, ...] = ()
    configuration: Mapping[str, str] | None = None   # real values: never sent to the model
    budget: Budget = field(default_factory=Budget)
    live: bool = False
    record: bool = False
    recording: Path | None = None
    trust_credentials: bool = False
    lint_fail_on: LintLevel = "warning"
    run_tests: bool = True
    live_max_requests: int = 50
    live_max_seconds: float = 120.0
    gates: Sequence[Gate] | None = None


@dataclass
class GenerateRequest(RunOptions):
    """Everything ``headwater generate`` was asked."""

    project: Path
    description: str
    starter: str | None = None
    force: bool = False


@dataclass
class EnhanceRequest(RunOptions):
    """Everything ``headwater enhance`` was asked."""

    project: Path
    feature: str


def load_configuration(path: Path) -> dict[str, str] | None:
    """A configuration file's values, or None when it is missing or holds only placeholders."""
    if not path.is_file():
        return None
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GenerationError(f"cannot read {path}: {exc}; it must be a JSON object of string values") from exc
    if not isinstance(parsed, dict):
        raise GenerationError(f"{path} must hold a JSON object of string values")
    configuration = {str(key): str(value) for key, value in parsed.items()}
    if configuration and all(is_placeholder(value) for value in configuration.values()):
        return None
    return configuration


def _read_docs(paths: Sequence[Path]) -> tuple[DocFile, ...]:
    docs: list[DocFile] = []
    for path in paths:
        try:
            docs.append(DocFile(name=path.name, text=path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise GenerationError(f"cannot read --docs file {path}: {exc}; give a UTF-8 text file") from exc
    return tuple(docs)


def _recording_available() -> bool:
    return importlib.util.find_spec("headwater.recording") is not None


def _recording_dir(project: Path, given: Path | None, live: bool, record: bool) -> Path | None:
    if given is not None:
        return given
    default = project / RECORDING_DIR
    if (live and record) or default.is_dir():
        return default
    return None


def _gate_options(request: GenerateRequest | EnhanceRequest, configuration: Mapping[str, str] | None,
                  docs: tuple[DocFile, ...], recording: Path | None, mode: Literal["generate", "enhance"],
                  original_tests: Mapping[str, str]) -> GateOptions:
    return GateOptions(
        configuration=configuration, tables=request.tables, docs_text="\n\n".join(doc.text for doc in docs),
        live=request.live, recording_dir=None if request.live else recording,
        record_dir=recording if request.live and request.record else None,
        live_max_requests=request.live_max_requests, live_max_seconds=request.live_max_seconds,
        trust_credentials=request.trust_credentials, lint_fail_on=request.lint_fail_on, mode=mode,
        original_tests=original_tests, run_tests=request.run_tests,
    )


def _spec(request: GenerateRequest | EnhanceRequest, description: str, configuration: Mapping[str, str] | None,
          docs: tuple[DocFile, ...], recording: Path | None) -> TaskSpec:
    strategy: Literal["recording", "fixture"] = (
        "recording" if recording is not None and _recording_available() else "fixture")
    return TaskSpec(
        description=description, docs=docs, tables=request.tables,
        configuration_keys=tuple(configuration or {}), starter=getattr(request, "starter", None),
        test_strategy=strategy, recording_dir=recording, lint_fail_on=request.lint_fail_on,
    )


def _generation_inputs(request: GenerateRequest) -> tuple[dict[str, str] | None, tuple[DocFile, ...], Path | None]:
    configuration = dict(request.configuration) if request.configuration is not None else load_configuration(
        request.project / CONFIGURATION)
    return configuration, _read_docs(request.docs), _recording_dir(request.project, request.recording,
                                                                    request.live, request.record)


def generation_prompt(request: GenerateRequest) -> Prompt:
    """The first prompt ``generate`` would send (what ``--dry-run`` prints); nothing is written."""
    configuration, docs, recording = _generation_inputs(request)
    return build_generation_prompt(_spec(request, request.description, configuration, docs, recording),
                                   Redactor.from_configuration(configuration))


def enhancement_prompt(request: EnhanceRequest) -> Prompt:
    """The first prompt ``enhance`` would send; nothing is written."""
    configuration, docs, recording, files = _enhance_inputs(request)
    spec = _spec(request, request.feature, configuration, docs, recording)
    return build_enhancement_prompt(request.feature, spec, files, Redactor.from_configuration(configuration))


def _emit(handler: EventHandler | None, kind: EventKind, number: int, **data: Any) -> None:
    if handler is not None:
        handler(LoopEvent(kind, number, data))


def _answer_result(message: str) -> GateResult:
    return GateResult("answer", "failed", "the answer was not usable", [{"kind": "answer_unusable",
                                                                          "message": message}], "code")


@dataclass
class _Loop:
    staging: Path
    scratch: Path
    first: Prompt
    model: Model
    budget: Budget
    options: GateOptions
    gates: Sequence[Gate]
    redactor: Redactor
    transcript: Transcript
    report: GenerationReport
    on_event: EventHandler | None
    clock: Callable[[], float]

    def run(self) -> tuple[Status, str]:
        started = self.clock()
        prompt = self.first
        for number in range(1, self.budget.rounds + 2):
            usage = self.report.usage
            limit = self.budget.exhausted(rounds=number - 1, tokens=usage.total, usd=self.report.cost_usd,
                                          seconds=self.clock() - started)
            if limit is not None:
                return "budget_exhausted", limit
            record = RoundRecord(number=number, prompt_kind=prompt.kind, templates=dict(prompt.templates))
            self.report.rounds.append(record)
            _emit(self.on_event, "round_started", number, max_rounds=self.budget.rounds)
            outcome = self._round(number, prompt, record)
            self.transcript.rounds(self.report)
            if isinstance(outcome, tuple):
                return outcome
            prompt = build_fix_prompt(self.first, project_files(self.staging), outcome, round_number=number + 1,
                                      max_rounds=self.budget.rounds, redactor=self.redactor)
        return "budget_exhausted", f"{self.budget.rounds} rounds used"  # pragma: no cover - the check above stops

    def _round(self, number: int, prompt: Prompt, record: RoundRecord) -> tuple[Status, str] | list[GateResult]:
        self.transcript.request(number, self.model.model, prompt)
        _emit(self.on_event, "model_waiting", number, model=self.model.model)
        asked = self.clock()
        try:
            reply = self.model.write_files(prompt.system, prompt.user)
        except ModelOutputError as exc:
            record.model_seconds = self.clock() - asked
            record.usage = exc.usage if isinstance(exc.usage, Usage) else Usage()
            record.cost_usd = estimate_cost(self.model.model, record.usage)
            record.error = exc.message
            self.transcript.response(number, record, [], [])
            _emit(self.on_event, "model_failed", number, error=exc.message, seconds=record.model_seconds)
            return [_answer_result(f"{exc.message}. Answer by calling write_files with the complete files.")]
        except GenerationError as exc:
            record.model_seconds = self.clock() - asked
            record.error = exc.message
            self.transcript.response(number, record, [], [])
            _emit(self.on_event, "model_failed", number, error=exc.message, seconds=record.model_seconds)
            return ("needs_configuration" if exc.category == "configuration" else "model_error"), exc.message
        record.model_seconds = self.clock() - asked
        record.usage = reply.usage
        record.cost_usd = estimate_cost(reply.model, reply.usage)
        record.notes = reply.notes
        self.transcript.response(number, record, [{"path": edit.path, "content": edit.content}
                                                  for edit in reply.files], list(reply.deleted))
        _emit(self.on_event, "model_answered", number, files=len(reply.files), usage=reply.usage,
              cost_usd=record.cost_usd, seconds=record.model_seconds, notes=reply.notes)
        try:
            record.changed = apply_reply(self.staging, reply)
        except UnsafePathError as exc:
            record.error = exc.message
            return [_answer_result(f"{exc.message}. Nothing of this answer was written.")]
        return self._judge(number, record)

    def _judge(self, number: int, record: RoundRecord) -> tuple[Status, str] | list[GateResult]:
        checked = self.clock()
        context = GateContext(self.options, self.scratch, round_number=number)
        results = run_gates(self.gates, self.staging, context,
                            on_result=lambda result: _emit(self.on_event, "gate_finished", number, result=result))
        record.gates = results
        record.gate_seconds = self.clock() - checked
        self.transcript.gates(number, results)
        failed = [result for result in results if result.status == "failed"]
        if not any(result.blocks for result in results):
            return "converged", "every gate passed"
        for category, status in (("configuration", "needs_configuration"), ("infrastructure", "infrastructure")):
            stopping = [result for result in failed if result.category == category]
            if stopping:
                first = stopping[0]
                detail = next((str(finding.get("message")) for finding in first.findings if finding.get("message")),
                              "")
                reason = f"{first.gate}: {first.summary}" + (f" ({detail})" if detail and detail not in
                                                             first.summary else "")
                return status, reason  # type: ignore[return-value]
        return results


def _new_report(command: Literal["generate", "enhance"], project: Path, model: Model) -> GenerationReport:
    return GenerationReport(command=command, project=project, model=model.model, status="model_error", reason="")


def _drive(loop: _Loop) -> None:
    started = loop.clock()
    try:
        loop.report.status, loop.report.reason = loop.run()
    except KeyboardInterrupt:
        loop.report.status, loop.report.reason = "infrastructure", "interrupted (Ctrl-C)"
        raise
    finally:
        loop.report.seconds = loop.clock() - started


def generate(request: GenerateRequest, *, model: Model, on_event: EventHandler | None = None,
             clock: Callable[[], float] = time.monotonic) -> GenerationReport:
    """Have ``model`` write a connector project for ``request`` until the gates pass or the budget is spent.

    Raises :class:`~headwater.ai.errors.GenerationError` before the first round when the project
    already has a connector (without ``force``) or an input cannot be read.
    """
    project = request.project
    if (project / "connector.py").exists() and not request.force:
        raise GenerationError(
            f"{project} already has a connector.py; use 'headwater enhance {project} --feature ...' to change it, "
            "or --force to generate a new one over it")
    if project.exists() and not project.is_dir():
        raise GenerationError(f"{project} exists and is not a folder; give a new or an existing folder")
    configuration, docs, recording = _generation_inputs(request)
    redactor = Redactor.from_configuration(configuration)
    first = build_generation_prompt(_spec(request, request.description, configuration, docs, recording), redactor)
    project.mkdir(parents=True, exist_ok=True)
    report = _new_report("generate", project, model)
    transcript = Transcript(project)
    with tempfile.TemporaryDirectory(prefix="headwater-generate-") as scratch_name:
        scratch = Path(scratch_name)
        staging = scratch / "project"
        copy_project(project, staging, skip=(CONFIGURATION,))
        _seed_recording(staging, recording, request.live)
        options = _gate_options(request, configuration, docs, recording, "generate", {})
        try:
            _drive(_Loop(staging=staging, scratch=scratch, first=first, model=model, budget=request.budget,
                         options=options, gates=request.gates or default_gates(), redactor=redactor,
                         transcript=transcript, report=report, on_event=on_event, clock=clock))
        finally:
            report.written = _write_generated(staging, project)
            transcript.finish(report)
    _emit(on_event, "stopped", len(report.rounds), report=report)
    return report


def _seed_recording(staging: Path, recording: Path | None, live: bool) -> None:
    """Give the project's tests the recording to replay (a live recorded run adds its own later)."""
    target = staging / TESTS_RECORDING
    if recording is not None and not live and recording.is_dir() and not target.exists():
        shutil.copytree(recording, target)


def _write_generated(staging: Path, project: Path) -> list[str]:
    """Copy the staging project into ``project``; keep a user's configuration.json (write the example)."""
    files = project_files(staging)
    if CONFIGURATION in files and (project / CONFIGURATION).is_file():
        files[EXAMPLE_CONFIGURATION] = placeholder_configuration(files.pop(CONFIGURATION))
    if files and ".gitignore" not in files and not (project / ".gitignore").exists():
        files[".gitignore"] = "files/\nconfiguration.json\n__pycache__/\n*.pyc\n.pytest_cache/\n"
    changed = {path: text for path, text in files.items()
               if not (project / path).is_file() or (project / path).read_text(encoding="utf-8") != text}
    write_files(project, changed)
    return sorted(changed)


def _enhance_inputs(request: EnhanceRequest) -> tuple[dict[str, str] | None, tuple[DocFile, ...], Path | None,
                                                      dict[str, str]]:
    project = request.project
    if not (project / "connector.py").is_file():
        raise GenerationError(f"{project} has no connector.py; create one with 'headwater generate' or "
                              "'headwater init' first")
    configuration = dict(request.configuration) if request.configuration is not None else load_configuration(
        project / CONFIGURATION)
    files = project_files(project)
    return configuration, _read_docs(request.docs), _recording_dir(project, request.recording, request.live,
                                                                    request.record), files


def enhance(request: EnhanceRequest, *, model: Model, confirm: Callable[[str], bool],
            on_event: EventHandler | None = None, clock: Callable[[], float] = time.monotonic) -> GenerationReport:
    """Have ``model`` add ``request.feature`` to an existing project, under the same gates.

    When every gate passes, ``confirm(diff)`` sees the unified diff and decides whether it is written.
    configuration.json is never rewritten: new keys the change needs are listed in the report.
    """
    project = request.project
    configuration, docs, recording, files = _enhance_inputs(request)
    redactor = Redactor.from_configuration(configuration)
    spec = _spec(request, request.feature, configuration, docs, recording)
    first = build_enhancement_prompt(request.feature, spec, files, redactor)
    original = {path: text for path, text in files.items() if path != CONFIGURATION}
    original_tests = {path: text for path, text in original.items() if path.startswith("tests/")}
    report = _new_report("enhance", project, model)
    transcript = Transcript(project)
    with tempfile.TemporaryDirectory(prefix="headwater-enhance-") as scratch_name:
        scratch = Path(scratch_name)
        staging = scratch / "project"
        copy_project(project, staging, skip=(CONFIGURATION,))
        _seed_recording(staging, recording, request.live)
        if CONFIGURATION in files:
            (staging / CONFIGURATION).write_text(placeholder_configuration(files[CONFIGURATION]), encoding="utf-8")
        options = _gate_options(request, configuration, docs, recording, "enhance", original_tests)
        try:
            _drive(_Loop(staging=staging, scratch=scratch, first=first, model=model, budget=request.budget,
                         options=options, gates=request.gates or default_gates(), redactor=redactor,
                         transcript=transcript, report=report, on_event=on_event, clock=clock))
            after = project_files(staging)
            proposed = after.pop(CONFIGURATION, None)
            report.diff = unified_diff(original, after)
            report.new_configuration_keys = _new_keys(proposed, configuration)
            if report.succeeded and report.diff and confirm(report.diff):
                report.written = _write_enhanced(project, original, after)
        finally:
            transcript.finish(report)
    _emit(on_event, "stopped", len(report.rounds), report=report)
    return report


def _new_keys(proposed: str | None, configuration: Mapping[str, str] | None) -> list[str]:
    if proposed is None:
        return []
    try:
        parsed = json.loads(proposed)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    return sorted(set(map(str, parsed)) - set(configuration or {}))


def _write_enhanced(project: Path, before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    changed = {path: text for path, text in after.items() if before.get(path) != text}
    write_files(project, changed)
    removed = sorted(set(before) - set(after))
    for path in removed:
        target = project / path
        if target.is_file():
            target.unlink()
    return sorted([*changed, *removed])

