"""``headwater check``: verify a connector's incremental correctness offline, on a recording.

::

    from headwater.check import check_connector

    report = check_connector("my_connector", "recordings/orders", configuration={"api_key": "..."})
    assert report.ok, report.failed

Every run is the sync ``headwater debug`` runs (:func:`headwater.testing.run_connector`), in this
process, answered by :func:`headwater.recording.replaying` from the recording: nothing reaches the
network, so the check is repeatable. The properties and how each is decided:

first-run
    The run from an empty state, on an empty warehouse, succeeds. Every checkpoint it makes is
    observed as it is committed: its state and a copy of the warehouse as committed at that point
    (what a crash right after the checkpoint would leave behind). The run is made twice; columns
    whose values differ between the two (a clock, a random id) are left out of every comparison.
terminates
    The first run is not stopped by the replay's request limit, and no request is answered with
    the same successful page 3 or more times in a row (a paginator that repeats the last page).
second-run
    A second run from the first run's final state, on a copy of its final warehouse, adds and
    changes no row (``_fivetran_synced`` aside) and re-sends at most the *boundary*: one page, i.e.
    no more operations than the first run sent between two of its checkpoints, and not everything
    it sent.
resume
    For each checkpoint k (at most ``max_resumes`` of them, spread evenly, first and last
    included): a run from state k, on the warehouse as committed at checkpoint k, ends with the
    same tables as the uninterrupted first run. This is exactly a crash right after checkpoint k
    followed by the next sync. Rows missing at the end that were not committed at k mean the state
    saved at k already pointed past rows not yet upserted.
state-secrets
    No secret configuration value appears in any saved state (every checkpoint and the final
    state), also percent-encoded. Secret values are those :func:`headwater.recording.secret_values`
    picks: strings of 4 characters or more, not numbers or words like ``true``, and, unless the
    key is named like a secret, not URLs, host names or dates (a next-page URL built from
    ``base_url`` is no leak).
state-size
    The largest saved state is at most the budget (64 KB by default); a state that grows at every
    checkpoint is pointed out.
primary-keys
    In the first run's warehouse, no table has a NULL in a primary-key column or two rows with the
    same key; a table without a primary key has no two rows with the same content.
fault:SPEC
    With a fault plan, one run per fault, each compared with the first run: it PASSes when the
    connector *recovered* (the sync succeeded with the same tables) or *failed cleanly* (the sync
    failed, its saved state is one the fault-free run saved, and its tables are those committed
    with that state); it FAILs when it looped, succeeded with other data, or failed leaving a state
    or tables the fault-free run never had.

A run that asks for a request the recording does not hold makes its property INCONCLUSIVE (not a
failure): the recording has no answer to give. The first run is the exception: without it nothing
can be checked, so a miss there fails ``first-run``. Record the runs the check needs (for second-run, a
second ``headwater debug --record`` into the same folder after the first) and check again.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from headwater.events import CheckpointCommitted, Event
from headwater.recording import Cassette, Fault, FaultPlan, ReplaySession, replaying, secret_values
from headwater.recording.compare import (
    TableDiff,
    compare_warehouses,
    count_rows_with_keys,
    describe_row,
    read_tables,
    volatile_columns,
)
from headwater.recording.redaction import Redactor

__all__ = ["DEFAULT_STATE_BUDGET", "CheckReport", "Checkpoint", "PropertyResult", "check_connector", "check_faults",
           "CheckpointObserver"]

DEFAULT_STATE_BUDGET = 64 * 1024
DEFAULT_MAX_RESUMES = 20
REPEATED_PAGE = 3
MAX_DETAILED_RESUMES = 3
PASS, FAIL, INCONCLUSIVE, SKIPPED = "PASS", "FAIL", "INCONCLUSIVE", "SKIPPED"
TITLES = {
    "first-run": "the first run completes on the recording",
    "terminates": "pagination terminates",
    "second-run": "a second run from the final state re-sends at most the boundary",
    "resume": "resuming after any checkpoint ends in the same tables",
    "state-secrets": "the state holds no configuration secret",
    "state-size": "the state stays under the size budget",
    "primary-keys": "no NULL or duplicate primary keys",
}
SECOND_RUN_HINT = ("record a second run into the same folder: run `headwater debug PROJECT --record DIR` again "
                   "after the first recorded run (recordings append), then check again")


@dataclass
class PropertyResult:
    """One property: PASS, FAIL, INCONCLUSIVE or SKIPPED, a one-line summary and the evidence."""

    name: str
    title: str
    status: str
    summary: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """Everything ``headwater check`` found; ``ok`` is False when a property failed."""

    project: Path
    recording: Path
    exchanges: int
    recorded_runs: int
    properties: list[PropertyResult]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[PropertyResult]:
        return [result for result in self.properties if result.status == FAIL]

    def get(self, name: str) -> PropertyResult:
        """The result of one property (``"resume"``, ``"fault:429:retry-after=0@3"``...)."""
        for result in self.properties:
            if result.name == name:
                return result
        raise KeyError(f"no property {name!r}; the report has {', '.join(r.name for r in self.properties)}")

    def to_json(self) -> str:
        return json.dumps({
            "project": str(self.project), "recording": str(self.recording), "exchanges": self.exchanges,
            "recorded_runs": self.recorded_runs, "ok": self.ok, "notes": self.notes,
            "properties": [asdict(result) for result in self.properties],
        }, indent=2)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint of an observed run: its number, its state and the warehouse as committed with it."""

    number: int
    state_text: str
    operations: int                 # upserts + updates + deletes accepted up to this checkpoint
    snapshot: Path | None           # a folder holding files/warehouse.db as committed here


