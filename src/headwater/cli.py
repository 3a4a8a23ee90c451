"""The ``headwater`` command (cli.md): a thin skin over :mod:`headwater.runner` and friends.

Each command parses its options, calls one library function and renders the result; exit statuses
follow CLI-9 (0 ok, 1 failed sync or bad input, 2 usage, 70 internal error, 130 interrupted).
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Any

import click

from headwater._version import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "token_normalize_func": lambda token: token.lower()}
BUFFER_ENV = "HEADWATER_BUFFER_MEMORY"


# Commands that live with their own feature and are imported only when used, so that
# `headwater debug` does not pay for them at startup.
LAZY_COMMANDS = {
    "init": ("headwater.scaffold.cli", "init"),
    "lint": ("headwater.lint.cli", "lint"),
    "check": ("headwater.check_cli", "check"),
    "generate": ("headwater.ai.cli", "generate"),
    "enhance": ("headwater.ai.cli", "enhance"),
    "run": ("headwater.production_cli", "run"),
    "state": ("headwater.production_cli", "state"),
    "history": ("headwater.production_cli", "history"),
    "vendor": ("headwater.vendor_cli", "vendor"),
}


class _Group(click.Group):
    """Case-insensitive commands, lazily imported ones, and a suggestion for a mistyped one (CLI-1)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(n for n in LAZY_COMMANDS if self._lazy(n) is not None)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return command if command is not None else self._lazy(cmd_name)

    @staticmethod
    def _lazy(name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(name)
        if target is None:
            return None
        import importlib

        try:
            module = importlib.import_module(target[0])
        except ModuleNotFoundError:
            return None
        command = getattr(module, target[1], None)
        return command if isinstance(command, click.Command) else None

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name.lower()) is None:
            close = difflib.get_close_matches(name.lower(), self.list_commands(ctx), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"no such command '{name}'.{hint}", ctx)
        return super().resolve_command(ctx, args)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"headwater {__version__}")
        ctx.exit(0)


@click.group(cls=_Group, context_settings=CONTEXT, invoke_without_command=True)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Print the version and exit.")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Run Fivetran Connector SDK connectors locally, offline, into DuckDB.

    \b
    Quick start, in a folder with connector.py:
      headwater debug            run one sync into files/warehouse.db
      headwater reset --force    forget the warehouse and the saved state
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _parse_size(text: str) -> int:
    units = {"": 1, "b": 1, "kb": 1024, "k": 1024, "mb": 1024**2, "m": 1024**2, "gb": 1024**3, "g": 1024**3}
    value = text.strip().lower().replace(" ", "")
    number = value.rstrip("kmgb")
    unit = value[len(number):]
    try:
        size = int(float(number) * units[unit])
    except (ValueError, KeyError):
        raise click.BadParameter(f"{text!r} is not a size; write it like 256MB or 1GB") from None
    if size < 1024 * 1024:
        raise click.BadParameter(f"{text!r} is too small; give at least 1MB")
    return size


@main.command(context_settings=CONTEXT)
@click.argument("project_path", required=False, type=click.Path(file_okay=True, path_type=str))
@click.option("--configuration", "configuration_file", metavar="FILE",
              help="Configuration JSON file (default: FIVETRAN_CONFIGURATION, then configuration.json).")
@click.option("--state", "state_file", metavar="FILE",
              help="State JSON file to read and to update at each checkpoint (default: FIVETRAN_STATE, "
                   "then files/state.json).")
@click.option("--naming", metavar="FIVETRAN|SOURCE",
              help="Naming convention: FIVETRAN (lower snake_case, the default) or SOURCE (names as given). "
                   "Default: FIVETRAN_NAMING, then FIVETRAN.")
@click.option("--buffer-memory", metavar="SIZE", envvar=BUFFER_ENV,
              help=f"Memory for rows waiting for a checkpoint before they spill to staging (default 256MB; "
                   f"env {BUFFER_ENV}).")
@click.option("--record", metavar="DIR", type=click.Path(file_okay=False, path_type=str),
              help="Save every HTTP exchange the connector makes into DIR (secrets redacted).")
@click.option("--replay", metavar="DIR", type=click.Path(file_okay=False, path_type=str),
              help="Answer the connector's HTTP requests from the recording in DIR, offline.")
@click.option("--faults", metavar="SPEC",
              help="With --replay: inject faults, e.g. '429:retry-after=0@3,503@5,timeout@7' (docs/testing.md).")
@click.option("--profile", is_flag=True, help="Print where the sync's time went: connector code vs headwater.")
@click.option("--wait", is_flag=True, help="If another run or a reset is using the project, wait for it to finish.")
@click.option("--full-resync", is_flag=True,
              help="Start from an empty state (every row synced again into the existing warehouse).")
