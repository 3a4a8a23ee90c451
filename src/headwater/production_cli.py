"""``headwater run``, ``headwater state`` and ``headwater history``: production syncs (docs/production.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from headwater.errors import HeadwaterError
from headwater.production import (
    DEFAULT_BOOKKEEPING,
    ProductionRequest,
    close_bookkeeping,
    open_bookkeeping,
    run_production,
    validated_state,
)

CONTEXT = {"help_option_names": ["-h", "--help"]}
DESTINATION_ENV = "HEADWATER_DESTINATION"

_destination = click.option(
    "--destination", "destination", metavar="URL", envvar=DESTINATION_ENV, required=True,
    help="postgresql://user@host:port/db or duckdb:///path/to/file.duckdb (env: HEADWATER_DESTINATION). "
         "Passwords: PGPASSWORD or ~/.pgpass rather than the URL.")
_connection = click.option("--connection", metavar="NAME",
                           help="Names the connector's state, lock and history (default: the project folder's name).")
_bookkeeping = click.option("--bookkeeping-schema", metavar="NAME", default=DEFAULT_BOOKKEEPING, show_default=True,
                            help="Schema of headwater's own tables (state, history) in the destination.")


@click.command(context_settings=CONTEXT)
@click.argument("project_path", type=click.Path(path_type=str))
@_destination
@_connection
@click.option("--schema", metavar="NAME", help="Where the connector's tables go (default: the connection name).")
@_bookkeeping
@click.option("--configuration", "configuration_file", metavar="FILE",
              help="Configuration JSON; values may reference ${ENV_VAR} and ${file:/path}.")
@click.option("--naming", metavar="FIVETRAN|SOURCE", help="Naming convention (default FIVETRAN).")
@click.option("--log-format", type=click.Choice(["text", "json"], case_sensitive=False), default="text",
              show_default=True, help="json: one JSON object per line (time, level, source, message, connection).")
@click.option("--buffer-memory", metavar="SIZE", help="Memory for rows waiting for a checkpoint (default 256MB).")
@click.option("-v", "--verbose", is_flag=True, help="Full tracebacks, headwater's frames included.")
def run(project_path: str, destination: str, connection: str | None, schema: str | None, bookkeeping_schema: str,
        configuration_file: str | None, naming: str | None, log_format: str, buffer_memory: str | None,
        verbose: bool) -> None:
    """Run one production sync of PROJECT_PATH into a database; the state lives in that database.

    \b
    Exit status: 0 success, 1 sync failed, 2 usage error, 69 destination unavailable (retry later),
    70 internal error, 75 the connection is already being synced by another worker,
    130/143 interrupted (rolled back to the last checkpoint).
    """
    from headwater.cli import _parse_size
    from headwater.runner import _sigterm_as_interrupt

    request = ProductionRequest(
        project=project_path, destination=destination, connection=connection, schema=schema,
        bookkeeping_schema=bookkeeping_schema, configuration_file=configuration_file, naming=naming,
        log_format=log_format.lower(), buffer_bytes=_parse_size(buffer_memory) if buffer_memory else None,
        verbose=verbose,
    )
    with _sigterm_as_interrupt():
        code = run_production(request)
    sys.exit(code)


@click.group(context_settings=CONTEXT)
def state() -> None:
    """Look at or change a connection's state in the destination (show, set, rewind)."""


def _fail(exc: HeadwaterError) -> None:
    click.echo(f"error: {' '.join(exc.message.split())}", err=True)
    sys.exit(exc.exit_code)


@state.command(name="show", context_settings=CONTEXT)
@click.argument("project_path", type=click.Path(path_type=str))
@_destination
@_connection
@_bookkeeping
@click.option("--all", "show_all", is_flag=True, help="Every kept state (newest first), not only the current one.")
def state_show(project_path: str, destination: str, connection: str | None, bookkeeping_schema: str,
               show_all: bool) -> None:
    """Print the connection's current state (JSON), or every kept state with --all."""
    try:
        books = open_bookkeeping(project_path, destination, connection=connection,
                                 bookkeeping_schema=bookkeeping_schema, lock=False)
    except HeadwaterError as exc:
        _fail(exc)
        return
    try:
        records = books.bookkeeper.states() if show_all else [books.bookkeeper.latest_state()]
    finally:
        close_bookkeeping(books)
    if show_all:
        for record in records:
            click.echo(f"{record.sequence}\t{record.saved_at.isoformat()}\trun {record.run_id}\t{record.state}")
        return
    record = records[0]
    click.echo(record.state if record is not None else "{}")