class CheckpointObserver:
    """Collects every checkpoint of a sync from its events (pass it as ``on_event``).

    A :class:`~headwater.events.CheckpointCommitted` event arrives right after the commit of a
    checkpoint and before the next operation, so copying the warehouse file (and its WAL) then
    captures exactly what that checkpoint committed.
    """

    def __init__(self, warehouse: Path, snapshots: Path | None) -> None:
        self.warehouse = warehouse
        self.snapshots = snapshots
        self.checkpoints: list[Checkpoint] = []

    def __call__(self, event: Event) -> None:
        if not isinstance(event, CheckpointCommitted):
            return
        copy: Path | None = None
        if self.snapshots is not None:
            copy = self.snapshots / f"checkpoint-{event.number}"
            _copy_warehouse(self.warehouse, copy / "files")
        self.checkpoints.append(Checkpoint(event.number, event.state, event.operations, copy))


def _copy_warehouse(database: Path, folder: Path) -> None:
    """Copy a warehouse file and its write-ahead log (committed data not yet checkpointed into the
    file) to ``folder/warehouse.db``; DuckDB replays the log when the copy is opened."""
    folder.mkdir(parents=True, exist_ok=True)
    for source, target in ((database, "warehouse.db"), (Path(f"{database}.wal"), "warehouse.db.wal")):
        if source.exists():
            shutil.copyfile(source, folder / target)


@dataclass
class _Run:
    result: Any                       # headwater.testing.SyncResult
    session: ReplaySession
    checkpoints: list[Checkpoint]
    work: Path

    @property
    def operations(self) -> int:
        counters = self.result.counters
        return int(counters.upserts + counters.updates + counters.deletes) if counters is not None else 0

    @property
    def state_text(self) -> str:
        path: Path = self.result.state_path
        return path.read_text(encoding="utf-8") if path.exists() else "{}"

    def failure(self) -> str:
        return str(self.result.error or self.result.errors.strip() or f"exit status {self.result.exit_code}")


