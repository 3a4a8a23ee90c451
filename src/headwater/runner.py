"""Run one sync end to end (SEM-1): inputs, connector, destination, schema(), update(), commit.

:func:`execute` is the library core: it runs the sync and reports everything as events
(:mod:`headwater.events`), printing nothing itself. :func:`run_debug` (``headwater debug`` and
``connector.debug()``) prints those events as the spec asks: log lines, the summary block once the
sync has started (CLI-12) and one ``error:`` line on stderr for any failure (CLI-13).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from headwater import operations
from headwater.connector import Connector
from headwater.destinations.base import Destination
from headwater.errors import (
    ConnectorReportedError,
    DestinationError,
    HeadwaterError,
    SchemaDeclarationError,
    StateStoreError,
    SyncError,
    SyncInterrupted,
    Terminated,
)
from headwater.events import (
    CheckpointCommitted,
    Event,
    EventHandler,
    Message,
    OperationAccepted,
    SyncFailed,
    SyncFinished,
    SyncStarted,
)
from headwater.events import (
    Warning as WarningEvent,
)
from headwater.log import Level, LogPrinter, redacting, use_printer
from headwater.project import RunInputs, resolve_inputs
from headwater.projectlock import ProjectLock
from headwater.result import SyncResult
from headwater.statestore import StateStore, stored_state

__all__ = ["DebugRequest", "SyncReport", "debug_connector", "execute", "run_debug"]

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
    wait: bool = False                            # wait for another run of the project to finish
    full_resync: bool = False                     # start from an empty state, keep the warehouse
    destination: Destination | None = None        # None: DuckDB at files/warehouse.db
    state_store: StateStore | None = None         # None: the state file (files/state.json or --state)
    record_operations: bool = False               # send an OperationAccepted event per operation
    secrets: tuple[str, ...] = ()                 # more values to mask (resolved ${...} references)


#: The former name of :class:`headwater.result.SyncResult`.
SyncReport = SyncResult


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


def run_debug(request: DebugRequest, *, out: TextIO | None = None, err: TextIO | None = None,
              on_event: EventHandler | None = None) -> SyncResult:
    """Run one sync and print it as ``headwater debug`` does; never raises for user errors.

    ``on_event`` also receives every event, before it is printed.
    """
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    printer = LogPrinter(stdout, min_level=request.min_level)
    previous = use_printer(printer)
    view = _DebugView(request, printer, stderr, on_event)
    try:
        with _sigterm_as_interrupt():
            return execute(request, on_event=view)
    finally:
        view.stop_progress()
        use_printer(previous)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM during the sync raises :class:`~headwater.errors.Terminated` (handled like Ctrl-C)."""
    import signal

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _DebugView:
    """Prints a sync's events the way ``headwater debug`` does (CLI-10 to CLI-13)."""

    def __init__(self, request: DebugRequest, printer: LogPrinter, stderr: TextIO,
                 forward: EventHandler | None) -> None:
        self.request = request
        self.printer = printer
        self.stderr = stderr
        self.forward = forward
        self.progress: Any = None

    def __call__(self, event: Event) -> None:
        if self.forward is not None:
            self.forward(event)
        if isinstance(event, OperationAccepted):
            return
        printer = self.printer
        if isinstance(event, SyncStarted):
            printer.log(event.level, "headwater", event.message)
            if self.request.progress and event.sync is not None:
                from headwater.progress import ProgressLine

                self.progress = ProgressLine(event.sync, printer)
                self.progress.start()
            return
        if isinstance(event, SyncFinished):
            self.stop_progress()
            result = event.result
            printer.log(Level.INFO, "headwater", event.message)
            if self.request.profile:
                printer.write_raw(_profile(result))
            printer.write_raw(_summary(result.counters, True))
            return
        if isinstance(event, SyncFailed):
            self.stop_progress()
            result = event.result
            if event.traceback:
                printer.log(Level.SEVERE, "headwater", event.traceback)
            if result.counters is not None:
                printer.write_raw(_summary(result.counters, False))
            if event.internal:
                self.stderr.write(event.internal)
            _fail(self.stderr, result.error or "the sync failed")
            return
        if event.message:
            printer.log(event.level, "headwater", event.message)

    def stop_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _redactor(configuration: Mapping[str, str], extra: tuple[str, ...] = ()) -> Callable[[str], str]:
    """Masks the configuration's secrets (API keys, passwords...) in every form in headwater's output.

    A connector's exception often quotes a URL or a header holding a credential; headwater prints
    such messages in its error line and the logged traceback, and masks its log lines (the
    connector's own included) while the run lasts.
    """
    from headwater.secrets import SecretMasker

    return SecretMasker.from_configuration(configuration, extra)


