"""Run generated code in a separate process, so a hang, a crash or an ``exit()`` cannot take headwater
down, and a timeout can stop it.

The gates call :func:`call_probe` with a job; ``python -m headwater.ai.probe`` reads the job (JSON)
from stdin, does it and writes the outcome (JSON) to the file the job names (stdout belongs to the
connector). Two kinds of job:

``import``
    import connector.py the way ``headwater debug`` does, check the Connector, call ``schema()`` and
    parse what it returns.
``check``
    :func:`headwater.check.check_connector` over a recording (incremental correctness).
``run``
    one sync with :func:`headwater.testing.run_connector`, under an
    :class:`~headwater.ai.netguard.HttpObserver` (inside ``headwater.recording``'s ``replaying()`` or
    ``recording()`` when the job asks for them).

The configuration reaches the child on stdin, never on its command line or in its environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["PROBE_TIMEOUT_EXIT", "call_probe", "main"]

PROBE_TIMEOUT_EXIT = -9
OUTPUT_TAIL_LINES = 60


def _tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


def _project_traceback(exc: BaseException, project: Path) -> str:
    """The traceback frames inside the project, innermost last."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.startswith(str(project))]
    if not frames:
        return ""
    return "".join(traceback.format_list(frames[-8:]))


def _import_job(job: Mapping[str, Any]) -> dict[str, Any]:
    from headwater.errors import HeadwaterError, SchemaDeclarationError
    from headwater.loader import check_connector, describe_exception, load_connector
    from headwater.naming import Naming
    from headwater.schema import parse_schema

    project = Path(job["project"]).resolve()
    outcome: dict[str, Any] = {"import": {"ok": False}, "schema": {"ok": False, "ran": False}}
    try:
        _module, connector = load_connector(project)
        check_connector(connector)
    except HeadwaterError as exc:
        cause = exc.__cause__
        outcome["import"] = {
            "ok": False, "error": exc.message,
            "traceback": _project_traceback(cause, project) if cause is not None else "",
        }
        return outcome
    outcome["import"] = {"ok": True}
    if connector.schema is None:
        outcome["schema"] = {"ok": False, "ran": False, "missing": True}
        return outcome
    try:
        declared = connector.schema(dict(job.get("configuration") or {}))
    except Exception as exc:  # noqa: BLE001 - any failure in user code is a finding
        outcome["schema"] = {"ok": False, "ran": True, "error": describe_exception(exc, project),
                             "traceback": _project_traceback(exc, project)}
        return outcome
    try:
        specs = parse_schema(declared, Naming())
    except SchemaDeclarationError as exc:
        outcome["schema"] = {"ok": False, "ran": True, "error": exc.message}
        return outcome
    outcome["schema"] = {
        "ok": True, "ran": True,
        "tables": [
            {"schema": spec.schema, "table": spec.table, "primary_key": list(spec.primary_key),
             "columns": {name: str(data_type) for name, data_type in spec.columns.items()}}
            for spec in specs
        ],
    }
    return outcome


@contextlib.contextmanager
def _recording_context(job: Mapping[str, Any], secrets: Mapping[str, str]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if job.get("replay") or job.get("record"):
            from headwater.recording import recording, replaying

            if job.get("replay"):
                stack.enter_context(replaying(Path(job["replay"]), secrets=secrets))
            if job.get("record"):
                stack.enter_context(recording(Path(job["record"]), secrets=secrets))
        yield


def _run_job(job: Mapping[str, Any]) -> dict[str, Any]:
    from headwater.ai.netguard import HttpObserver, credential_values
    from headwater.ai.redaction import Redactor
    from headwater.testing import run_connector

    configuration = {str(k): str(v) for k, v in dict(job.get("configuration") or {}).items()}
    redactor = Redactor.from_configuration(configuration)
    observer = HttpObserver(
        allow_any_host=bool(job.get("allow_any_host")),
        max_requests=job.get("max_requests"),
        max_seconds=job.get("max_seconds"),
        redactor=redactor,
        credentials=Redactor(credential_values(configuration)),
    )
    with _recording_context(job, configuration), observer:
        result = run_connector(job["project"], configuration=configuration, warehouse_dir=job["warehouse_dir"])
    counters = result.counters
    return {
        "exit_code": result.exit_code,
        "succeeded": result.succeeded,
        "error": result.error,
        "errors": _tail(result.errors, 20),
        "output": _tail(result.output),
        "counters": dataclasses.asdict(counters) if dataclasses.is_dataclass(counters)
        and not isinstance(counters, type) else {},
        "state": result.state,
        "warehouse": str(result.warehouse),
        "exchanges": [exchange.to_dict() for exchange in observer.exchanges],
        "blocked": sorted(set(observer.blocked)),
        "capped": observer.capped,
    }


def _check_job(job: Mapping[str, Any]) -> dict[str, Any]:
    from headwater.check import check_connector

    report = check_connector(job["project"], job["recording"], configuration=dict(job.get("configuration") or {}))
    return {
        "ok": report.ok, "exchanges": report.exchanges, "recorded_runs": report.recorded_runs, "notes": report.notes,
        "properties": [dataclasses.asdict(result) for result in report.properties],
    }


JOBS = {"import": _import_job, "run": _run_job, "check": _check_job}


def main() -> int:
    """Entry point of ``python -m headwater.ai.probe``: job on stdin, outcome to the job's file."""
    job = json.loads(sys.stdin.read())
    result_path = Path(job["result"])
    try:
        outcome = JOBS[job["kind"]](job)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a crash of the probe
        outcome = {"crash": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
    result_path.write_text(json.dumps(outcome, default=str), encoding="utf-8")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: connector threads must not keep the probe alive


def call_probe(job: Mapping[str, Any], *, timeout: float, cwd: Path | None = None) -> dict[str, Any]:
    """Run one probe job in a child process; ``{"timeout": seconds}`` when it did not finish in time.

    ``stdout``/``stderr`` of the child (the connector's prints, a crash) come back under ``"stdout"``
    and ``"stderr"``.
    """
    with tempfile.TemporaryDirectory(prefix="headwater-probe-") as scratch:
        result_path = Path(scratch) / "result.json"
        payload = json.dumps({**job, "result": str(result_path)})
        env = {key: value for key, value in os.environ.items() if not key.startswith(("ANTHROPIC_", "FIVETRAN_"))}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "headwater.ai.probe"], input=payload, capture_output=True, text=True,
                timeout=timeout, cwd=str(cwd or scratch), env=env, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return {"timeout": timeout, "stdout": _tail(_text(exc.stdout)), "stderr": _tail(_text(exc.stderr))}
        outcome: dict[str, Any]
        if result_path.is_file():
            outcome = json.loads(result_path.read_text(encoding="utf-8"))
        else:
            outcome = {"crash": f"the probe process ended with status {completed.returncode} without a result"}
        outcome["stdout"] = _tail(completed.stdout)
        outcome["stderr"] = _tail(completed.stderr)
        return outcome


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


if __name__ == "__main__":
    sys.exit(main())
