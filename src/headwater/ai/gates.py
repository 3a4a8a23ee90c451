"""The deterministic gates that decide when a generated connector is done.

After every round the loop runs these gates, in order, on the project as the model left it::

    parse_import   every .py file parses; connector.py imports and has a usable Connector
    lint           headwater lint: no findings at the failing severity (warning by default)
    schema         schema() runs and is valid; the requested tables are declared with primary keys
    run            one sync succeeds: against a recording, or a local (loopback) fixture server;
                   against the real API only with --live, under request and time caps
    invariants     every requested table has rows, primary keys are neither duplicated nor null,
                   numbers and dates are not stored as text
    incremental    headwater.check's incremental-correctness check over the recording
    tests          the project's own tests pass (offline: only loopback hosts reachable)

Each gate returns a :class:`GateResult` with machine-readable findings, which go back to the model
in the next round. A gate whose prerequisites did not pass is ``skipped``; one whose machinery is
missing (``headwater.check``, ``headwater.recording``) is ``unavailable`` and does not block.

A failed gate says what kind of failure it is: ``code`` (the model fixes it), ``configuration``
(the user must: a credential, a key, --live) or ``infrastructure`` (the network, the API). The
loop asks the model to change code only for ``code`` failures.

A gate is anything with a ``name``, ``requires`` and ``run(project, context)``: the
:class:`Gate` protocol. :func:`default_gates` lists the ones above.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from headwater._ast import parse as parse_source
from headwater.ai.errors import Category
from headwater.ai.probe import call_probe
from headwater.ai.redaction import REDACTED, Redactor
from headwater.ai.workspace import CONFIGURATION, is_placeholder, project_files

__all__ = [
    "Gate",
    "GateContext",
    "GateOptions",
    "GateResult",
    "GateStatus",
    "classify_run",
    "default_gates",
    "docs_type_hints",
    "run_gates",
]

GateStatus = Literal["passed", "failed", "skipped", "unavailable"]
LintLevel = Literal["error", "warning", "info"]
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
CONNECTION_ERRORS = frozenset({
    "ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "SSLError", "ProxyError",
    "ChunkedEncodingError", "RetryError",
})
SYSTEM_COLUMNS = frozenset({"_fivetran_synced", "_fivetran_deleted", "_fivetran_id"})
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
NUMBER_WORDS = re.compile(r"\b(integer|int|int64|long|bigint|number|numeric|decimal|float|double)\b", re.I)
DATE_WORDS = re.compile(r"\b(date|datetime|date-time|timestamp|time|iso[ -]?8601|rfc[ -]?3339)\b", re.I)
DATE_NAME = re.compile(r"(_at|_on|_date|_time|date|time|timestamp)$", re.I)
MAX_FINDINGS = 40
#: Where a project's tests find the recording they replay.
TESTS_RECORDING = Path("tests") / "recording"
MAX_LOG_CHARS = 4_000


@dataclass
class GateResult:
    """What one gate found in one round."""

    gate: str
    status: GateStatus
    summary: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    category: Category | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def blocks(self) -> bool:
        """True when this result keeps the loop from converging (failed, or skipped behind a failure)."""
        return self.status in ("failed", "skipped")

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate, "status": self.status, "passed": self.passed, "category": self.category,
            "summary": self.summary, "findings": self.findings, "seconds": round(self.seconds, 3),
        }


@dataclass
class GateOptions:
    """How the gates run; fixed for a whole generate or enhance.

    ``configuration`` is the real configuration the connector runs with: its values never reach the
    model. ``original_tests`` (enhance) are the project's test files before the change.
    """

    configuration: Mapping[str, str] | None = None
    tables: tuple[str, ...] = ()
    docs_text: str = ""
    live: bool = False
    recording_dir: Path | None = None
    record_dir: Path | None = None
    live_max_requests: int = 50
    live_max_seconds: float = 120.0
    run_timeout: float = 300.0
    import_timeout: float = 60.0
    tests_timeout: float = 300.0
    trust_credentials: bool = False
    lint_fail_on: LintLevel = "warning"
    mode: Literal["generate", "enhance"] = "generate"
    original_tests: Mapping[str, str] = field(default_factory=dict)
    run_tests: bool = True


class GateContext:
    """What the gates of one round share: the options, a scratch folder, and earlier outcomes."""

    def __init__(self, options: GateOptions, scratch: Path, *, round_number: int = 1) -> None:
        self.options = options
        self.scratch = scratch
        self.round = round_number
        self.redactor = Redactor.from_configuration(options.configuration)
        self.results: dict[str, GateResult] = {}
        self.import_probe: dict[str, Any] | None = None
        self.run_probe: dict[str, Any] | None = None

    def declared_tables(self) -> list[dict[str, Any]]:
        """The tables schema() declared, as the import probe saw them ([] before it ran)."""
        schema = (self.import_probe or {}).get("schema") or {}
        tables = schema.get("tables") or []
        return list(tables) if isinstance(tables, list) else []

    def requested_tables(self) -> list[str]:
        """Destination names of the tables to check: --tables, else every declared table."""
        from headwater.naming import Naming

        naming = Naming()
        if self.options.tables:
            return [naming.table(name) for name in self.options.tables]
        return [str(table["table"]) for table in self.declared_tables()]

    def clean(self, text: str, limit: int = MAX_LOG_CHARS) -> str:
        """Text from a run (logs, errors) with secrets removed and cut to ``limit`` characters."""
        cleaned = self.redactor.document(text) if text else ""
        return cleaned if len(cleaned) <= limit else "... " + cleaned[-limit:]


class Gate(Protocol):
    """One check of the project. ``requires`` names the gates that must have passed first."""

    name: str
    requires: tuple[str, ...]

    def run(self, project: Path, context: GateContext) -> GateResult: ...


def _result(gate: str, findings: list[dict[str, Any]], ok_summary: str, fail_summary: str,
            category: Category = "code") -> GateResult:
    failing = [finding for finding in findings if finding.get("blocking", True)]
    for finding in findings:
        finding.pop("blocking", None)
    if failing:
        return GateResult(gate, "failed", fail_summary, findings[:MAX_FINDINGS], category)
    return GateResult(gate, "passed", ok_summary, findings[:MAX_FINDINGS])


# --- parse_import -------------------------------------------------------------------------------


class ParseImportGate:
    """Every Python file parses, and connector.py imports with a usable ``connector`` object."""

    name = "parse_import"
    requires: tuple[str, ...] = ()

    def run(self, project: Path, context: GateContext) -> GateResult:
        findings: list[dict[str, Any]] = []
        files = project_files(project)
        if "connector.py" not in files:
            findings.append({"kind": "missing_file", "path": "connector.py",
                             "message": "the project has no connector.py; write it"})
        for path, text in files.items():
            if not path.endswith(".py"):
                continue
            try:
                parse_source(text, filename=path)
            except SyntaxError as exc:
                findings.append({"kind": "syntax_error", "path": path, "line": exc.lineno or 0,
                                 "message": f"{exc.msg}", "text": (exc.text or "").strip()[:200]})
        if findings:
            return GateResult(self.name, "failed", f"{len(findings)} file problem(s)", findings, "code")
        probe = call_probe({"kind": "import", "project": str(project),
                            "configuration": dict(context.options.configuration or {})},
                           timeout=context.options.import_timeout)
        context.import_probe = probe
        if "timeout" in probe:
            return GateResult(self.name, "failed", "importing connector.py did not finish", [{
                "kind": "import_timeout",
                "message": f"importing connector.py (and calling schema()) took longer than "
                           f"{context.options.import_timeout:g}s; do no network or heavy work at import time",
            }], "code")
        if "crash" in probe:
            return GateResult(self.name, "failed", "the import probe crashed", [{
                "kind": "probe_crash", "message": context.clean(str(probe["crash"])),
                "detail": context.clean(str(probe.get("traceback", ""))),
            }], "infrastructure")
        imported = probe.get("import") or {}
        if not imported.get("ok"):
            return GateResult(self.name, "failed", "connector.py does not import", [{
                "kind": "import_error", "path": "connector.py", "message": context.clean(str(imported.get("error"))),
                "traceback": context.clean(str(imported.get("traceback") or "")),
                "output": context.clean(str(probe.get("stderr") or ""), 1500),
            }], "code")
        return GateResult(self.name, "passed", "every file parses; connector.py imports")


# --- lint ---------------------------------------------------------------------------------------


class LintGate:
    """``headwater lint`` reports nothing at or above the failing severity."""

    name = "lint"
    requires: tuple[str, ...] = ()

    def run(self, project: Path, context: GateContext) -> GateResult:
        from headwater.errors import HeadwaterError
        from headwater.lint import lint_project

        try:
            report = lint_project(project)
        except HeadwaterError as exc:
            return GateResult(self.name, "failed", "lint could not read the project",
                              [{"kind": "lint_error", "message": exc.message}], "code")
        threshold = SEVERITY_RANK[context.options.lint_fail_on]
        findings: list[dict[str, Any]] = []
        for finding in report.findings:
            entry = {"kind": "lint", **finding.to_dict()}
            entry["blocking"] = SEVERITY_RANK[finding.severity] >= threshold
            entry["message"] = context.clean(entry["message"], 600)
            findings.append(entry)
        failing = sum(1 for finding in findings if finding["blocking"])
        return _result(self.name, findings, f"clean ({len(report.files)} files)" if not findings
                       else f"{len(findings)} non-failing finding(s)",
                       f"{failing} finding(s) at {context.options.lint_fail_on} or above")


# --- schema -------------------------------------------------------------------------------------


class SchemaGate:
    """schema() runs and is valid; every requested table is declared, with a primary key."""

    name = "schema"
    requires: tuple[str, ...] = ("parse_import",)

    def run(self, project: Path, context: GateContext) -> GateResult:
        schema = (context.import_probe or {}).get("schema") or {}
        if schema.get("missing"):
            return GateResult(self.name, "failed", "no schema()", [{
                "kind": "schema_missing",
                "message": "connector.py defines no schema(); declare every table with its primary key and the "
                           "types of its numbers and dates, and pass it: Connector(update=update, schema=schema)",
            }], "code")
        if not schema.get("ok"):
            return GateResult(self.name, "failed", "schema() failed", [{
                "kind": "schema_error", "message": context.clean(str(schema.get("error"))),
                "traceback": context.clean(str(schema.get("traceback") or "")),
            }], "code")
        declared = {str(table["table"]): table for table in context.declared_tables()}
        findings: list[dict[str, Any]] = []
        for name in context.requested_tables():
            table = declared.get(name)
            if table is None:
                findings.append({"kind": "table_not_declared", "table": name,
                                 "message": f"table {name!r} is not declared in schema(); declare it with its "
                                            f"primary key (declared: {sorted(declared) or 'none'})"})
            elif not table.get("primary_key"):
                findings.append({"kind": "no_primary_key", "table": name,
                                 "message": f"table {name!r} has no primary_key in schema(); without one, an "
                                            "updated record becomes a second row. Declare its identifying columns"})
        return _result(self.name, findings, f"{len(declared)} table(s) declared: {', '.join(sorted(declared))}",
                       f"{len(findings)} schema problem(s)")


# --- run ----------------------------------------------------------------------------------------


def _recording_available() -> bool:
    return importlib.util.find_spec("headwater.recording") is not None


def _model_configuration_keys(project: Path) -> list[str]:
    path = project / CONFIGURATION
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return sorted(str(key) for key in parsed) if isinstance(parsed, dict) else []


def classify_run(outcome: Mapping[str, Any], *, trust_credentials: bool = False) -> tuple[Category, str]:
    """The kind of a failed run, and why, from what the probe observed (statuses and error types only).

    - a request the guard blocked (no --live), or a 401/403 to a request that carried the configured
      credentials -> ``configuration``;
    - connection failures and 5xx answers -> ``infrastructure``;
    - everything else (a 401 to a request without the credentials, 404, 429 given up on, an
      exception in connector code, a hang) -> ``code``.
    """
    if outcome.get("timeout") is not None:
        return "code", "the sync did not finish in time"
    if outcome.get("crash"):
        return "infrastructure", "the run probe crashed"
    if outcome.get("blocked"):
        hosts = ", ".join(outcome["blocked"])
        return "configuration", (f"the connector called {hosts}, a real API: without --live a run may only use a "
                                 "recording (--recording) or a local fixture server; pass --live to allow it (capped)")
    exchanges = [dict(item) for item in outcome.get("exchanges") or []]
    refused = [item for item in exchanges if item.get("status") in (401, 403)]
    if refused and not trust_credentials:
        if any(item.get("carried_credentials") for item in refused):
            first = refused[0]
            return "configuration", (
                f"the API refused the configured credentials (HTTP {first['status']} to {first['method']} "
                f"{first['url']}); check the credential values in the configuration. If they are right, run again "
                "with --trust-credentials to let the model fix how they are sent")
        return "code", "the API answered 401/403 to a request that carried none of the configured credentials"
    failed_connections = [item for item in exchanges if item.get("error") in CONNECTION_ERRORS]
    if failed_connections:
        first = failed_connections[0]
        return "infrastructure", (f"{first['error']} on {first['method']} {first['url']}: the API could not be "
                                  "reached; check that it (or the local fixture server) is up")
    server_errors = [item for item in exchanges if (item.get("status") or 0) >= 500]
    if server_errors:
        first = server_errors[0]
        return "infrastructure", f"the API failed on its side (HTTP {first['status']} to {first['url']})"
    return "code", "the sync failed in connector code"


class RunGate:
    """One sync succeeds, against a recording, a local fixture server, or (``--live``) the real API."""

    name = "run"
    requires: tuple[str, ...] = ("parse_import", "schema")

    def run(self, project: Path, context: GateContext) -> GateResult:
        options = context.options
        if options.configuration is None:
            return GateResult(self.name, "failed", "no configuration to run with", [{
                "kind": "no_configuration",
                "message": "there is no configuration to run the connector with: pass --configuration FILE with real "
                           "values (they never reach the model), or put them in the project's configuration.json",
            }], "configuration")
        placeholders = sorted(key for key, value in options.configuration.items() if is_placeholder(value))
        if placeholders:
            return GateResult(self.name, "failed", "the configuration holds placeholders", [{
                "kind": "placeholder_configuration", "keys": placeholders,
                "message": f"configuration keys {placeholders} still hold placeholder values; fill in real values",
            }], "configuration")
        replay = options.recording_dir if options.recording_dir is not None and not options.live else None
        if (replay is not None or options.record_dir is not None) and not _recording_available():
            return GateResult(self.name, "failed", "headwater.recording is not available", [{
                "kind": "recording_unavailable",
                "message": "--recording/--record need headwater.recording, which this installation does not have",
            }], "configuration")
        job: dict[str, Any] = {
            "kind": "run", "project": str(project), "configuration": dict(options.configuration),
            "warehouse_dir": str(context.scratch / f"run-{context.round}"),
            "allow_any_host": options.live or replay is not None,
            "replay": str(replay) if replay is not None else None,
            "record": str(options.record_dir) if options.record_dir is not None and options.live else None,
        }
        timeout = options.run_timeout
        if options.live:
            job["max_requests"] = options.live_max_requests
            job["max_seconds"] = options.live_max_seconds
            timeout = min(timeout, options.live_max_seconds + 60)
        if job["record"] is not None:
            shutil.rmtree(job["record"], ignore_errors=True)  # one run per round: the last round's is kept
        outcome = call_probe(job, timeout=timeout)
        context.run_probe = outcome
        if job["record"] is not None and Path(job["record"]).is_dir():
            # The project's tests replay what this run recorded (already redacted by headwater.recording).
            shutil.rmtree(project / TESTS_RECORDING, ignore_errors=True)
            shutil.copytree(job["record"], project / TESTS_RECORDING)
        source = "the recording" if replay is not None else "the live API" if options.live else "a local fixture"
        if outcome.get("succeeded") or (outcome.get("capped") and outcome.get("counters", {}).get("checkpoints")):
            counters = outcome.get("counters") or {}
            findings: list[dict[str, Any]] = []
            if outcome.get("capped"):
                findings.append({"kind": "capped", "message": f"the live run stopped at its cap ({outcome['capped']}); "
                                                              "what was checkpointed before it is checked"})
            return GateResult(self.name, "passed",
                              f"synced against {source}: {counters.get('upserts', 0)} upserts, "
                              f"{counters.get('checkpoints', 0)} checkpoints", findings)
        category, reason = classify_run(outcome, trust_credentials=options.trust_credentials)
        finding: dict[str, Any] = {"kind": "sync_failed", "reason": reason, "source": source}
        if outcome.get("timeout") is not None:
            finding["message"] = (f"the sync did not finish within {outcome['timeout']:g}s; look for a loop that never "
                                  "ends, a missing timeout, or a wait that is too long")
        elif outcome.get("crash"):
            finding["message"] = context.clean(str(outcome["crash"]))
        else:
            finding["message"] = context.clean(str(outcome.get("error") or "the sync failed"), 1500)
            finding["log_tail"] = context.clean(str(outcome.get("output") or ""))
        stderr = str(outcome.get("stderr") or "").strip()
        if stderr:
            finding["stderr"] = context.clean(stderr, 1500)
        exchanges = outcome.get("exchanges") or []
        if exchanges:
            finding["http"] = [
                {key: item.get(key) for key in ("method", "url", "status", "error", "carried_credentials")}
                for item in exchanges[-15:]
            ]
        findings = [finding]
        missing = sorted(set(_model_configuration_keys(project)) - set(options.configuration))
        if missing and category == "code":
            if options.mode == "enhance":
                category, reason = "configuration", f"the change needs new configuration keys {missing}"
                findings.append({"kind": "new_configuration_keys", "keys": missing,
                                 "message": f"add {missing} to configuration.json with real values and run again"})
            else:
                findings.append({"kind": "unknown_configuration_keys", "keys": missing,
                                 "message": f"configuration.json declares {missing}, which the configuration does not "
                                            f"have; use only these keys: {sorted(options.configuration)}"})
        return GateResult(self.name, "failed", reason, findings, category)


# --- invariants ---------------------------------------------------------------------------------


def docs_type_hints(docs: str, columns: Iterable[str]) -> dict[str, str]:
    """``column -> "number" | "date"`` for columns the docs describe with a type word right after the name."""
    hints: dict[str, str] = {}
    for column in columns:
        pattern = re.compile(rf"(?<![\w.]){re.escape(column)}(?![\w])([^\n]{{0,48}})", re.IGNORECASE)
        for match in pattern.finditer(docs):
            window = match.group(1)
            if DATE_WORDS.search(window):
                hints[column] = "date"
                break
            if NUMBER_WORDS.search(window):
                hints[column] = "number"
                break
    return hints


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class InvariantsGate:
    """Every requested table has rows; primary keys are unique and not null; numbers and dates are typed."""

    name = "invariants"
    requires: tuple[str, ...] = ("run",)

    def run(self, project: Path, context: GateContext) -> GateResult:
        import duckdb

        warehouse = Path(str((context.run_probe or {}).get("warehouse") or ""))
        if not warehouse.is_file():
            return GateResult(self.name, "failed", "no warehouse was written", [{
                "kind": "no_warehouse", "message": "the sync wrote no warehouse: it declared no table and sent no row",
            }], "code")
        declared = {str(table["table"]): table for table in context.declared_tables()}
        findings: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            for name in context.requested_tables():
                schema_name = str(declared.get(name, {}).get("schema") or "tester")
                findings.extend(self._check_table(con, schema_name, name, declared.get(name), context, counts))
        finally:
            con.close()
        summary = ", ".join(f"{table} {rows}" for table, rows in counts.items()) or "no tables"
        return _result(self.name, findings, f"rows: {summary}", f"{len(findings)} data problem(s); rows: {summary}")

    def _check_table(self, con: Any, schema: str, table: str, declared: Mapping[str, Any] | None,
                     context: GateContext, counts: dict[str, int]) -> list[dict[str, Any]]:
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position", [schema, table]).fetchall()
        if not columns:
            return [{"kind": "missing_table", "table": table,
                     "message": f"the sync did not create table {table!r}; upsert its rows with op.upsert(table="
                                f"{table!r}, ...)"}]
        target = f"{_quote(schema)}.{_quote(table)}"
        names = [str(column) for column, _ in columns]
        live = " WHERE NOT _fivetran_deleted" if "_fivetran_deleted" in names else ""
        rows = int(con.execute(f"SELECT count(*) FROM {target}{live}").fetchone()[0])
        counts[table] = rows
        if rows == 0:
            return [{"kind": "empty_table", "table": table,
                     "message": f"table {table!r} has no rows after the sync; the source has data for it: check the "
                                "endpoint, the table name passed to op.upsert and the pagination"}]
        found: list[dict[str, Any]] = []
        key = [str(column) for column in (declared or {}).get("primary_key") or []]
        key = [column for column in key if column in names]
        if key:
            keys = ", ".join(_quote(column) for column in key)
            nulls = int(con.execute(
                f"SELECT count(*) FROM {target} WHERE " + " OR ".join(f"{_quote(c)} IS NULL" for c in key)
            ).fetchone()[0])
            if nulls:
                found.append({"kind": "null_primary_key", "table": table, "columns": key, "rows": nulls,
                              "message": f"{nulls} row(s) of {table!r} have a null primary key {key}"})
            duplicates = int(con.execute(
                f"SELECT count(*) FROM (SELECT {keys} FROM {target} GROUP BY {keys} HAVING count(*) > 1)"
            ).fetchone()[0])
            if duplicates:
                found.append({"kind": "duplicate_primary_key", "table": table, "columns": key, "keys": duplicates,
                              "message": f"{duplicates} primary key value(s) of {table!r} occur more than once"})
        text_columns = [str(column) for column, kind in columns
                        if str(kind).upper() == "VARCHAR" and str(column) not in SYSTEM_COLUMNS]
        hints = docs_type_hints(context.options.docs_text, text_columns)
        for column in text_columns:
            sample = [str(value) for (value,) in con.execute(
                f"SELECT {_quote(column)} FROM {target} WHERE {_quote(column)} IS NOT NULL LIMIT 50").fetchall()]
            if not sample:
                continue
            hint = hints.get(column)
            if all(ISO_DATE.match(value) for value in sample) and (hint == "date" or DATE_NAME.search(column)):
                found.append({"kind": "date_as_text", "table": table, "column": column, "example": sample[0],
                              "message": f"{table}.{column} holds dates or timestamps but is stored as text; declare "
                                         "it in schema() as UTC_DATETIME (timestamps with a zone), NAIVE_DATETIME or "
                                         "NAIVE_DATE"})
            elif hint == "number" and all(NUMBER.match(value.strip()) for value in sample):
                found.append({"kind": "number_as_text", "table": table, "column": column, "example": sample[0],
                              "message": f"{table}.{column} holds numbers (the docs say so) but is stored as text; "
                                         "declare it in schema() as LONG, DOUBLE or DECIMAL (with precision and "
                                         "scale), or convert the values"})
        return found


# --- incremental --------------------------------------------------------------------------------

#: What the incremental gate calls: (project, recording folder, configuration, timeout) -> (passed, findings).
IncrementalChecker = Callable[[Path, Path, Mapping[str, str], float], tuple[bool, list[dict[str, Any]]]]


def check_in_probe(project: Path, recording: Path, configuration: Mapping[str, str],
                   timeout: float) -> tuple[bool, list[dict[str, Any]]]:
    """:func:`headwater.check.check_connector` in a probe process: every property as a finding.

    FAIL properties block; INCONCLUSIVE and SKIPPED ones are reported without blocking (a recording
    without a second run cannot decide ``second-run``).
    """
    outcome = call_probe({"kind": "check", "project": str(project), "recording": str(recording),
                          "configuration": dict(configuration)}, timeout=timeout)
    if "timeout" in outcome:
        return False, [{"kind": "check_timeout", "message": f"the incremental check took longer than {timeout:g}s"}]
    if "crash" in outcome:
        return False, [{"kind": "check_crash", "message": str(outcome["crash"])}]
    findings = [
        {"kind": "incremental", "property": item.get("name"), "status": item.get("status"),
         "message": f"{item.get('title')}: {item.get('summary')}", "evidence": list(item.get("evidence") or [])[:8],
         "blocking": item.get("status") == "FAIL"}
        for item in outcome.get("properties") or [] if item.get("status") != "PASS"
    ]
    return bool(outcome.get("ok")), findings


def load_incremental_checker() -> IncrementalChecker | str:
    """The incremental checker (headwater.check, run in a probe), or why it is not available."""
    if importlib.util.find_spec("headwater.check") is None or not _recording_available():
        return "headwater.check is not available in this installation"
    return check_in_probe


class IncrementalGate:
    """headwater.check's incremental-correctness check over the recording, when both exist."""

    name = "incremental"
    requires: tuple[str, ...] = ("run",)

    def __init__(self, checker: IncrementalChecker | None = None) -> None:
        self.checker = checker

    def run(self, project: Path, context: GateContext) -> GateResult:
        checker = self.checker if self.checker is not None else load_incremental_checker()
        if isinstance(checker, str):
            return GateResult(self.name, "unavailable", f"not available: {checker}")
        options = context.options
        recording = options.record_dir if options.live and options.record_dir is not None else options.recording_dir
        if recording is None or not recording.exists():
            return GateResult(self.name, "unavailable",
                              "not available: no recording to check (record one with --live --record, or pass "
                              "--recording)")
        passed, findings = checker(project, recording, dict(options.configuration or {}), options.run_timeout)
        for finding in findings:
            if isinstance(finding.get("message"), str):
                finding["message"] = context.clean(finding["message"], 1500)
            finding["evidence"] = [context.clean(str(line), 500) for line in finding.get("evidence") or []]
        blocking = [finding for finding in findings if finding.get("blocking", True)]
        for finding in findings:
            finding.pop("blocking", None)
        if passed and not blocking:
            return GateResult(self.name, "passed", "incremental correctness holds on the recording"
                              + (f" ({len(findings)} property(ies) inconclusive)" if findings else ""), findings)
        return GateResult(self.name, "failed", f"{len(blocking)} incremental property(ies) failed",
                          findings[:MAX_FINDINGS], "code")