def _fail(stderr: TextIO, message: str) -> None:
    stderr.write(f"error: {_one_line(message)}\n")
    stderr.flush()


def execute(request: DebugRequest, *, on_event: EventHandler | None = None) -> SyncResult:
    """Run one sync; report it through ``on_event`` and return its result. Never raises for user errors."""
    emit: EventHandler = on_event if on_event is not None else (lambda event: None)
    # Import the engine before connector.py: loading it turns off bytecode writing (CLI-7), and
    # headwater's own modules should keep their cached bytecode.
    import headwater.engine.flush
    import headwater.engine.sync
    import headwater.schema  # noqa: F401
    from headwater.loader import check_connector, describe_exception, load_connector

    environ = request.environ if request.environ is not None else os.environ
    inputs: RunInputs | None = None
    destination: Destination | None = request.destination
    files_used = request.destination is None or request.state_store is None
    with contextlib.ExitStack() as held:
        try:
            state = request.state
            if state is None and request.state_store is not None:
                state = stored_state(request.state_store)
            inputs = resolve_inputs(
                request.project,
                configuration_file=request.configuration_file,
                state_file=request.state_file,
                naming=request.naming,
                environ=environ,
                configuration=request.configuration,
                state=state,
            )
            # From here on every log line, the connector's own included, is masked (until the run ends).
            held.enter_context(redacting(_redactor(inputs.configuration, request.secrets)))
            if files_used:
                # Before anything is created: a second run (or a reset) of this project is refused here.
                held.enter_context(ProjectLock(inputs.project, wait=request.wait, what="debug"))
            for note in inputs.notes:
                emit(Message(note))
            for warning in inputs.warnings:
                emit(WarningEvent(warning))
            connector = request.connector
            if connector is None:
                with _loading():
                    _, connector = load_connector(inputs.project)
            check_connector(connector)
            if destination is None:
                destination = _debug_destination(inputs, request.buffer_bytes)
                held.callback(destination.close)  # a destination the caller gave is the caller's to close
            destination.open()
            inputs = _paired_inputs(request, inputs, destination, emit)
        except HeadwaterError as exc:
            redact = (_redactor(inputs.configuration, request.secrets) if inputs is not None
                      else (lambda text: text))
            trace = None
            if exc.__cause__ is not None and not isinstance(exc, DestinationError):
                # The failure came from connector code (ERR-LOAD-2): log its traceback (CLI-13).
                trace = redact(_connector_traceback(exc.__cause__, request.verbose))
            failed = SyncResult(exit_code=exc.exit_code, error=redact(exc.message),
                                retryable=isinstance(exc, DestinationError) and exc.retryable)
            emit(SyncFailed(failed, traceback=trace))
            return failed
        if request.connector is None:
            project = inputs.project

            def unload() -> None:
                from headwater.loader import unload_project

                unload_project(project)

            held.callback(unload)
        try:
            with contextlib.ExitStack() as http:
                session = _http_mode(request, inputs, http, emit)
                result = _sync(request, inputs, connector, destination, emit, describe_exception)
                if session is not None:
                    for line in session.describe(succeeded=result.succeeded, error=result.error).splitlines():
                        emit(Message(line.strip()))
                _announce(result, emit)
            return result
        except HeadwaterError as exc:  # the recording folder cannot be read or written
            failed = SyncResult(exit_code=exc.exit_code, error=exc.message)
            emit(SyncFailed(failed))
            return failed


_LOADING = threading.local()


@contextlib.contextmanager
def _loading() -> Iterator[None]:
    """While headwater imports connector.py: a connector.debug() call at import time is ignored."""
    _LOADING.depth = getattr(_LOADING, "depth", 0) + 1
    try:
        yield
    finally:
        _LOADING.depth -= 1


def _uses_default_state(request: DebugRequest, inputs: RunInputs) -> bool:
    return (request.state_store is None and request.destination is None
            and inputs.state_path == inputs.project / "files" / "state.json")


def _paired_inputs(request: DebugRequest, inputs: RunInputs, destination: Destination,
                   emit: EventHandler) -> RunInputs:
    """The inputs to sync with: the saved state only if it belongs to this warehouse (headwater.pairing)."""
    if not _uses_default_state(request, inputs):
        return inputs
    from headwater import pairing

    if request.full_resync:
        emit(Message("--full-resync: starting from an empty state; every row is synced again into the existing "
                     "warehouse, and the saved state is replaced at the first checkpoint"))
        return dataclasses.replace(inputs, state={})
    if request.state is None and inputs.state:
        pairing.check(inputs.state_path, inputs.warehouse_path, getattr(destination, "identity", None))
    return inputs


