"""Run one debug sync end to end (SEM-1): inputs, connector, warehouse, schema(), update(), commit.

Both ``headwater debug`` and ``connector.debug()`` come here. The function returns the exit status
(CLI-9) after printing what the spec asks for: log lines, the summary block once the sync has
started (CLI-12) and one ``error:`` line on stderr for any failure (CLI-13).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from headwater import operations
from headwater.connector import Connector
from headwater.errors import (
    ConnectorReportedError,
    HeadwaterError,
    SchemaDeclarationError,
    SyncError,
    SyncInterrupted,
)
from headwater.log import Level, LogPrinter, emit, use_printer
from headwater.project import RunInputs, resolve_inputs

__all__ = ["DebugRequest", "SyncReport", "debug_connector", "run_debug"]

DEBUG_ENVIRONMENT = {
    "FIVETRAN_CONNECTION_ID": "test_connection_id",
    "FIVETRAN_DEPLOYMENT_MODEL": "local_debug",
    "FIVETRAN_GROUP_ID": "test_group_id",
    "FIVETRAN_CONNECTION_NAME": "test_connection_name",
}
SUMMARY_ROWS = (
    ("Upserts", "upserts"),
    ("Updates", "updates"),
    ("Deletes", "deletes"),
    ("Truncates", "truncates"),
    ("SchemaChanges", "schema_changes"),
    ("Checkpoints", "checkpoints"),
)


@dataclass
class DebugRequest:
    """What to run; the CLI and ``connector.debug()`` fill it in."""

    project: str | os.PathLike[str] | None = None
    configuration_file: str | None = None
    state_file: str | None = None
    naming: str | None = None
    configuration: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    connector: Connector | None = None            # None: load connector.py from the project
    verbose: bool = False
    buffer_bytes: int | None = None
    profile: bool = False
    progress: bool = False
    min_level: Level = Level.DEBUG
    fold_after_runs: int | None = None           # engine tuning; tests use it to force either path
    record: str | os.PathLike[str] | None = None  # save every HTTP exchange here (headwater.recording)
    replay: str | os.PathLike[str] | None = None  # answer HTTP from this recording, offline
    faults: str | None = None                     # fault plan applied during a replay
    environ: Mapping[str, str] | None = None


@dataclass
class SyncReport:
    """What happened, for the caller (and for tests)."""

    exit_code: int
    started: bool = False
    succeeded: bool = False
    error: str | None = None
    counters: Any = None
    seconds: float = 0.0
    engine_seconds: float = 0.0
    op_seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)
    warehouse: Path | None = None


def _summary(counters: Any, succeeded: bool) -> str:
    lines = ["Operation     | Calls", "------------- + ------------"]
    for label, attribute in SUMMARY_ROWS:
        lines.append(f"{label:<13} | {getattr(counters, attribute)}")
    lines.append("Sync SUCCEEDED" if succeeded else "Sync FAILED")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@contextlib.contextmanager
def _debug_environment() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in DEBUG_ENVIRONMENT}
    os.environ.update(DEBUG_ENVIRONMENT)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _connector_traceback(exc: BaseException, verbose: bool) -> str:
    """The traceback of a connector exception, without headwater's own frames unless verbose."""
    frames = traceback.extract_tb(exc.__traceback__)
    package = str(Path(__file__).resolve().parent)
    if not verbose:
        frames = traceback.StackSummary.from_list([f for f in frames if not f.filename.startswith(package)])
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(lines).rstrip()


def run_debug(request: DebugRequest, *, out: TextIO | None = None, err: TextIO | None = None) -> SyncReport:
    """Run one sync and report it; never raises for user errors."""
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    printer = LogPrinter(stdout, min_level=request.min_level)
    previous = use_printer(printer)
    try:
        return _run(request, printer, stderr)
    finally:
        use_printer(previous)