@state.command(name="set", context_settings=CONTEXT)
@click.argument("project_path", type=click.Path(path_type=str))
@click.argument("state_json", required=False)
@click.option("--file", "state_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the state from this JSON file instead.")
@_destination
@_connection
@_bookkeeping
def state_set(project_path: str, state_json: str | None, state_file: Path | None, destination: str,
              connection: str | None, bookkeeping_schema: str) -> None:
    """Replace the connection's state with STATE_JSON (a JSON object); the old one can be rewound to."""
    if (state_json is None) == (state_file is None):
        raise click.UsageError("give the state as an argument or with --file, not both and not neither")
    text = state_file.read_text(encoding="utf-8") if state_file is not None else str(state_json)
    try:
        value = validated_state(text)
        books = open_bookkeeping(project_path, destination, connection=connection,
                                 bookkeeping_schema=bookkeeping_schema)
    except HeadwaterError as exc:
        _fail(exc)
        return
    try:
        books.bookkeeper.set_state(value)
    finally:
        close_bookkeeping(books)
    click.echo(f"state of connection {books.connection!r} set to {value}")


@state.command(name="rewind", context_settings=CONTEXT)
@click.argument("project_path", type=click.Path(path_type=str))
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many checkpoints to go back.")
@_destination
@_connection
@_bookkeeping
def state_rewind(project_path: str, steps: int, destination: str, connection: str | None,
                 bookkeeping_schema: str) -> None:
    """Go back to the state of an earlier checkpoint (saved as the new current state)."""
    try:
        books = open_bookkeeping(project_path, destination, connection=connection,
                                 bookkeeping_schema=bookkeeping_schema)
    except HeadwaterError as exc:
        _fail(exc)
        return
    try:
        records = books.bookkeeper.states()
        if len(records) <= steps:
            kept = len(records)
            close_bookkeeping(books)
            click.echo(f"error: connection {books.connection!r} keeps {kept} state(s); cannot go back {steps} "
                       f"(at most {max(kept - 1, 0)})", err=True)
            sys.exit(1)
        target = records[steps]
        books.bookkeeper.set_state(target.state)
    finally:
        close_bookkeeping(books)
    click.echo(f"state of connection {books.connection!r} rewound {steps} checkpoint(s) to {target.state} "
               f"(saved {target.saved_at.isoformat()})")


@click.command(context_settings=CONTEXT)
@click.argument("project_path", type=click.Path(path_type=str))
@_destination
@_connection
@_bookkeeping
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs, newest first.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def history(project_path: str, destination: str, connection: str | None, bookkeeping_schema: str, limit: int,
            output_format: str) -> None:
    """The connection's syncs: start, end, status, operations, rows per table, checkpoints, error."""
    try:
        books = open_bookkeeping(project_path, destination, connection=connection,
                                 bookkeeping_schema=bookkeeping_schema, lock=False)
    except HeadwaterError as exc:
        _fail(exc)
        return
    try:
        runs = books.bookkeeper.history(limit)
    finally:
        close_bookkeeping(books)
    if output_format == "json":
        click.echo(json.dumps([record.to_dict() for record in runs], indent=2))
        return
    if not runs:
        click.echo(f"no runs recorded for connection {books.connection!r}")
        return
    for record in runs:
        click.echo(_describe(record))


def _describe(record: Any) -> str:
    counts = ", ".join(f"{name} {value:,}" for name, value in record.counts.items() if value)
    tables = ", ".join(f"{name} {rows:,}" for name, rows in sorted(record.tables.items()))
    ended = record.ended.isoformat(timespec="seconds") if record.ended else "-"
    line = (f"run {record.run_id}  {record.started.isoformat(timespec='seconds')} -> {ended}  {record.status}  "
            f"checkpoints {record.checkpoints}" + (f"  {counts}" if counts else "") + (f"  rows: {tables}" if tables
                                                                                      else ""))
    if record.error:
        line += f"\n    error: {record.error}"
    return line