class _Checker:
    def __init__(self, project: Path, cassette: Cassette, configuration: dict[str, str], work: Path,
                 state_budget: int, max_resumes: int) -> None:
        self.project, self.cassette, self.configuration, self.work = project, cassette, configuration, work
        self.state_budget, self.max_resumes = state_budget, max_resumes
        self.ignore: dict[str, list[str]] = {}
        self.notes: list[str] = []
        self.trials = 0

    def run(self, name: str, *, state: Mapping[str, Any], seed: Path | None = None,
            faults: FaultPlan | None = None, observe: bool = False) -> _Run:
        from headwater.testing import run_connector

        work = self.work / name
        if seed is not None:
            _copy_warehouse(seed / "files" / "warehouse.db", work / "files")
        snapshots = self.work / f"{name}-checkpoints" if observe else None
        observer = CheckpointObserver(work / "files" / "warehouse.db", snapshots)
        with replaying(self.cassette, faults=faults, secrets=self.configuration) as session:
            result = run_connector(self.project, configuration=self.configuration, state=state, warehouse_dir=work,
                                   on_event=observer)
        return _Run(result, session, observer.checkpoints if observe else [], work)

    def compare(self, expected: _Run | Path, actual: _Run) -> list[TableDiff]:
        left = expected.result.warehouse if isinstance(expected, _Run) else expected / "files" / "warehouse.db"
        return compare_warehouses(left, actual.result.warehouse, ignore=self.ignore)

    # -- properties ------------------------------------------------------------------------------

    def first_run(self, run: _Run) -> PropertyResult:
        counters = run.result.counters
        if not run.result.succeeded:
            evidence = [f"error: {run.failure()}"]
            if run.session.misses:
                evidence.append("the recording must come from a run that started from an empty state with this "
                                "configuration: `headwater reset` before `headwater debug --record`")
            return _result("first-run", FAIL, "the first run from an empty state failed on the recording", evidence)
        counts = _row_counts(run.result.warehouse)
        summary = (f"succeeded: {_n(sum(counts.values()), 'row')} in {_n(len(counts), 'table')}, "
                   f"{_n(counters.checkpoints if counters else 0, 'checkpoint')}, "
                   f"{_n(run.session.requests, 'request')}")
        return _result("first-run", PASS, summary, [])

    def terminates(self, run: _Run) -> PropertyResult:
        if run.session.limit_error is not None:
            return _result("terminates", FAIL, "the first run never ended: the replay's request limit stopped it",
                           [run.session.limit_error.message])
        repeated = run.session.repeated_requests(REPEATED_PAGE)
        if repeated:
            url, count = repeated[0]
            ended = "succeeded" if run.result.succeeded else f"failed ({run.failure()})"
            return _result("terminates", FAIL, f"the first run fetched the same page {count} times in a row",
                           [f"{url} answered the same 200 page {count} times in a row; the run then {ended}: a "
                            "paginator that repeats a page (a page limit is not a loop guard): stop when a next "
                            "link was already fetched"])
        return _result("terminates", PASS, f"no page fetched {REPEATED_PAGE} times in a row; "
                       f"{_n(run.session.requests, 'request')} in all", [])

    def second_run(self, first: _Run) -> PropertyResult:
        state = json.loads(first.state_text or "{}")
        second = self.run("second-run", state=state, seed=first.work)
        evidence = [f"state: {_short(first.state_text)}"]
        if second.session.misses:
            return _result("second-run", INCONCLUSIVE, "the second run asked for a request the recording does not hold",
                           [*evidence, second.session.misses[0].message, SECOND_RUN_HINT])
        if not second.result.succeeded:
            return _result("second-run", FAIL, "the second run from the final state failed",
                           [*evidence, f"error: {second.failure()}"])
        diffs = self.compare(first, second)
        if diffs:
            lines = [line for diff in diffs for line in (diff.summary(), *diff.samples)]
            return _result("second-run", FAIL, "the second run from the final state changed the tables: "
                           + "; ".join(diff.summary() for diff in diffs),
                           [*evidence, *lines, "a run from the final state should find nothing new (or only re-send "
                            "the boundary rows with the same values)"])
        intervals = _intervals([cp.operations for cp in first.checkpoints], first.operations)
        boundary = max(intervals)
        sent, total = second.operations, first.operations
        detail = (f"re-sent {_n(sent, 'operation')}; the boundary allows one page: {boundary} (the most the first "
                  "run sent between two checkpoints)")
        if sent and total > 1 and sent >= total:
            why = ("the first run saved no state (no checkpoint), so every run starts over"
                   if not first.checkpoints else "the connector does not continue from its state")
            return _result("second-run", FAIL, f"the second run re-sent everything ({sent} of {total} operations)",
                           [*evidence, detail, why])
        if sent > boundary:
            return _result("second-run", FAIL, f"the second run re-sent {sent} operations, more than the boundary "
                           f"({boundary})", [*evidence, detail, "a second run should only re-send the last page"])
        return _result("second-run", PASS, "changed nothing; " + detail, evidence)

    def resume(self, first: _Run) -> PropertyResult:
        checkpoints = _spread(first.checkpoints, self.max_resumes)
        if not checkpoints:
            return _result("resume", PASS, "the first run made no checkpoint: nothing to resume from", [])
        failed: list[str] = []
        unknown: list[str] = []
        passed = failures = 0
        for checkpoint in checkpoints:
            state = json.loads(checkpoint.state_text)
            resumed = self.run(f"resume-{checkpoint.number}", state=state, seed=checkpoint.snapshot)
            where = f"after checkpoint {checkpoint.number} (state {_short(checkpoint.state_text)})"
            if resumed.session.misses:
                unknown.append(f"{where}: {resumed.session.misses[0].message}")
                continue
            if not resumed.result.succeeded:
                failures += 1
                failed.append(f"resuming {where} failed: {resumed.failure()}")
                continue
            diffs = self.compare(first, resumed)
            if not diffs:
                passed += 1
                continue
            failures += 1
            if failures > MAX_DETAILED_RESUMES:
                continue
            failed.append(f"resuming {where} ends differently: " + "; ".join(diff.summary() for diff in diffs))
            failed.extend(f"  {sample}" for diff in diffs for sample in diff.samples[:3])
            failed.extend(self._why_missing(checkpoint, diffs))
        total = len(checkpoints)
        if failures:
            if failures > MAX_DETAILED_RESUMES:
                more = failures - MAX_DETAILED_RESUMES
                failed.append(f"... and {_n(more, 'more checkpoint')} like these")
            return _result("resume", FAIL, f"resuming after {failures} of {_n(total, 'checkpoint')} ends in other "
                           "tables than the uninterrupted run", failed + unknown)
        if passed == 0:
            return _result("resume", INCONCLUSIVE, "no resumed run could be answered from the recording",
                           [*unknown, "a resumed run asks for other requests than the first run made; record runs "
                            "that start from these states to check them"])
        skipped = len(first.checkpoints) - total
        summary = f"resuming after each of {_n(passed, 'checkpoint')} ends in the same tables"
        if skipped:
            summary += f" ({skipped} more checkpoints not tried; raise max_resumes to try them)"
        return _result("resume", PASS, summary, unknown)

    def _why_missing(self, checkpoint: Checkpoint, diffs: list[TableDiff]) -> list[str]:
        for diff in diffs:
            if not diff.missing or not diff.missing_keys or checkpoint.snapshot is None:
                continue
            warehouse = checkpoint.snapshot / "files" / "warehouse.db"
            present = count_rows_with_keys(warehouse, diff.table, diff.missing_keys)
            if present == 0:
                return [f"  why: these rows were not committed at checkpoint {checkpoint.number}, yet the state "
                        f"saved there already points past them: the cursor was checkpointed before the rows were "
                        f"upserted, so a crash between the two loses them. Upsert a page's rows first, then "
                        f"checkpoint its cursor"]
            return [f"  why: these rows were committed at checkpoint {checkpoint.number} but are gone after "
                    "resuming: the resumed run deleted or truncated them"]
        return []

    def state_secrets(self, first: _Run) -> PropertyResult:
        secrets = secret_values(self.configuration)
        states = _states(first)
        found = []
        for label, text in states:
            try:
                state = json.loads(text or "{}")
            except ValueError:
                continue
            for path, value in _strings(state):
                for key, secret in secrets.items():
                    if any(form in value for form in {secret, quote(secret, safe=""), quote_plus(secret)}):
                        found.append(f"{label}: state{path} holds the value of configuration key {key!r}")
        checked = ", ".join(sorted(secrets)) or "none"
        if found:
            return _result("state-secrets", FAIL, "the state holds a configuration secret",
                           [*found[:10], "the state is stored unencrypted and shown in logs: keep secrets in the "
                            "configuration and rebuild URLs and headers from it"])
        return _result("state-secrets", PASS, f"no secret configuration value in {_n(len(states), 'saved state')} "
                       f"(checked: {checked})", [])

    def state_size(self, first: _Run) -> PropertyResult:
        states = _states(first)
        sizes = [(label, len(text.encode("utf-8")), text) for label, text in states]
        label, largest, text = max(sizes, key=lambda item: item[1])
        evidence = []
        growing = [size for _, size, _ in sizes[:-1]]
        if len(growing) >= 3 and all(b > a for a, b in zip(growing, growing[1:])):
            step = (growing[-1] - growing[0]) / (len(growing) - 1)
            evidence.append(f"the state grew at every checkpoint ({growing[0]} B to {growing[-1]} B, ~{step:.0f} B "
                            f"each): it would pass {_bytes(self.state_budget)} after about "
                            f"{max(0, int((self.state_budget - growing[-1]) / step))} more checkpoints")
        if largest > self.state_budget:
            return _result("state-size", FAIL, f"the state reached {_bytes(largest)} at {label}, over the budget of "
                           f"{_bytes(self.state_budget)}", [*_largest_keys(text), *evidence])
        return _result("state-size", PASS, f"largest state {_bytes(largest)} ({label}); budget "
                       f"{_bytes(self.state_budget)}", evidence)

    def primary_keys(self, first: _Run) -> PropertyResult:
        problems, tables, rows = _key_problems(first.result.warehouse)
        if problems:
            return _result("primary-keys", FAIL, "NULL or duplicate primary keys", problems)
        return _result("primary-keys", PASS, f"{_n(tables, 'table')}, {_n(rows, 'row')}: keys are set and unique", [])

    def fault(self, fault: Fault, first: _Run) -> PropertyResult:
        name = f"fault:{fault}"
        title = f"recovers from or fails cleanly on {fault.describe()}"
        self.trials += 1
        trial = self.run(f"fault-{self.trials}", state={}, faults=FaultPlan([fault]))
        session = trial.session
        events = [f"fault {event.describe()}" for event in session.fault_events]
        if session.waited:
            events.append(f"waited {session.waited:,.1f} s (virtual) for Retry-After, backoff and sleep()")
        fired = [event for event in session.fault_events if not event.not_applicable]
        if not fired:
            why = (session.fault_events[0].outcome() if session.fault_events
                   else f"the fault never fired: the run made {_n(session.requests, 'request')}")
            return PropertyResult(name, title, INCONCLUSIVE, why, events)
        if session.limit_error is not None or session.repeated_requests(REPEATED_PAGE):
            streak = session.repeated_requests(REPEATED_PAGE)
            detail = session.limit_error.message if session.limit_error is not None else (
                f"{streak[0][0]} answered the same page {streak[0][1]} times in a row, then the run "
                + ("succeeded (a page limit?)" if trial.result.succeeded else f"failed: {trial.failure()}")
                + "; stop when a next link repeats one already fetched")
            return PropertyResult(name, title, FAIL, "looped: the connector kept requesting the same page",
                                  [*events, detail])
        if session.misses:
            return PropertyResult(name, title, INCONCLUSIVE, "after the fault the connector asked for a request "
                                  "the recording does not hold", [*events, session.misses[0].message])
        if trial.result.exit_code not in (0, 1):
            return PropertyResult(name, title, FAIL, f"crashed (exit status {trial.result.exit_code})",
                                  [*events, trial.failure()])
        if trial.result.succeeded:
            diffs = self.compare(first, trial)
            if diffs:
                return PropertyResult(name, title, FAIL, "succeeded, but with other data than the run without the "
                                      "fault: " + "; ".join(diff.summary() for diff in diffs),
                                      [*events, *[sample for diff in diffs for sample in diff.samples[:3]],
                                       "a failed request must fail the sync (or be retried), never count as an "
                                       "empty or final page"])
            return PropertyResult(name, title, PASS, "recovered: the sync succeeded with the same tables", events)
        return self._failed_cleanly(name, title, trial, first, events)

    def _failed_cleanly(self, name: str, title: str, trial: _Run, first: _Run, events: list[str]) -> PropertyResult:
        saved = _normal_json(trial.state_text)
        error = f"error: {trial.failure()}"
        if not trial.result.state_path.exists() and not any(_row_counts(trial.result.warehouse).values()):
            return PropertyResult(name, title, PASS, "failed cleanly before its first checkpoint: nothing committed",
                                  [*events, error])
        for checkpoint in first.checkpoints:
            if _normal_json(checkpoint.state_text) == saved:
                diffs = self.compare(checkpoint.snapshot, trial) if checkpoint.snapshot is not None else []
                if diffs:
                    return PropertyResult(name, title, FAIL, f"failed with the state of checkpoint "
                                          f"{checkpoint.number} but other tables than that checkpoint committed",
                                          [*events, error, *[diff.summary() for diff in diffs]])
                return PropertyResult(name, title, PASS, f"failed cleanly: kept the state and tables of checkpoint "
                                      f"{checkpoint.number}", [*events, error])
        return PropertyResult(name, title, FAIL, "failed, leaving a state the run without the fault never saved",
                              [*events, error, f"saved state: {_short(saved)}"])