def _redactor(configuration: Mapping[str, str]) -> Callable[[str], str]:
    """Replaces the configuration's secret values (API keys, passwords...) in headwater's own output.

    A connector's exception often quotes a URL or a header holding a credential; headwater prints
    such messages in its error line and the logged traceback, so they are redacted first.
    """
    from headwater.recording.redaction import Redactor, secret_values

    secrets = list(secret_values(configuration).values())
    if not secrets:
        return lambda text: text
    return Redactor(secrets).text


def _fail(stderr: TextIO, message: str) -> None:
    stderr.write(f"error: {_one_line(message)}\n")
    stderr.flush()


def _run(request: DebugRequest, printer: LogPrinter, stderr: TextIO) -> SyncReport:
    # Import the engine before connector.py: loading it turns off bytecode writing (CLI-7), and
    # headwater's own modules should keep their cached bytecode.
    import headwater.engine.flush
    import headwater.engine.sync
    import headwater.schema  # noqa: F401
    from headwater.loader import check_connector, describe_exception, load_connector

    environ = request.environ if request.environ is not None else os.environ
    inputs: RunInputs | None = None
    try:
        inputs = resolve_inputs(
            request.project,
            configuration_file=request.configuration_file,
            state_file=request.state_file,
            naming=request.naming,
            environ=environ,
            configuration=request.configuration,
            state=request.state,
        )
        for note in inputs.notes:
            emit(Level.INFO, note)
        for warning in inputs.warnings:
            emit(Level.WARNING, warning)
        connector = request.connector
        if connector is None:
            _, connector = load_connector(inputs.project)
        check_connector(connector)
        from headwater.destinations.duckdb import DuckDBWarehouse
        from headwater.engine.sync import DEFAULT_BUFFER_BYTES

        budget = request.buffer_bytes or DEFAULT_BUFFER_BYTES
        # DuckDB's share of the budget: a quarter, at least 64 MB (it spills to disk past that).
        warehouse = DuckDBWarehouse(inputs.warehouse_path, memory_limit=f"{max(64, budget // 4 // 2**20)}MB")
        warehouse.check()
    except HeadwaterError as exc:
        redact = _redactor(inputs.configuration) if inputs is not None else (lambda text: text)
        if exc.__cause__ is not None:
            # The failure came from connector code (ERR-LOAD-2): log its traceback (CLI-13).
            printer.log(Level.SEVERE, "headwater", redact(_connector_traceback(exc.__cause__, request.verbose)))
        _fail(stderr, redact(exc.message))
        return SyncReport(exit_code=exc.exit_code, error=redact(exc.message))
    report: SyncReport | None = None
    try:
        with contextlib.ExitStack() as http:
            session = _http_mode(request, inputs, http)
            report = _sync(request, inputs, connector, warehouse, printer, stderr, describe_exception)
            if session is not None:
                for line in session.describe(succeeded=report.succeeded, error=report.error).splitlines():
                    emit(Level.INFO, line.strip())
        return report
    except HeadwaterError as exc:  # the recording folder cannot be read or written
        _fail(stderr, exc.message)
        return SyncReport(exit_code=exc.exit_code, error=exc.message)
    finally:
        warehouse.close(discard_new=report is None or not report.succeeded)
        if request.connector is None:
            from headwater.loader import unload_project

            unload_project(inputs.project)


def _http_mode(request: DebugRequest, inputs: RunInputs, stack: contextlib.ExitStack) -> Any:
    """Enter record or replay mode for the connector's HTTP calls (``--record``/``--replay``)."""
    if request.record is None and request.replay is None:
        return None
    from headwater.recording import recording, replaying

    if request.record is not None:
        emit(Level.INFO, f"recording HTTP exchanges into {request.record} (secrets redacted)")
        stack.enter_context(recording(request.record, secrets=inputs.configuration))
        return None
    assert request.replay is not None
    with_faults = f" with faults {request.faults}" if request.faults else ""
    emit(Level.INFO, f"replaying HTTP from {request.replay}{with_faults}")
    return stack.enter_context(replaying(request.replay, faults=request.faults, secrets=inputs.configuration))