def _not_an_operation(sync: Any, value: Any) -> None:
    """update() yielded a value that is not an operation (``yield record`` instead of ``yield op.upsert(...)``)."""
    if getattr(sync, "_warned_yield", False):
        return
    sync._warned_yield = True
    sync.log_warning(
        f"update() yielded a {type(value).__name__} that is not an operation, and headwater ignored it: "
        "yield op.upsert(table, row) (or call op.upsert without yield), not the row itself"
    )


def _debug_destination(inputs: RunInputs, buffer_bytes: int | None) -> Destination:
    from headwater.destinations.duckdb import DuckDBDestination

    return DuckDBDestination(inputs.warehouse_path, memory_limit=DuckDBDestination.memory_limit_for(buffer_bytes))


def _announce(result: SyncResult, emit: EventHandler) -> None:
    """The last event of a sync that ran."""
    if result.succeeded:
        emit(SyncFinished(result))


def _http_mode(request: DebugRequest, inputs: RunInputs, stack: contextlib.ExitStack, emit: EventHandler) -> Any:
    """Enter record or replay mode for the connector's HTTP calls (``--record``/``--replay``)."""
    if request.record is None and request.replay is None:
        return None
    from headwater.recording import recording, replaying

    if request.record is not None:
        emit(Message(f"recording HTTP exchanges into {request.record} (secrets redacted)"))
        stack.enter_context(recording(request.record, secrets=inputs.configuration))
        return None
    assert request.replay is not None
    with_faults = f" with faults {request.faults}" if request.faults else ""
    emit(Message(f"replaying HTTP from {request.replay}{with_faults}"))
    return stack.enter_context(replaying(request.replay, faults=request.faults, secrets=inputs.configuration))


def _sync(
    request: DebugRequest,
    inputs: RunInputs,
    connector: Connector,
    destination: Destination,
    emit: EventHandler,
    describe: Callable[[BaseException, Path], str],
) -> SyncResult:
    from headwater.engine.sync import DEFAULT_BUFFER_BYTES, SyncOptions, create_sync
    from headwater.naming import Naming
    from headwater.schema import parse_schema
    from headwater.statestore import FileStateStore

    options = SyncOptions(buffer_bytes=request.buffer_bytes or DEFAULT_BUFFER_BYTES, profile=request.profile)
    if request.fold_after_runs is not None:
        options = dataclasses.replace(options, fold_after_runs=request.fold_after_runs)
    checkpoints: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, CheckpointCommitted):
            checkpoints.append(event.state)
        emit(event)

    state_store = request.state_store
    if state_store is None:
        paired = _uses_default_state(request, inputs)
        state_store = FileStateStore(
            inputs.state_path, pairing=(lambda: getattr(destination, "identity", None)) if paired else None)
    sync = create_sync(destination, state_store, naming=Naming(inputs.naming), on_event=on_event, options=options,
                       record_operations=request.record_operations)
    result = SyncResult(exit_code=1, warehouse=getattr(destination, "path", None), checkpoints=checkpoints)
    started = time.monotonic()
    emit(SyncStarted(inputs.project, inputs.naming, destination.capabilities.name, sync))
    phase = "schema()"
    failure: BaseException | None = None
    previous = operations.bind(sync)
    try:
        with _debug_environment():
            if connector.schema is not None:
                emit(Message("calling schema()"))
                result.started = True
                returned_schema = connector.schema(copy.deepcopy(inputs.configuration))
                specs = parse_schema(returned_schema, sync.naming, sync.fold, sync.default_schema)
            else:
                specs = []
            sync.prepare(specs)
            phase = "update()"
            emit(Message("calling update()"))
            result.started = True
            returned = connector.update(configuration=copy.deepcopy(inputs.configuration),
                                        state=copy.deepcopy(inputs.state))
            if inspect.isgenerator(returned):
                for yielded in returned:
                    if yielded is not None:  # headwater's operations return None
                        _not_an_operation(sync, yielded)
            elif returned is not None:
                sync.log_warning(
                    f"update() returned a {type(returned).__name__}, which headwater ignores: send rows with "
                    "op.upsert(table, row) inside update() (its return value is not used)"
                )
            if sync.reported_error is not None:
                raise ConnectorReportedError(sync.reported_error)
            if not sync.any_operation:
                sync.log_warning(
                    "update() returned without sending any operation or checkpoint; fine if the source had "
                    "nothing new, but if update() calls a helper that yields operations, iterate it with "
                    "`yield from helper(...)`: a generator that is only called never runs"
                )
            sync.finish()
    except BaseException as exc:  # noqa: BLE001 - every failure is classified below
        failure = exc
    finally:
        operations.bind(previous)

    result.counters = sync.counters
    result.engine_seconds = sync.engine_seconds
    result.op_seconds = sync.op_seconds
    result.tables = dict(sync.progress())
    result.seconds = time.monotonic() - started
    if failure is None:
        result.succeeded = True
        result.exit_code = 0
        return result

    sync.abort()
    redact = _redactor(inputs.configuration, request.secrets)
    code, message, trace = _classify(failure, sync, phase, inputs.project, describe, request.verbose)
    result.exit_code = code
    result.error = redact(message)
    result.retryable = isinstance(failure, DestinationError) and failure.retryable
    if not (result.started or isinstance(failure, SchemaDeclarationError)):
        result.counters = None
    internal = None
    if code == 70:
        internal = redact("".join(traceback.format_exception(type(failure), failure, failure.__traceback__)))
    emit(SyncFailed(result, traceback=redact(trace) if trace else None, internal=internal))
    return result


