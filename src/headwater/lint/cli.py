"""The ``lint`` command: parse the options, call :func:`~headwater.lint.lint_project`, render.

Registered on the ``headwater`` group by ``main.add_command(lint)``; runs alone too::

    python -c "from headwater.lint.cli import lint; lint()" examples/hello
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from headwater.errors import HeadwaterError, UsageError
from headwater.lint.linter import lint_project
from headwater.lint.report import LintReport

__all__ = ["NOT_LINTED", "lint", "render_text"]

#: Exit status when lint could not run at all (no such path, no connector.py), as for a usage error.
NOT_LINTED = 2


def render_text(report: LintReport) -> str:
    """``path:line:col: HW0xx severity message (hint: ...)`` per finding, then a summary line."""
    lines = [f"{finding.path}:{finding.line}:{finding.col}: {finding.rule} {finding.severity} "
             f"{finding.message} (hint: {finding.hint})" for finding in report.findings]
    counts = report.counts()
    files = len(report.files)
    checked = f"{files} file{'s' if files != 1 else ''} checked"
    if not report.findings:
        lines.append(f"No problems found ({checked}).")
    else:
        total = len(report.findings)
        parts = ", ".join(f"{count} {severity}{'s' if count != 1 and severity != 'info' else ''}"
                          for severity, count in counts.items())
        lines.append(f"Found {total} problem{'s' if total != 1 else ''}: {parts} ({checked}).")
    return "\n".join(lines)


@click.command("lint", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "json"], case_sensitive=False),
              default="text", show_default=True, help="text: one line per finding; json: one JSON object.")
@click.option("--select", multiple=True, metavar="IDS",
              help="Only these rules: ids, id prefixes or names, comma-separated (e.g. HW06,HW012).")
@click.option("--ignore", multiple=True, metavar="IDS",
              help="Skip these rules: ids, id prefixes or names, comma-separated.")
@click.pass_context
def lint(ctx: click.Context, path: Path, output_format: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """Check the connector in PATH (default: here) for common mistakes.

    \b
    Reports problems in connector.py, the modules it imports, configuration.json and
    requirements.txt, each with a rule id (HW000...), a severity and a hint. Silence one line
    with a `# noqa: HW060` comment. Every rule is described in docs/lint-rules.md.
    The exit status is 1 when an error-level finding remains, 0 otherwise, and 2 when
    nothing could be linted (no such path, no connector.py) or an option is wrong.
    """
    json_output = output_format.lower() == "json"
    try:
        report = lint_project(path, select=select, ignore=ignore)
    except UsageError as exc:
        raise click.UsageError(exc.message, ctx) from None
    except HeadwaterError as exc:
        # Nothing was linted (no such path, no connector.py): not a finding, so not exit status 1.
        if json_output:
            click.echo(json.dumps({"error": exc.message, "findings": [], "files": []}, indent=2))
        click.echo(f"error: {exc.message}", err=True)
        ctx.exit(NOT_LINTED)
    if json_output:
        click.echo(report.to_json())
    else:
        click.echo(render_text(report))
    ctx.exit(1 if report.has_errors else 0)
