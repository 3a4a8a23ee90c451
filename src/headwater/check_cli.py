"""The ``check`` command: parse the options, call :func:`~headwater.check.check_connector`, render.

Registered on the ``headwater`` group like ``lint`` (``"check": ("headwater.check_cli", "check")``
in ``LAZY_COMMANDS``); runs alone too::

    python -c "from headwater.check_cli import check; check()" my_connector --replay recordings/orders
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from headwater.check import DEFAULT_MAX_RESUMES, DEFAULT_STATE_BUDGET, FAIL, INCONCLUSIVE, CheckReport, check_connector
from headwater.errors import HeadwaterError
from headwater.recording import FaultPlan, FaultSpecError

__all__ = ["check", "parse_bytes", "render_text"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_bytes(text: str) -> int:
    """``65536``, ``64KB``, ``64k``, ``1MB`` -> bytes."""
    match = _SIZE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a size; write it like 65536, 64KB or 1MB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def render_text(report: CheckReport) -> str:
    """One line per property (status, name, summary), its evidence indented below, then a verdict."""
    width = max((len(result.name) for result in report.properties), default=10)
    runs = f"{report.recorded_runs} recorded run{'s' if report.recorded_runs != 1 else ''}"
    lines = [f"headwater check {report.project}",
             f"replaying {report.recording} ({report.exchanges} exchanges in {runs})", ""]
    for result in report.properties:
        lines.append(f"{result.status:<12} {result.name:<{width}}  {result.summary}")
        for line in result.evidence:
            lines.append(" " * 15 + line)
    for note in report.notes:
        lines.append(f"note: {note}")
    failed = [result.name for result in report.failed]
    unknown = [result.name for result in report.properties if result.status == INCONCLUSIVE]
    total = len(report.properties)
    lines.append("")
    if failed:
        lines.append(f"{len(failed)} of {total} properties failed: {', '.join(failed)}.")
    else:
        lines.append(f"All {total - len(unknown)} checked properties passed.")
    if unknown:
        lines.append(f"{len(unknown)} could not be decided from this recording: {', '.join(unknown)}.")
    return "\n".join(lines)


@click.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("project", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--replay", "replay_dir", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="The recording to check on (made with `headwater debug PROJECT --record DIR`).")
@click.option("--configuration", "configuration_file", metavar="FILE",
              help="Configuration JSON file (default: FIVETRAN_CONFIGURATION, then PROJECT/configuration.json).")
@click.option("--faults", metavar="SPEC",
              help="Also run once per fault, e.g. '429:retry-after=0@3,503@5,timeout@7,repeat-next,empty-last'.")
@click.option("--state-budget", metavar="BYTES", default=str(DEFAULT_STATE_BUDGET), show_default=True,
              help="The largest state allowed, e.g. 65536 or 64KB.")
@click.option("--max-resumes", type=click.IntRange(min=1), default=DEFAULT_MAX_RESUMES, show_default=True,
              help="Resume from at most this many checkpoints (spread over the run).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"], case_sensitive=False),
              default="text", show_default=True, help="text: one line per property; json: one JSON object.")
@click.pass_context
def check(ctx: click.Context, project: Path, replay_dir: Path, configuration_file: str | None, faults: str | None,
          state_budget: str, max_resumes: int, output_format: str) -> None:
    """Check the incremental correctness of the connector in PROJECT (default: here), offline.

    \b
    Runs the connector on the recording DIR, never on the network, and checks that:
      first-run      the run from an empty state succeeds
      terminates     pagination ends (no page fetched again and again)
      second-run     a run from the final state adds nothing, re-sending at most one page
      resume         resuming after any checkpoint ends in the same tables
      state-secrets  no configuration secret is stored in the state
      state-size     the state stays under --state-budget
      primary-keys   no NULL or duplicate primary keys
    With --faults, each fault gets its own run: the connector must recover or fail cleanly.
    The exit status is 1 when a property failed, 0 otherwise. See docs/testing.md.
    """
    from headwater.project import resolve_inputs

    budget = parse_bytes(state_budget)
    try:
        plan = FaultPlan.parse(faults) if faults else None
    except FaultSpecError as exc:
        raise click.BadParameter(exc.message, ctx, param_hint="--faults") from None
    try:
        # Only the configuration matters here: the check starts from an empty state.
        environ = {key: value for key, value in os.environ.items() if key == "FIVETRAN_CONFIGURATION"}
        inputs = resolve_inputs(project, configuration_file=configuration_file, environ=environ)
        report = check_connector(inputs.project, replay_dir, configuration=inputs.configuration, faults=plan,
                                 state_budget=budget, max_resumes=max_resumes)
    except HeadwaterError as exc:
        click.echo(f"error: {exc.message}", err=True)
        ctx.exit(exc.exit_code)
    click.echo(report.to_json() if output_format.lower() == "json" else render_text(report))
    ctx.exit(1 if any(result.status == FAIL for result in report.properties) else 0)