def check_connector(
    project: str | os.PathLike[str],
    recording: str | os.PathLike[str],
    *,
    configuration: Mapping[str, str] | None = None,
    faults: FaultPlan | str | None = None,
    state_budget: int = DEFAULT_STATE_BUDGET,
    max_resumes: int = DEFAULT_MAX_RESUMES,
    work_dir: str | os.PathLike[str] | None = None,
    _only_faults: bool = False,
) -> CheckReport:
    """Check the connector in ``project`` on the recording in ``recording``; see the module docstring.

    Args:
        configuration: the configuration (default: the project's configuration.json, else ``{}``).
        faults: a fault plan (or its text form); each fault gets its own run and property.
        state_budget: the largest state allowed, in bytes.
        max_resumes: at most this many checkpoints are resumed from (spread over the run).
        work_dir: where the runs' warehouses go (kept); by default a temporary folder, removed.
    """
    root = Path(project).resolve()
    cassette = Cassette.load(recording)
    config = dict(configuration) if configuration is not None else _project_configuration(root)
    plan = FaultPlan.parse(faults) if isinstance(faults, str) else faults
    with _work_folder(work_dir) as work:
        checker = _Checker(root, cassette, config, work, state_budget, max_resumes)
        results = _check(checker, plan, _only_faults)
    # Error messages of connector code may quote a URL with its API key: the report never shows one.
    redactor = Redactor(secret_values(config).values())
    for result in results:
        result.summary = redactor.text(result.summary)
        result.evidence = [redactor.text(line) for line in result.evidence]
    notes = [redactor.text(note) for note in checker.notes]
    return CheckReport(root, Path(recording), len(cassette.exchanges), cassette.runs, results, notes)


