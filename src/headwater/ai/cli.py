"""The ``generate`` and ``enhance`` commands: parse the options, call :mod:`headwater.ai.loop`, render.

Registered lazily on the ``headwater`` group (``LAZY_COMMANDS`` in ``headwater/cli.py``); they also
run alone::

    python -c "from headwater.ai.cli import generate; generate()" acme --describe "..." --dry-run

Progress goes to stderr (a spinner line while waiting for the model on a terminal, plain lines
otherwise); the prompt (``--dry-run``), the diff and the summary table go to stdout.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from headwater.ai.client import DEFAULT_MAX_OUTPUT_TOKENS, DEFAULT_MODEL
from headwater.ai.errors import GenerationError
from headwater.ai.gates import LintLevel
from headwater.ai.loop import Budget, EnhanceRequest, GenerateRequest, LoopEvent, load_configuration
from headwater.ai.report import AI_DIR, GenerationReport, render_summary

__all__ = ["ProgressDisplay", "enhance", "generate"]

CONTEXT = {"help_option_names": ["-h", "--help"]}
ERASE = "\r\x1b[2K"
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class ProgressDisplay:
    """Renders :class:`~headwater.ai.loop.LoopEvent` values: a live spinner on a terminal, lines otherwise."""

    def __init__(self, stream: TextIO, *, live: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.live = live
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, event: LoopEvent) -> None:
        data = event.data
        if event.kind == "round_started":
            self._line(f"round {event.round} of at most {data.get('max_rounds')}")
        elif event.kind == "model_waiting":
            if self.live:
                self._spin(f"round {event.round}: waiting for {data.get('model')}")
            else:
                self._line(f"round {event.round}: asking {data.get('model')} (this can take a few minutes)")
        elif event.kind == "model_answered":
            self._halt()
            usage = data.get("usage")
            tokens = f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens" if usage is not None else ""
            self._line(f"round {event.round}: answer in {data.get('seconds', 0):.1f}s: {data.get('files')} files, "
                       f"{tokens}, ~${data.get('cost_usd', 0):.4f}")
        elif event.kind == "model_failed":
            self._halt()
            seconds = data.get("seconds", 0)
            self._line(f"round {event.round}: no usable answer after {seconds:.1f}s: {data.get('error')}")
        elif event.kind == "gate_finished":
            result = data["result"]
            mark = {"passed": "pass", "failed": "FAIL", "skipped": "skip", "unavailable": "n/a"}[result.status]
            self._line(f"  {result.gate:<12} {mark:<4}  {result.summary} ({result.seconds:.1f}s)")
        elif event.kind == "stopped":
            self._halt()

    def _line(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _spin(self, text: str) -> None:
        self._halt()
        self._stop.clear()
        started = self.clock()

        def loop() -> None:
            for frame in itertools.cycle(SPINNER):
                with self._lock:
                    self.stream.write(f"{ERASE}{frame} {text} ({self.clock() - started:.0f}s)")
                    self.stream.flush()
                if self._stop.wait(0.1):
                    break
            with self._lock:
                self.stream.write(ERASE)
                self.stream.flush()

        self._thread = threading.Thread(target=loop, name="headwater-ai-progress", daemon=True)
        self._thread.start()

    def _halt(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=2)
            self._thread = None


def _tables(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name.strip() for value in values for name in value.split(",") if name.strip()))


def _configuration(project: Path, file: str | None) -> dict[str, str] | None:
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise click.BadParameter(f"{file} does not exist; give a JSON file of configuration values",
                                     param_hint="--configuration")
        return load_configuration(path)
    return load_configuration(project / "configuration.json")


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _model(name: str, max_output_tokens: int, configuration: dict[str, str] | None) -> Any:
    from headwater.ai.client import ModelClient
    from headwater.ai.redaction import Redactor

    return ModelClient(model=name, max_output_tokens=max_output_tokens,
                       redactor=Redactor.from_configuration(configuration))


def _finish(report: GenerationReport) -> None:
    click.echo(render_summary(report), nl=False)
    if report.written:
        click.echo(f"wrote {len(report.written)} file(s) in {report.project}: {', '.join(report.written)}")
    click.echo(f"transcript, rounds and costs: {report.project / AI_DIR}")
    sys.exit(0 if report.succeeded else 1)


def _common(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--docs", "docs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     metavar="FILE", help="API documentation to include in the prompt (repeatable)."),
        click.option("--tables", "tables", multiple=True, metavar="NAMES",
                     help="Tables the connector must produce, comma-separated (checked by the data gate)."),
        click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, metavar="ID",
                     help="The Claude model id."),
        click.option("--max-rounds", default=5, show_default=True, type=click.IntRange(1, 50),
                     help="Model calls at most."),
        click.option("--budget-usd", default=5.0, show_default=True, type=click.FloatRange(0, None),
                     help="Stop before a round once the estimated cost reaches this many dollars."),
        click.option("--budget-tokens", default=1_000_000, show_default=True, type=click.IntRange(1, None),
                     help="Stop before a round once this many tokens (input + output) are used."),
        click.option("--budget-seconds", default=1800.0, show_default=True, type=click.FloatRange(1, None),
                     help="Stop before a round once this much wall time has passed."),
        click.option("--configuration", "configuration_file", metavar="FILE",
                     help="Configuration with real values to run the connector with (default: PROJECT/"
                          "configuration.json). Its values never reach the model."),
        click.option("--live", is_flag=True,
                     help="Let the run gate call the real API (capped by --live-max-requests/--live-max-seconds)."),
        click.option("--record", is_flag=True, help="With --live: record the run (files/ai/recording) for the "
                                                   "incremental check and the project's tests."),
        click.option("--recording", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
                     help="Run against this recording instead of a local fixture server."),
        click.option("--live-max-requests", default=50, show_default=True, type=click.IntRange(1, None),
                     help="Request cap of a live run."),
        click.option("--live-max-seconds", default=120.0, show_default=True, type=click.FloatRange(1, None),
                     help="Time cap of a live run."),
        click.option("--trust-credentials", is_flag=True,
                     help="The configured credentials are known to be good: treat 401/403 as a code problem."),
        click.option("--allow-lint-warnings", is_flag=True,
                     help="Let lint warnings pass the lint gate (errors still fail it)."),
        click.option("--no-tests", "no_tests", is_flag=True, help="Do not run the project's tests as a gate."),
        click.option("--max-output-tokens", default=DEFAULT_MAX_OUTPUT_TOKENS, show_default=True,
                     type=click.IntRange(1024, None), help="Output token limit of one answer."),
        click.option("--dry-run", is_flag=True, help="Print the whole prompt of the first round and exit; the "
                                                     "model is not called."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _budget(max_rounds: int, budget_usd: float, budget_tokens: int, budget_seconds: float) -> Budget:
    return Budget(rounds=max_rounds, usd=budget_usd, tokens=budget_tokens, seconds=budget_seconds)


def _lint_level(allow_warnings: bool) -> LintLevel:
    return "error" if allow_warnings else "warning"


def _progress() -> ProgressDisplay:
    return ProgressDisplay(sys.stderr, live=sys.stderr.isatty())


@click.command(context_settings=CONTEXT)
@click.argument("project", type=click.Path(file_okay=False, path_type=Path))
@click.option("--describe", required=True, metavar="TEXT", help="What the connector should sync, in words.")
@click.option("--template", "starter", type=click.Choice(["basic", "rest-api", "database", "csv"]),
              help="The headwater init template to start from (default: chosen from the description).")
@click.option("--force", is_flag=True, help="Generate even though PROJECT already has a connector.py.")
@_common
def generate(project: Path, describe: str, starter: str | None, force: bool, docs: tuple[Path, ...],
             tables: tuple[str, ...], model_name: str, max_rounds: int, budget_usd: float, budget_tokens: int,
             budget_seconds: float, configuration_file: str | None, live: bool, record: bool,
             recording: Path | None, live_max_requests: int, live_max_seconds: float, trust_credentials: bool,
             allow_lint_warnings: bool, no_tests: bool, max_output_tokens: int, dry_run: bool) -> None:
    """Have Claude write a connector project in PROJECT; deterministic gates decide when it is done.

    \b
    Each round the model writes the files (through a tool call), then the gates run in order:
    parse_import, lint, schema, run (a local fixture or --recording; the real API only with
    --live), invariants, incremental (headwater check on a recording), tests. Their findings go
    back to the model until every gate passes or the budget is spent. Configuration values are
    never sent: the model sees key names with <redacted> values.
    \b
    Needs ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL is honoured), except with --dry-run.
    Example:
      headwater generate acme --describe "Acme orders API" --docs api.md --tables orders \\
          --configuration acme.json
    """
    from headwater.ai.loop import generate as run_generate
    from headwater.ai.loop import generation_prompt

    if record and not live:
        raise click.UsageError("--record records a live run: add --live")
    try:
        configuration = _configuration(project, configuration_file)
        request = GenerateRequest(
            project=project, description=describe, docs=docs, tables=_tables(tables), configuration=configuration,
            budget=_budget(max_rounds, budget_usd, budget_tokens, budget_seconds), live=live, record=record,
            recording=recording, trust_credentials=trust_credentials, lint_fail_on=_lint_level(allow_lint_warnings),
            starter=starter, force=force, run_tests=not no_tests, live_max_requests=live_max_requests,
            live_max_seconds=live_max_seconds,
        )
        if dry_run:
            click.echo(generation_prompt(request).text(), nl=False)
            return
        model = _model(model_name, max_output_tokens, configuration)
        report = run_generate(request, model=model, on_event=_progress())
    except GenerationError as exc:
        _fail(exc.message)
        return
    _finish(report)


@click.command(context_settings=CONTEXT)
@click.argument("project", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--feature", required=True, metavar="TEXT", help="The change to make, in words.")
@click.option("-y", "--yes", is_flag=True, help="Write the change without asking (the diff is still shown).")
@_common
def enhance(project: Path, feature: str, yes: bool, docs: tuple[Path, ...], tables: tuple[str, ...],
            model_name: str, max_rounds: int, budget_usd: float, budget_tokens: int, budget_seconds: float,
            configuration_file: str | None, live: bool, record: bool, recording: Path | None,
            live_max_requests: int, live_max_seconds: float, trust_credentials: bool, allow_lint_warnings: bool,
            no_tests: bool, max_output_tokens: int, dry_run: bool) -> None:
    """Have Claude add a feature to the connector in PROJECT, under the same gates as generate.

    \b
    The project's tests must keep passing. When every gate passes, the unified diff is shown and
    written only after confirmation (--yes, or a yes on a terminal); configuration.json is never
    rewritten (new keys are listed). Needs ANTHROPIC_API_KEY, except with --dry-run.
    Example:
      headwater enhance acme --feature "also sync refunds into a refunds table" --tables orders,refunds
    """
    from headwater.ai.loop import enhance as run_enhance
    from headwater.ai.loop import enhancement_prompt

    if record and not live:
        raise click.UsageError("--record records a live run: add --live")
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not dry_run and not yes and not interactive:
        _fail("enhance asks before it writes, but stdin is not a terminal; pass --yes to write the change "
              "without asking (the diff is shown either way)", 2)
    try:
        configuration = _configuration(project, configuration_file)
        request = EnhanceRequest(
            project=project, feature=feature, docs=docs, tables=_tables(tables), configuration=configuration,
            budget=_budget(max_rounds, budget_usd, budget_tokens, budget_seconds), live=live, record=record,
            recording=recording, trust_credentials=trust_credentials, lint_fail_on=_lint_level(allow_lint_warnings),
            run_tests=not no_tests, live_max_requests=live_max_requests, live_max_seconds=live_max_seconds,
        )
        if dry_run:
            click.echo(enhancement_prompt(request).text(), nl=False)
            return
        model = _model(model_name, max_output_tokens, configuration)

        def confirm(diff: str) -> bool:
            click.echo(diff, nl=not diff.endswith("\n"))
            if yes:
                return True
            return click.confirm("Write these changes?", default=False)

        report = run_enhance(request, model=model, confirm=confirm, on_event=_progress())
    except GenerationError as exc:
        _fail(exc.message)
        return
    if report.succeeded and not report.written and report.diff:
        click.echo(f"nothing written; the diff is in {project / AI_DIR / 'enhance.diff'} (git apply can apply it)")
    _finish(report)