# --- tests --------------------------------------------------------------------------------------

TEST_FUNCTION = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)", re.MULTILINE)


def _test_names(files: Mapping[str, str]) -> set[str]:
    names: set[str] = set()
    for path, text in files.items():
        if path.startswith("tests/") and path.endswith(".py"):
            names.update(f"{path}::{name}" for name in TEST_FUNCTION.findall(text))
    return names


class TestsGate:
    """The project's own tests pass, offline (only loopback hosts reachable), within a time limit."""

    __test__ = False  # not a pytest test class, whatever its name
    name = "tests"
    requires: tuple[str, ...] = ("parse_import", "lint", "schema", "run", "invariants")

    def run(self, project: Path, context: GateContext) -> GateResult:
        files = project_files(project)
        if not context.options.run_tests:
            return GateResult(self.name, "unavailable", "not run (--no-tests)")
        findings: list[dict[str, Any]] = []
        if not _test_names(files):
            findings.append({"kind": "no_tests",
                             "message": "the project has no tests: write tests/test_connector.py with pytest tests "
                                        "that run the connector offline (see the task's test instructions)"})
        removed = sorted(_test_names(context.options.original_tests) - _test_names(files))
        if removed:
            findings.append({"kind": "tests_removed", "tests": removed,
                             "message": f"existing tests were removed or renamed: {removed}; keep them (adapt them "
                                        "only where the feature changes what they check)"})
        if findings:
            return GateResult(self.name, "failed", "tests missing", findings, "code")
        with tempfile.TemporaryDirectory(prefix="headwater-tests-") as scratch:
            ini = Path(scratch) / "pytest.ini"
            ini.write_text("[pytest]\n", encoding="utf-8")
            env = {key: value for key, value in os.environ.items()
                   if not key.startswith(("ANTHROPIC_", "FIVETRAN_", "PYTEST_ADDOPTS"))}
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            command = [sys.executable, "-m", "pytest", "-q", "-p", "headwater.ai.netguard", "-p", "no:cacheprovider",
                       "-c", str(ini), "--rootdir", str(project), "tests"]
            try:
                completed = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env,
                                           timeout=context.options.tests_timeout, check=False)
            except subprocess.TimeoutExpired:
                return GateResult(self.name, "failed", "the tests did not finish", [{
                    "kind": "tests_timeout",
                    "message": f"the project's tests took longer than {context.options.tests_timeout:g}s",
                }], "code")
        output = (completed.stdout + completed.stderr).strip()
        last = output.splitlines()[-1] if output else ""
        if completed.returncode == 0:
            return GateResult(self.name, "passed", last or "tests passed")
        return GateResult(self.name, "failed", last or f"pytest exited with {completed.returncode}", [{
            "kind": "tests_failed", "exit_code": completed.returncode,
            "output": context.clean(output, 6000),
        }], "code")


# --- running them -------------------------------------------------------------------------------


def default_gates(*, incremental: IncrementalChecker | None = None) -> list[Gate]:
    """The gates in order: parse_import, lint, schema, run, invariants, incremental, tests."""
    return [ParseImportGate(), LintGate(), SchemaGate(), RunGate(), InvariantsGate(), IncrementalGate(incremental),
            TestsGate()]


def run_gates(gates: Sequence[Gate], project: Path, context: GateContext,
              on_result: Callable[[GateResult], None] | None = None) -> list[GateResult]:
    """Run ``gates`` in order; a gate whose prerequisites did not pass is skipped."""
    results: list[GateResult] = []
    for gate in gates:
        started = time.monotonic()
        unmet = [name for name in gate.requires if name in context.results and not context.results[name].passed]
        if unmet:
            result = GateResult(gate.name, "skipped", f"skipped: {', '.join(unmet)} did not pass")
        else:
            result = gate.run(project, context)
        result.seconds = time.monotonic() - started
        context.results[gate.name] = result
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def redacted_configuration_keys(configuration: Mapping[str, str] | None) -> dict[str, str]:
    """The configuration as the model sees it: key names, every value ``<redacted>``."""
    return dict.fromkeys(configuration or {}, REDACTED)
