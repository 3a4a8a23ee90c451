"""``headwater run``: one production sync into a database, with the state kept in that database.

A worker is stateless: the connection's state, lock and history live in the destination's
bookkeeping schema (:mod:`headwater.destinations.bookkeeping`), and each checkpoint commits the
tables' changes and the new state in one transaction. Any worker can resume where a dead one
stopped; two workers on one connection never run at once.

Exit statuses, for schedulers (also in docs/production.md):

====  ==========================================================================================
0     the sync succeeded
1     the sync failed (connector code, its configuration or data); fix and run again
2     usage error (bad option, bad destination URL)
69    the destination is unavailable (connection refused or lost, disk full...): retry later
70    internal error in headwater: please report it
75    the connection is already being synced by another worker: this run did nothing
130   interrupted (Ctrl-C); 143: stopped by SIGTERM — both roll back to the last checkpoint
====  ==========================================================================================
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from headwater.errors import DestinationError, DestinationLocked, HeadwaterError, UsageError
from headwater.events import Event, SyncFailed, SyncFinished
from headwater.log import Level, LogPrinter, use_printer

__all__ = ["EXIT_ALREADY_RUNNING", "EXIT_UNAVAILABLE", "Bookkeeping", "ConnectionBusy", "JsonLogPrinter",
           "ProductionRequest", "close_bookkeeping", "open_bookkeeping", "open_destination", "run_production",
           "validated_state"]

EXIT_UNAVAILABLE = 69
EXIT_ALREADY_RUNNING = 75
DEFAULT_BOOKKEEPING = "_headwater"


@dataclass
class ProductionRequest:
    project: str | os.PathLike[str]
    destination: str                        # postgresql://... or duckdb:///path
    connection: str | None = None           # default: the project folder's name
    schema: str | None = None               # default: the connection name
    bookkeeping_schema: str = DEFAULT_BOOKKEEPING
    configuration_file: str | None = None
    naming: str | None = None
    log_format: str = "text"
    buffer_bytes: int | None = None
    environ: Mapping[str, str] | None = None
    verbose: bool = False


class JsonLogPrinter(LogPrinter):
    """One JSON object per line: time (UTC, ISO 8601), level, source, message, connection."""

    def __init__(self, stream: TextIO | None = None, *, connection: str, min_level: Level = Level.DEBUG) -> None:
        super().__init__(stream, min_level=min_level)
        self.connection = connection

    def log(self, level: Level, origin: str, message: str) -> None:
        if origin == "connector" and level < self.min_level:
            return
        if self.redact is not None:
            message = self.redact(message)
        now = dt.datetime.fromtimestamp(self._clock(), dt.timezone.utc).isoformat(timespec="milliseconds")
        self._write(json.dumps({"time": now, "level": level.name, "source": origin, "message": message,
                                "connection": self.connection}, ensure_ascii=False) + "\n")

    def write_raw(self, text: str) -> None:
        if text.strip():
            self.log(Level.INFO, "headwater", text.rstrip("\n"))


def _name_from(project: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", project.resolve().name).strip("_").lower()
    return name or "connector"


def open_destination(url: str, *, schema: str, bookkeeping_schema: str, buffer_bytes: int | None = None) -> Any:
    """The destination a ``--destination`` URL names (not yet opened)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    reserved = frozenset({bookkeeping_schema.lower()})
    if scheme in ("postgresql", "postgres"):
        try:
            from headwater.destinations.postgres import PostgresDestination
        except ImportError as exc:
            raise UsageError(
                f"the PostgreSQL destination needs psycopg: pip install 'headwater[postgres]' ({exc})"
            ) from None
        return PostgresDestination(url, schema=schema, reserved_schemas=reserved)
    if scheme == "duckdb":
        raw = unquote(parts.path if not parts.netloc else f"{parts.netloc}{parts.path}")
        path = Path(raw[1:] if raw.startswith("//") else raw)
        if not str(path) or str(path) == ".":
            raise UsageError(f"the DuckDB destination URL {url!r} names no file; write duckdb:///path/to/file.duckdb")
        from headwater.destinations.duckdb import DuckDBDestination

        return DuckDBDestination(path, schema=schema, reserved_schemas=reserved,
                                 memory_limit=DuckDBDestination.memory_limit_for(buffer_bytes))
    raise UsageError(
        f"unknown destination {url!r}: use postgresql://user@host:port/database or duckdb:///path/to/file.duckdb"
    )


def _bookkeeper(destination: Any, connection: str, schema: str) -> Any:
    from headwater.destinations.bookkeeping import Bookkeeper

    dialect = destination.bookkeeping_dialect()
    return Bookkeeper(destination, dialect, connection, schema)