def _sync(
    request: DebugRequest,
    inputs: RunInputs,
    connector: Connector,
    warehouse: Any,
    printer: LogPrinter,
    stderr: TextIO,
    describe: Callable[[BaseException, Path], str],
) -> SyncReport:
    from headwater.engine.state import FileStateStore
    from headwater.engine.sync import DEFAULT_BUFFER_BYTES, Sync, SyncOptions
    from headwater.naming import Naming
    from headwater.schema import parse_schema

    options = SyncOptions(buffer_bytes=request.buffer_bytes or DEFAULT_BUFFER_BYTES, profile=request.profile)
    if request.fold_after_runs is not None:
        options = dataclasses.replace(options, fold_after_runs=request.fold_after_runs)
    sync = Sync(
        warehouse,
        FileStateStore(inputs.state_path),
        naming=Naming(inputs.naming),
        log=lambda level, message: printer.log(level, "headwater", message),
        options=options,
    )
    report = SyncReport(exit_code=1, warehouse=inputs.warehouse_path)
    started = time.monotonic()
    emit(Level.INFO, f"starting sync of {inputs.project} ({inputs.naming} naming)")
    progress = _start_progress(sync, printer) if request.progress else None
    phase = "schema()"
    failure: BaseException | None = None
    previous = operations.bind(sync)
    try:
        with _debug_environment():
            if connector.schema is not None:
                emit(Level.INFO, "calling schema()")
                report.started = True
                result = connector.schema(copy.deepcopy(inputs.configuration))
                specs = parse_schema(result, sync.naming)
            else:
                specs = []
            sync.prepare(specs)
            phase = "update()"
            emit(Level.INFO, "calling update()")
            report.started = True
            returned = connector.update(configuration=copy.deepcopy(inputs.configuration),
                                        state=copy.deepcopy(inputs.state))
            if inspect.isgenerator(returned):
                for _ in returned:
                    pass
            if sync.reported_error is not None:
                raise ConnectorReportedError(sync.reported_error)
            sync.finish()
    except BaseException as exc:  # noqa: BLE001 - every failure is classified below
        failure = exc
    finally:
        operations.bind(previous)
        if progress is not None:
            progress.stop()

    report.counters = sync.counters
    report.engine_seconds = sync.engine_seconds
    report.op_seconds = sync.op_seconds
    report.tables = {label: rows for label, rows in sync.progress().items()}
    report.seconds = time.monotonic() - started
    if failure is None:
        report.succeeded = True
        report.exit_code = 0
        emit(Level.INFO, _finished_line(sync, report))
        if request.profile:
            printer.write_raw(_profile(report))
        printer.write_raw(_summary(sync.counters, True))
        return report

    sync.abort()
    redact = _redactor(inputs.configuration)
    code, message = _classify(failure, sync, phase, inputs.project, describe, request.verbose, printer, redact)
    message = redact(message)
    report.exit_code = code
    report.error = message
    if report.started or isinstance(failure, SchemaDeclarationError):
        printer.write_raw(_summary(sync.counters, False))
    if code == 70:
        stderr.write(redact("".join(traceback.format_exception(type(failure), failure, failure.__traceback__))))
    _fail(stderr, message)
    return report