def _classify(
    failure: BaseException,
    sync: Any,
    phase: str,
    project: Path,
    describe: Callable[[BaseException, Path], str],
    verbose: bool,
) -> tuple[int, str, str | None]:
    """What went wrong: (exit status, one-line message, connector traceback to log or None)."""
    if sync.internal_error is not None:
        internal = sync.internal_error
        return 70, f"internal error in headwater: {type(internal).__name__}: {internal}; please report it", None
    if sync.environment_error is not None:
        # The destination or the state store failed; the connector may have caught it and gone on.
        return sync.environment_error.exit_code, sync.environment_error.message, None
    if isinstance(failure, Terminated):
        return Terminated.exit_code, (
            f"{phase} was stopped by SIGTERM; everything after the last checkpoint was discarded and the saved "
            "state is that of the last checkpoint"
        ), None
    if isinstance(failure, KeyboardInterrupt):
        return SyncInterrupted.exit_code, (
            f"{phase} failed: {describe(failure, project)} (interrupted); everything after the last "
            "checkpoint was discarded and the saved state is that of the last checkpoint"
        ), _connector_traceback(failure, verbose)
    if sync.reported_error is not None:
        return 1, f"connector reported an error: {sync.reported_error}", None
    if isinstance(failure, SystemExit):
        where = describe(failure, project).partition(" (")[2]
        return 1, (
            f"connector code called exit({failure.code!r}) during {phase}"
            + (f" ({where}" if where else "")
            + "; headwater treats this as a failed sync: raise an exception instead, or return from update()"
        ), _connector_traceback(failure, verbose)
    if isinstance(failure, (DestinationError, StateStoreError)):
        return failure.exit_code, failure.message, None
    if isinstance(failure, HeadwaterError) and not isinstance(failure, (SyncError,)) and _is_engine_error(failure):
        return failure.exit_code, failure.message, None
    if isinstance(failure, Exception):
        return 1, f"{phase} failed: {describe(failure, project)}", _connector_traceback(failure, verbose)
    return 70, f"internal error in headwater: {type(failure).__name__}: {failure}", None


def _is_engine_error(failure: HeadwaterError) -> bool:
    """Errors headwater raised itself outside connector code (declared schema, evolution)."""
    from headwater.errors import SchemaEvolutionError

    return isinstance(failure, (SchemaDeclarationError, SchemaEvolutionError))


def _profile(report: SyncResult) -> str:
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
        f"  headwater writing    {share(writing)}   typing, Arrow batches, destination writes, commits",
        f"  total                {total:8.3f} s",
        "",
        f"  {'table':<32} {'rows':>12} {'rows/s':>12}",
    ]
    for label, rows in sorted(report.tables.items()):
        lines.append(f"  {label:<32} {rows:>12,} {rows / total if total else 0.0:>12,.0f}")
    return "\n".join(lines) + "\n\n"


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
    """``connector.debug()`` (API-13): the same sync as ``headwater debug``, in this process.

    Called while headwater itself is importing connector.py (a module-level ``connector.debug()``
    without the ``if __name__ == "__main__":`` guard), it does nothing but warn: the sync headwater
    is about to run is the one the user asked for.
    """
    if getattr(_LOADING, "depth", 0):
        from headwater.log import emit as log

        log(Level.WARNING, "connector.debug() was called while headwater was importing connector.py (a call at "
            "module level); headwater ignores it and runs the sync itself: put the call under "
            "`if __name__ == \"__main__\":`")
        return 0
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