def check_faults(
    project: str | os.PathLike[str],
    recording: str | os.PathLike[str],
    faults: FaultPlan | str,
    *,
    configuration: Mapping[str, str] | None = None,
) -> list[PropertyResult]:
    """Only the fault trials of :func:`check_connector`: one run per fault, each compared with the
    fault-free run; each result says *recovered*, *failed cleanly* (PASS) or what went wrong (FAIL).

    ::

        results = check_faults("my_connector", "recordings/orders", "429:retry-after=0@2,timeout@3")
        assert all(result.status == "PASS" for result in results), results
    """
    report = check_connector(project, recording, configuration=configuration, faults=faults, _only_faults=True)
    return [result for result in report.properties if result.name.startswith("fault:") or result.status == FAIL]


def _check(checker: _Checker, plan: FaultPlan | None, only_faults: bool = False) -> list[PropertyResult]:
    first = checker.run("first-run", state={}, observe=True)
    results = [checker.first_run(first), checker.terminates(first)]
    if not first.result.succeeded:
        later = ["second-run", "resume", "state-secrets", "state-size", "primary-keys"]
        results.extend(_result(name, SKIPPED, "skipped: the first run failed", []) for name in later)
        results.extend(PropertyResult(f"fault:{fault}", f"recovers from or fails cleanly on {fault.describe()}",
                                      SKIPPED, "skipped: the first run failed") for fault in plan or ())
        return results
    if only_faults:
        return [*results, *(checker.fault(fault, first) for fault in plan or ())]
    again = checker.run("first-run-again", state={})
    if again.result.succeeded:
        checker.ignore = volatile_columns(first.result.warehouse, again.result.warehouse)
        for table, columns in checker.ignore.items():
            checker.notes.append(f"{table}: {', '.join(columns)} differ between two identical runs (a clock or a "
                                 "random value); left out of every comparison")
    results.append(checker.second_run(first))
    results.append(checker.resume(first))
    results.append(checker.state_secrets(first))
    results.append(checker.state_size(first))
    results.append(checker.primary_keys(first))
    results.extend(checker.fault(fault, first) for fault in plan or ())
    return results