def run_production(request: ProductionRequest, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one production sync; returns the exit status (see the module docstring)."""
    stderr = err if err is not None else sys.stderr
    try:
        return _run_production(request, out, stderr)
    except Exception as exc:  # noqa: BLE001 - a bug in headwater: say so, with the traceback
        import traceback

        stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        stderr.write(f"error: internal error in headwater: {type(exc).__name__}: {' '.join(str(exc).split())}; "
                     "please report it\n")
        return 70


def _run_production(request: ProductionRequest, out: TextIO | None, err: TextIO) -> int:
    from headwater.configrefs import resolve
    from headwater.project import resolve_inputs
    from headwater.runner import DebugRequest, execute
    from headwater.statestore import stored_state

    stdout = out if out is not None else sys.stdout
    stderr = err
    environ = request.environ if request.environ is not None else os.environ
    project = Path(request.project)
    connection = request.connection or _name_from(project)
    printer: LogPrinter = (JsonLogPrinter(stdout, connection=connection) if request.log_format == "json"
                           else LogPrinter(stdout))
    previous = use_printer(printer)

    def fail(code: int, message: str) -> int:
        printer.log(Level.SEVERE, "headwater", message)
        stderr.write(f"error: {' '.join(message.split())}\n")
        stderr.flush()
        return code

    destination: Any = None
    try:
        try:
            destination = open_destination(request.destination, schema=request.schema or connection,
                                           bookkeeping_schema=request.bookkeeping_schema,
                                           buffer_bytes=request.buffer_bytes)
            inputs = resolve_inputs(project, configuration_file=request.configuration_file, naming=request.naming,
                                    environ=environ, state={})
            resolved = resolve(inputs.configuration, environ=environ)
            destination.open()
            if not destination.acquire(connection):
                return fail(EXIT_ALREADY_RUNNING,
                            f"connection {connection!r} is already being synced by another worker; this run did "
                            "nothing (the other one is not disturbed)")
            bookkeeper = _bookkeeper(destination, connection, request.bookkeeping_schema)
            bookkeeper.setup()
            store = bookkeeper.state_store()
            state = stored_state(store)
            bookkeeper.begin_run()
        except DestinationLocked as exc:
            return fail(EXIT_ALREADY_RUNNING, exc.message)
        except DestinationError as exc:
            return fail(EXIT_UNAVAILABLE if exc.retryable else 1, exc.message)
        except UsageError as exc:
            return fail(2, exc.message)
        except HeadwaterError as exc:
            return fail(exc.exit_code, exc.message)

        resumed = "from its saved state" if state else "from an empty state"
        printer.log(Level.INFO, "headwater", f"connection {connection!r}: syncing into "
                    f"{destination.capabilities.name} schema {destination.capabilities.default_schema!r}, {resumed}")
        outcome: list[Event] = []

        def on_event(event: Event) -> None:
            if isinstance(event, (SyncFinished, SyncFailed)):
                outcome.append(event)
                if isinstance(event, SyncFailed) and event.traceback:
                    printer.log(Level.SEVERE, "headwater", event.traceback)
                return
            if event.message:
                printer.log(event.level, "headwater", event.message)

        sync_request = DebugRequest(project=project, configuration=resolved.values, state=state,
                                    naming=request.naming, destination=destination, state_store=store,
                                    buffer_bytes=request.buffer_bytes, environ=environ, verbose=request.verbose,
                                    secrets=resolved.secrets)
        result = execute(sync_request, on_event=on_event)
        try:
            bookkeeper.end_run(succeeded=result.succeeded, counters=result.counters, tables=result.tables,
                               error=result.error)
        except DestinationError as exc:
            printer.log(Level.WARNING, "headwater", f"the run's history could not be recorded: {exc.message}")
        if result.succeeded:
            printer.log(Level.INFO, "headwater", f"connection {connection!r}: {result.finished_line()}")
            return 0
        if result.retryable:
            return fail(EXIT_UNAVAILABLE, result.error or "the destination is unavailable")
        return fail(result.exit_code, result.error or "the sync failed")
    finally:
        if destination is not None:
            try:
                destination.release(connection)
            except Exception:  # noqa: BLE001 - releasing a lock of a broken connection
                pass
            destination.close()
        use_printer(previous)


@dataclass
class Bookkeeping:
    """An open destination and its bookkeeper for one connection, locked (for ``state`` and ``history``)."""

    destination: Any
    bookkeeper: Any
    connection: str


class ConnectionBusy(HeadwaterError):
    """Another worker holds the connection."""

    exit_code = EXIT_ALREADY_RUNNING


def open_bookkeeping(project: str | os.PathLike[str], destination_url: str, *, connection: str | None = None,
                     bookkeeping_schema: str = DEFAULT_BOOKKEEPING, lock: bool = True) -> Bookkeeping:
    """Open the destination and the connection's bookkeeping; ``lock``: refuse while a worker syncs it."""
    name = connection or _name_from(Path(project))
    destination = open_destination(destination_url, schema=name, bookkeeping_schema=bookkeeping_schema)
    try:
        destination.open()
        if lock and not destination.acquire(name):
            raise ConnectionBusy(f"connection {name!r} is being synced by a worker right now; run this again "
                                 "when it has finished")
        bookkeeper = _bookkeeper(destination, name, bookkeeping_schema)
        bookkeeper.setup()
    except BaseException:
        destination.close()
        raise
    return Bookkeeping(destination, bookkeeper, name)


def close_bookkeeping(books: Bookkeeping) -> None:
    try:
        books.destination.release(books.connection)
    finally:
        books.destination.close()


def validated_state(text: str) -> str:
    """The JSON text of a state given by the user, checked: a JSON object (compact, as a checkpoint saves it)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"the state is not valid JSON ({exc}); give a JSON object such as '{{\"cursor\": 5}}'") \
            from None
    if not isinstance(value, dict):
        raise UsageError(f"the state must be a JSON object, got {type(value).__name__}; e.g. '{{\"cursor\": 5}}'")
    return json.dumps(value, allow_nan=False)