def _classify(
    failure: BaseException,
    sync: Any,
    phase: str,
    project: Path,
    describe: Callable[[BaseException, Path], str],
    verbose: bool,
    printer: LogPrinter,
    redact: Callable[[str], str],
) -> tuple[int, str]:
    """Turn what went wrong into (exit status, one-line message); tracebacks are logged redacted."""
    if sync.internal_error is not None:
        internal = sync.internal_error
        return 70, f"internal error in headwater: {type(internal).__name__}: {internal}; please report it"
    if isinstance(failure, KeyboardInterrupt):
        printer.log(Level.SEVERE, "headwater", redact(_connector_traceback(failure, verbose)))
        return SyncInterrupted.exit_code, (
            f"{phase} failed: {describe(failure, project)} (interrupted); everything after the last "
            "checkpoint was discarded and the saved state is that of the last checkpoint"
        )
    if sync.reported_error is not None:
        return 1, f"connector reported an error: {sync.reported_error}"
    if isinstance(failure, SystemExit):
        printer.log(Level.SEVERE, "headwater", redact(_connector_traceback(failure, verbose)))
        where = describe(failure, project).partition(" (")[2]
        return 1, (
            f"connector code called exit({failure.code!r}) during {phase}"
            + (f" ({where}" if where else "")
            + "; headwater treats this as a failed sync: raise an exception instead, or return from update()"
        )
    if isinstance(failure, HeadwaterError) and not isinstance(failure, (SyncError,)) and _is_engine_error(failure):
        return failure.exit_code, failure.message
    if isinstance(failure, Exception):
        printer.log(Level.SEVERE, "headwater", redact(_connector_traceback(failure, verbose)))
        return 1, f"{phase} failed: {describe(failure, project)}"
    return 70, f"internal error in headwater: {type(failure).__name__}: {failure}"


def _is_engine_error(failure: HeadwaterError) -> bool:
    """Errors headwater raised itself outside connector code (declared schema, evolution)."""
    from headwater.errors import SchemaEvolutionError

    return isinstance(failure, (SchemaDeclarationError, SchemaEvolutionError))


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _finished_line(sync: Any, report: SyncReport) -> str:
    rows = sum(report.tables.values())
    rate = rows / report.seconds if report.seconds > 0 else 0.0
    return (f"sync finished: {plural(rows, 'row')} in {plural(len(report.tables), 'table')}, "
            f"{plural(sync.counters.checkpoints, 'checkpoint')}, {report.seconds:.2f}s ({rate:,.0f} rows/s)")


def _profile(report: SyncReport) -> str:
    """Where the sync's time went (``--profile``)."""
    total = report.seconds
    buffering = report.op_seconds
    writing = min(report.engine_seconds, total)
    connector = max(total - buffering - writing, 0.0)

    def share(seconds: float) -> str:
        return f"{seconds:8.3f} s {seconds / total * 100 if total else 0.0:5.1f} %"

    lines = [
        "",
        "Profile (wall time of the sync)",
        f"  connector code       {share(connector)}   update() itself, waiting on the source included",
        f"  headwater buffering  {share(buffering)}   op.* calls: argument checks, conversion, buffering",
        f"  headwater writing    {share(writing)}   typing, Arrow batches, DuckDB writes, commits",
        f"  total                {total:8.3f} s",
        "",
        f"  {'table':<32} {'rows':>12} {'rows/s':>12}",
    ]
    for label, rows in sorted(report.tables.items()):
        lines.append(f"  {label:<32} {rows:>12,} {rows / total if total else 0.0:>12,.0f}")
    return "\n".join(lines) + "\n\n"


def _start_progress(sync: Any, printer: LogPrinter) -> Any:
    from headwater.progress import ProgressLine

    line = ProgressLine(sync, printer)
    line.start()
    return line


def debug_connector(
    connector: Connector,
    *,
    project_path: str | None = None,
    configuration: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    naming: str | None = None,
    log_level: Any = None,
    state_path: str | None = None,
) -> int:
    """``connector.debug()`` (API-13): the same sync as ``headwater debug``, in this process."""
    min_level = Level.DEBUG
    if log_level is not None:
        min_level = Level[log_level.upper()] if isinstance(log_level, str) else Level(int(log_level))
    request = DebugRequest(
        project=project_path,
        state_file=state_path,
        naming=naming,
        configuration=configuration,
        state=state,
        connector=connector,
        min_level=min_level,
        progress=sys.stdout.isatty(),
    )
    return run_debug(request).exit_code