@contextmanager
def _work_folder(work_dir: str | os.PathLike[str] | None) -> Iterator[Path]:
    if work_dir is not None:
        folder = Path(work_dir)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="headwater-check-") as name:
        yield Path(name)


def _project_configuration(project: Path) -> dict[str, str]:
    from headwater.project import load_configuration

    path = project / "configuration.json"
    return load_configuration(path) if path.is_file() else {}


def _result(name: str, status: str, summary: str, evidence: list[str]) -> PropertyResult:
    return PropertyResult(name, TITLES[name], status, summary, evidence)


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _bytes(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:,.1f} KB"


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _normal_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text or "{}"), sort_keys=True)
    except ValueError:
        return text


def _intervals(marks: list[int], final: int) -> list[int]:
    points = [0, *marks, final]
    return [later - earlier for earlier, later in zip(points, points[1:])]


def _spread(checkpoints: list[Checkpoint], limit: int) -> list[Checkpoint]:
    if len(checkpoints) <= limit:
        return list(checkpoints)
    if limit <= 1:
        return checkpoints[-1:]
    step = (len(checkpoints) - 1) / (limit - 1)
    return [checkpoints[round(index * step)] for index in range(limit)]


def _states(first: _Run) -> list[tuple[str, str]]:
    states = [(f"checkpoint {cp.number}", cp.state_text) for cp in first.checkpoints]
    final = first.state_text
    if not states or _normal_json(states[-1][1]) != _normal_json(final):
        states.append(("the final state", final))
    return states


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}[{key!r}]", str(key)
            yield from _strings(item, f"{path}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _largest_keys(text: str) -> list[str]:
    try:
        state = json.loads(text)
    except ValueError:
        return []
    if not isinstance(state, dict):
        return []
    sizes = sorted(((len(json.dumps(item)), key) for key, item in state.items()), reverse=True)[:3]
    return [f"state[{key!r}] is {_bytes(size)}" for size, key in sizes]


def _row_counts(warehouse: Path) -> dict[str, int]:
    import duckdb

    tables = read_tables(warehouse)
    if not tables:
        return {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {label: _scalar(con, f"SELECT count(*) FROM {_qualified(info.schema, info.name)}")
                for label, info in tables.items()}
    finally:
        con.close()


def _scalar(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _qualified(schema: str, name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))


def _key_problems(warehouse: Path) -> tuple[list[str], int, int]:
    """NULL and duplicate keys in every table: (problems, tables, rows)."""
    import duckdb

    tables = read_tables(warehouse)
    problems: list[str] = []
    rows = 0
    if not tables:
        return problems, 0, 0
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for label, info in sorted(tables.items()):
            table = _qualified(info.schema, info.name)
            rows += _scalar(con, f"SELECT count(*) FROM {table}")
            names = [name for name, _ in info.columns]
            key = list(info.primary_key) or [name for name in names if name not in ("_fivetran_synced", "_fivetran_id")]
            quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in key)
            if info.primary_key:
                nulls = " OR ".join(f'"{name}" IS NULL' for name in key)
                cursor = con.execute(f"SELECT * FROM {table} WHERE {nulls} LIMIT 3")
                columns = [column[0] for column in cursor.description or []]
                for row in cursor.fetchall():
                    problems.append(f"table {label}: NULL in primary key ({', '.join(key)}): "
                                    f"{describe_row(dict(zip(columns, row)))}")
            what = f"primary key ({', '.join(key)})" if info.primary_key else "content (the table has no primary key)"
            for values in con.execute(f"SELECT {quoted}, count(*) AS n FROM {table} GROUP BY ALL HAVING count(*) > 1 "
                                      "ORDER BY n DESC LIMIT 3").fetchall():
                problems.append(f"table {label}: {values[-1]} rows with the same {what}: "
                                f"{describe_row(dict(zip(key, values[:-1])))}")
        return problems, len(tables), rows
    finally:
        con.close()