@click.option("-v", "--verbose", is_flag=True, help="Show full tracebacks, headwater's frames included.")
def debug(project_path: str | None, configuration_file: str | None, state_file: str | None,
          naming: str | None, buffer_memory: str | None, record: str | None, replay: str | None,
          faults: str | None, profile: bool, wait: bool, full_resync: bool, verbose: bool) -> None:
    """Run one sync of the connector in PROJECT_PATH (default: here) into PROJECT_PATH/files/warehouse.db.

    \b
    The saved state (files/state.json) is passed to update() and replaced at each checkpoint.
    At the end an operation summary is printed; the exit status is 0 when the sync succeeded.
    Inspect the result with:  duckdb files/warehouse.db "SELECT * FROM tester.<table>"
    """
    from headwater.runner import DebugRequest, run_debug

    buffer_bytes = _parse_size(buffer_memory) if buffer_memory else None
    if record and replay:
        raise click.UsageError("--record and --replay cannot be used together")
    if faults and not replay:
        raise click.UsageError("--faults needs --replay DIR: faults are injected into a replayed run")
    if faults:
        from headwater.recording import FaultPlan, FaultSpecError

        try:
            FaultPlan.parse(faults)
        except FaultSpecError as exc:
            raise click.BadParameter(exc.message, param_hint="'--faults'") from None
    request = DebugRequest(
        project=project_path,
        configuration_file=configuration_file,
        state_file=state_file,
        naming=naming,
        verbose=verbose,
        buffer_bytes=buffer_bytes,
        profile=profile,
        record=record,
        replay=replay,
        faults=faults,
        wait=wait,
        full_resync=full_resync,
        progress=sys.stdout.isatty() and not os.environ.get("NO_COLOR") == "force-plain",
    )
    report = run_debug(request)
    if report.exit_code:
        sys.exit(report.exit_code)


@main.command(context_settings=CONTEXT)
@click.argument("project_path", required=False, type=click.Path(path_type=str))
@click.option("-f", "--force", "force", is_flag=True, help="Delete without asking.")
@click.option("-y", "--yes", "force", is_flag=True, help="Same as --force.")
@click.option("--non-interactive", "force", is_flag=True, help="Same as --force.")
@click.option("--wait", is_flag=True, help="If a sync is using the project, wait for it to finish first.")
def reset(project_path: str | None, force: bool, wait: bool) -> None:
    """Delete files/warehouse.db and files/state.json so the next debug run starts from scratch.

    configuration.json and any state file named with --state are left alone.
    """
    from headwater.projectlock import ProjectBusy
    from headwater.reset import ResetRefused, reset_project, reset_targets

    root = Path(project_path) if project_path else Path.cwd()
    if not root.is_dir():
        click.echo(f"error: project path {str(root)!r} does not exist or is not a directory; "
                   "pass the folder that holds connector.py", err=True)
        sys.exit(1)
    targets = reset_targets(root)
    if not targets:
        click.echo(f"nothing to reset in {root}: no warehouse or saved state")
        return
    if not force:
        if not sys.stdin.isatty():
            click.echo("error: reset needs confirmation but stdin is not a terminal; "
                       "pass --force (or -f, --yes, -y, --non-interactive) to delete without asking", err=True)
            sys.exit(2)
        names = ", ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in targets)
        answer = click.prompt(f"Delete {names}? (Y/n)", default="y", show_default=False, prompt_suffix=" ")
        if answer.strip().lower() not in ("y", "yes"):
            click.echo("nothing deleted")
            return
    try:
        removed = reset_project(root, wait=wait)
    except (ResetRefused, ProjectBusy) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for path in removed:
        click.echo(f"deleted {path}")


@main.command(context_settings=CONTEXT)
def version() -> None:
    """Print the version."""
    click.echo(f"headwater {__version__}")


@main.command(name="help", context_settings=CONTEXT)
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx: click.Context, command: str | None) -> None:
    """Show help for headwater or for one command."""
    parent = ctx.parent
    assert parent is not None
    if command:
        sub = main.get_command(parent, command.lower())
        if sub is None:
            raise click.UsageError(f"no such command '{command}'", ctx)
        with click.Context(sub, info_name=command.lower(), parent=parent) as sub_ctx:
            click.echo(sub.get_help(sub_ctx))
        return
    click.echo(main.get_help(parent))


def run() -> None:
    """Console-script entry point: click's errors become one ``error:`` line (CLI-13)."""
    try:
        # Without standalone mode click returns what ctx.exit(n) was given instead of exiting.
        returned = main(prog_name="headwater", standalone_mode=False)
        sys.exit(returned if isinstance(returned, int) else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(1)
    except click.UsageError as exc:
        ctx = exc.ctx
        usage = ctx.get_usage().replace("Usage: ", "").strip() if ctx is not None else "headwater COMMAND [ARGS]"
        command = ctx.command_path if ctx is not None else "headwater"
        message = " ".join(exc.format_message().split()).rstrip(".")
        sys.stderr.write(f"error: {message}; usage: {' '.join(usage.split())} (see '{command} --help')\n")
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        sys.stderr.write(f"error: {' '.join(exc.format_message().split())}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    run()
