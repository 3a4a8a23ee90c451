"""Crash consistency of schema changes (SEM-50 to SEM-55, TYPES-25 to TYPES-30).

A sync killed with SIGKILL after a commit that changed a table's schema (a widened column, a new
column) leaves DuckDB's write-ahead log (``warehouse.db.wal``) holding that commit. Whatever opens the
warehouse next replays the log first: that must work offline, in any DuckDB (a shell, a notebook,
headwater itself), in any time zone, and give exactly the committed values. Reported bug: a widening
to STRING logged as ``ALTER ... USING isnan(...)`` / ``to_base64(...)`` needed the extension
core_functions during the replay, and DuckDB tried to download it.

Every check opens the warehouse in a separate process that cannot reach any extension repository
(a local, empty one; the machine is offline anyway), with an empty extension directory and the time
zone America/New_York, read-only, so that the files stay exactly as the kill left them for the
headwater run that follows.

The randomized test kills a sync at random moments (seeded, bounded) while its connector widens
several columns across checkpoints, then checks after each kill that the warehouse opens offline,
holds exactly the data of one commit point k, that the saved state is that of checkpoint k (or k-1,
killed between the warehouse commit and the state file replacement, SEM-55; never ahead), and that a
rerun resumes to the full expected result without duplicates.
"""

from __future__ import annotations

import base64
import datetime
import os
import pickle
import random
import shutil
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

UTC = datetime.timezone.utc
ELSEWHERE = "America/New_York"  # the machine's time zone for every process here: not UTC

# Opens warehouses read-only, offline, each in a new DuckDB instance, and pickles what they hold (or
# the error): once (path, output file) from the command line, or for each "path<TAB>output" line of stdin.
OPENER = r"""
import pickle, sys
import duckdb

extensions = sys.argv[1]
config = {"extension_directory": extensions, "custom_extension_repository": extensions + "/no-repository"}


def open_one(path, out):
    result = {}
    try:
        con = duckdb.connect(path, read_only=True, config=config)
    except duckdb.Error as exc:
        result["error"] = str(exc)
    else:
        con.execute("SET TimeZone = 'UTC'")
        result["columns"] = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'tester' AND table_name = 't' "
            "ORDER BY column_index").fetchall()
        if result["columns"]:
            result["rows"] = con.execute(
                "SELECT * EXCLUDE (_fivetran_synced, _fivetran_deleted) FROM tester.t ORDER BY id").fetchall()
            result["deleted"] = con.execute("SELECT count(*) FROM tester.t WHERE _fivetran_deleted").fetchone()[0]
        con.close()
    with open(out, "wb") as f:
        pickle.dump(result, f)


if len(sys.argv) > 2:
    open_one(sys.argv[2], sys.argv[3])
else:
    for line in sys.stdin:
        open_one(*line.rstrip("\n").split("\t"))
        print("opened", flush=True)
"""


def _load(out: Path) -> dict[str, Any]:
    with out.open("rb") as f:
        opened: dict[str, Any] = pickle.load(f)
    out.unlink()
    return opened


def open_offline(hw: Any, db: Path, scratch: Path) -> dict[str, Any]:
    """What a plain DuckDB in a new process, offline and in another time zone, finds in the warehouse."""
    scratch.mkdir(parents=True, exist_ok=True)
    out = scratch / "opened.pickle"
    result = hw.run_command([hw.PYTHON, "-c", OPENER, scratch / "extensions", db, out],
                            env={"TZ": ELSEWHERE, "HOME": str(scratch)}, timeout=60)
    assert result.code == 0, result.err
    return _load(out)


class Opener:
    """open_offline for many warehouses: one process (offline, same time zone) that opens each one in a
    new DuckDB instance, so that a check costs no Python and DuckDB start-up."""

    def __init__(self, hw: Any, scratch: Path) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        self.out = scratch / "opened.pickle"
        self.process = subprocess.Popen(
            [str(hw.PYTHON), "-c", OPENER, str(scratch / "extensions")], text=True, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=hw.clean_environment({"TZ": ELSEWHERE, "HOME": str(scratch)}))

    def open(self, db: Path) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{db}\t{self.out}\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "opened\n", f"the opener died ({self.process.poll()})"
        return _load(self.out)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


def describe(result: Any) -> str:
    return f"exit status {result.code}\n--- stdout\n{result.out[-3000:]}\n--- stderr\n{result.err[-3000:]}"


def canonical(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows comparable with ==: NaN equals NaN."""
    return [tuple("<NaN>" if isinstance(v, float) and v != v else v for v in row) for row in rows]


def start_sync(hw: Any, project: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([hw.HEADWATER, "debug"], cwd=project, env=hw.clean_environment({"TZ": ELSEWHERE, **env}),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the sync; False if it had already ended."""
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return process.returncode == -signal.SIGKILL


# -- 1. the deterministic reproduction ------------------------------------------------------------------

# case: (values stored first, the row that then changes the schema, column types after it, rows after it)
CASES_SOURCE = '''
UTC = datetime.timezone.utc
CASES = {
    "double_to_string": (
        [1.5, float("nan"), float("inf"), float("-inf"), 1e16, 0.1], {"v": "text"}, [("v", "VARCHAR")],
        [("1.5",), ("NaN",), ("Infinity",), ("-Infinity",), ("1e+16",), ("0.1",), ("text",)]),
    "binary_to_string": (
        [b"\\x00\\x01\\x02\\x03", b"hi\\xff", b""], {"v": "text"}, [("v", "VARCHAR")],
        [("AAECAw==",), ("aGn/",), ("",), ("text",)]),
    "boolean_to_string": ([True, False], {"v": "text"}, [("v", "VARCHAR")], [("true",), ("false",), ("text",)]),
    "utc_datetime_to_string": (
        [datetime.datetime(2007, 12, 3, 10, 15, 30, 123000, tzinfo=UTC),
         datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))],
        {"v": "text"}, [("v", "VARCHAR")],
        [("2007-12-03T10:15:30.123000Z",), ("2019-12-31T22:00:00Z",), ("text",)]),
    "decimal_to_string": (
        [Decimal("0.05"), Decimal("-12.50")], {"v": "text"}, [("v", "VARCHAR")], [("0.05",), ("-12.50",), ("text",)]),
    "int_to_double": ([1, -3], {"v": 2.5}, [("v", "DOUBLE")], [(1.0,), (-3.0,), (2.5,)]),
    "date_to_utc_datetime": (
        [datetime.date(2020, 1, 1)], {"v": datetime.datetime(2021, 6, 1, 12, tzinfo=UTC)},
        [("v", "TIMESTAMP WITH TIME ZONE")],
        [(datetime.datetime(2020, 1, 1, tzinfo=UTC),), (datetime.datetime(2021, 6, 1, 12, tzinfo=UTC),)]),
    "new_column": ([1, 2], {"v": 3, "w": "new"}, [("v", "INTEGER"), ("w", "VARCHAR")],
                   [(1, None), (2, None), (3, "new")]),
}
'''

WIDENING_CONNECTOR = '''
import datetime
import os
import pathlib
import time
from decimal import Decimal

from fivetran_connector_sdk import Connector, Operations as op
''' + CASES_SOURCE + '''

def schema(configuration):
    return [{"table": "t", "primary_key": ["id"]}]


def update(configuration, state):
    first, second = CASES[os.environ["HW_CASE"]][:2]
    if state.get("step", 0) < 1:
        for i, value in enumerate(first):
            op.upsert("t", {"id": i, "v": value})
        op.checkpoint({"step": 1})
    if state.get("step", 0) < 2:
        op.upsert("t", {"id": 100, **second})   # widens v (or adds w) in the interval of checkpoint 2
        op.checkpoint({"step": 2})
    ready = os.environ.get("HW_READY")
    if ready:
        pathlib.Path(ready).write_text("checkpoint 2 is committed", encoding="utf-8")
        time.sleep(120)


connector = Connector(update=update, schema=schema)
'''


def _cases() -> dict[str, Any]:
    namespace: dict[str, Any] = {"datetime": datetime, "Decimal": Decimal}
    exec(CASES_SOURCE, namespace)  # noqa: S102 - the same table the connector runs
    cases: dict[str, Any] = namespace["CASES"]
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", list(CASES))
def test_killed_right_after_a_schema_change_commit_opens_offline_with_the_committed_data(
    make_project: Callable[..., Path], hw: Any, tmp_path: Path, case: str
) -> None:
    first, _, columns, values = CASES[case]
    expected = [(i, *row) for i, row in zip([*range(len(first)), 100], values)]
    project = make_project(WIDENING_CONNECTOR)
    files = project / "files"
    ready = tmp_path / "ready"
    with start_sync(hw, project, {"HW_CASE": case, "HW_READY": str(ready)}) as process:
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                assert process.poll() is None, f"the sync ended (status {process.returncode}) before checkpoint 2"
                assert time.monotonic() < deadline, "no checkpoint 2 within 60 s"
                time.sleep(0.005)
        finally:
            killed = kill(process)
    assert killed, "the sync ended before the kill"

    assert hw.read_state(project) == {"step": 2}
    # The reproduction's premise: the schema change is in the write-ahead log, not yet in the file.
    assert (files / "warehouse.db.wal").exists()
    opened = open_offline(hw, files / "warehouse.db", tmp_path / "open1")
    assert "error" not in opened, opened["error"]
    assert [c for c in opened["columns"] if not c[0].startswith("_fivetran")] == [("id", "INTEGER"), *columns]
    assert canonical(opened["rows"]) == canonical(expected)
    assert opened["deleted"] == 0

    # headwater itself opens the killed warehouse (replaying the log), resumes, and leaves no log.
    result = hw.run_cli("debug", cwd=project, env={"HW_CASE": case, "TZ": ELSEWHERE}, timeout=120)
    assert result.code == 0, describe(result)
    assert hw.read_state(project) == {"step": 2}
    assert not (files / "warehouse.db.wal").exists()
    again = open_offline(hw, files / "warehouse.db", tmp_path / "open2")
    assert "error" not in again, again["error"]
    assert canonical(again["rows"]) == canonical(expected)


# -- 2. warehouses whose log an older headwater wrote, and logs that cannot be replayed ------------------

OLD_LOG = r"""
import os, sys
import duckdb

path, using = sys.argv[1:3]
con = duckdb.connect(path)
con.execute("SET TimeZone = 'UTC'")
con.execute("CREATE SCHEMA tester")
con.execute("CREATE TABLE tester.t (id INTEGER, v DOUBLE, _fivetran_synced TIMESTAMP WITH TIME ZONE, "
            "_fivetran_deleted BOOLEAN)")
con.execute('''COMMENT ON TABLE tester.t IS '{"headwater": {"primary_key": ["id"]}}' ''')
con.execute("INSERT INTO tester.t VALUES (0, 1.5, now(), false), (1, 'nan', now(), false)")
con.execute("CHECKPOINT")
con.execute("CREATE TEMP MACRO hw_gone(x) AS CAST(x AS VARCHAR)")  # gone with the process
con.execute(f"ALTER TABLE tester.t ALTER COLUMN v SET DATA TYPE VARCHAR USING {using}")
os._exit(0)  # killed: the ALTER stays in the write-ahead log
"""

RESUMING_CONNECTOR = """
from fivetran_connector_sdk import Connector, Operations as op


def schema(configuration):
    return [{"table": "t", "primary_key": ["id"]}]


def update(configuration, state):
    op.upsert("t", {"id": 2, "v": "two"})
    op.checkpoint({"done": True})


connector = Connector(update=update, schema=schema)
"""


def test_a_log_written_by_the_old_widening_is_replayed_offline_by_headwater_and_checkpointed(
    make_project: Callable[..., Path], hw: Any, tmp_path: Path
) -> None:
    """The exact log of the report (``USING CASE WHEN isnan(...)``): headwater opens it offline and writes
    it into the file, after which any DuckDB opens the warehouse."""
    project = make_project(RESUMING_CONNECTOR)
    db = project / "files" / "warehouse.db"
    db.parent.mkdir()
    using = ("CASE WHEN isnan(v) THEN 'NaN' WHEN v = 'inf'::DOUBLE THEN 'Infinity' "
             "WHEN v = '-inf'::DOUBLE THEN '-Infinity' ELSE CAST(v AS VARCHAR) END")
    made = hw.run_command([hw.PYTHON, "-c", OLD_LOG, db, using])
    assert made.code == 0, made.err
    assert "core_functions" in open_offline(hw, db, tmp_path / "before").get("error", "")  # the reported failure

    result = hw.run_cli("debug", cwd=project, env={"TZ": ELSEWHERE}, timeout=120)
    assert result.code == 0, describe(result)
    opened = open_offline(hw, db, tmp_path / "after")
    assert "error" not in opened, opened["error"]
    assert opened["rows"] == [(0, "1.5"), (1, "NaN"), (2, "two")]


def test_a_log_that_cannot_be_replayed_is_kept_and_the_error_says_how_to_recover_without_deleting(
    make_project: Callable[..., Path], hw: Any, tmp_path: Path
) -> None:
    """A log needing a function no DuckDB has any more (a temporary macro of the killed process): the
    warehouse and its log stay as they are, the message names the log and recovers without reset."""
    project = make_project(RESUMING_CONNECTOR)
    db = project / "files" / "warehouse.db"
    wal = project / "files" / "warehouse.db.wal"
    db.parent.mkdir()
    made = hw.run_command([hw.PYTHON, "-c", OLD_LOG, db, "hw_gone(v)"])
    assert made.code == 0, made.err
    before = hw.snapshot(project)

    result = hw.run_cli("debug", cwd=project, timeout=120)
    assert result.code == 1, describe(result)
    assert hw.snapshot(project) == before  # nothing deleted, nothing written
    errors = result.error_lines()
    assert len(errors) == 1, result.err
    message = errors[0]
    assert "cannot open warehouse" in message  # ERR-WH-1
    assert str(wal) in message and "Nothing was deleted" in message
    assert f"move {wal.name}" in message and "--full-resync" in message
    assert "Do not use `headwater reset`" in message, message

    # Following the advice: the log moved aside, the warehouse opens as of its last checkpoint to disk.
    wal.rename(tmp_path / "warehouse.db.wal.kept")
    result = hw.run_cli("debug", "--full-resync", cwd=project, timeout=120)
    assert result.code == 0, describe(result)
    assert hw.query(db, "SELECT id, v FROM tester.t ORDER BY id") == [(0, "1.5"), (1, "NaN"), (2, "two")]


def test_when_the_replay_wants_to_download_an_extension_the_message_offers_the_network_first(
    hw: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported failure, through the destination, with DuckDB configured as before the fix
    (autoinstall, here from a repository that does not exist): ERR-WH-1 names the log, keeps it, offers
    a run with network access, and does not advise reset."""
    from headwater.destinations import duckdb as destination
    from headwater.errors import WarehouseError

    db = tmp_path / "files" / "warehouse.db"
    db.parent.mkdir()
    made = hw.run_command([hw.PYTHON, "-c", OLD_LOG, db, "CASE WHEN isnan(v) THEN 'NaN' ELSE CAST(v AS VARCHAR) END"])
    assert made.code == 0, made.err
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    connect = destination.duckdb.connect

    def as_before_the_fix(path: str, config: dict[str, Any]) -> Any:
        return connect(path, config={**config, "autoinstall_known_extensions": True,
                                     "extension_directory": str(tmp_path / "extensions"),
                                     "custom_extension_repository": str(tmp_path / "no-repository")})

    monkeypatch.setattr(destination.duckdb, "connect", as_before_the_fix)
    with pytest.raises(WarehouseError) as raised:
        destination.DuckDBDestination(db).open()
    message = str(raised.value)
    assert message.startswith(f"cannot open warehouse {db}: DuckDB could not replay its write-ahead log {db}.wal")
    assert "core_functions" in message and "network access" in message and "Nothing was deleted" in message
    assert "move warehouse.db.wal" in message and "--full-resync" in message
    assert "Do not use `headwater reset`" in message
    assert {p.name: p.read_bytes() for p in db.parent.iterdir()} == before


# -- 3. random kills while columns widen across checkpoints ----------------------------------------------

STEPS = 12
ROWS = 40
# Shared by the connector and the test's model of every commit point. Each column's type from a step
# on: None (no such column yet), or the DuckDB type it has then; "VARCHAR" steps send strings.
MODEL_SOURCE = f"STEPS = {STEPS}\nROWS = {ROWS}\n" + '''
UTC = datetime.timezone.utc
REGIMES = {
    "a": [(0, "DOUBLE"), (2, "VARCHAR")],                                    # DOUBLE -> STRING
    "b": [(0, "BLOB"), (3, "VARCHAR")],                                      # BINARY -> STRING
    "c": [(0, "BOOLEAN"), (5, "VARCHAR")],                                   # BOOLEAN -> STRING
    "d": [(0, "TIMESTAMP WITH TIME ZONE"), (6, "VARCHAR")],                  # UTC_DATETIME -> STRING
    "e": [(0, "DECIMAL(4,2)"), (7, "VARCHAR")],                              # DECIMAL -> STRING
    "f": [(0, "INTEGER"), (1, "DOUBLE"), (9, "VARCHAR")],                    # INT -> DOUBLE -> STRING
    "g": [(0, "DATE"), (4, "TIMESTAMP WITH TIME ZONE"), (8, "VARCHAR")],     # DATE -> UTC_DATETIME -> STRING
    "h": [(3, "INTEGER")],                                                   # a column added at step 3
}


def column_type(column, step):
    found = None
    for start, name in REGIMES[column]:
        if start <= step:
            found = name
    return found


def value(column, step, key):
    kind = column_type(column, step)
    if kind == "VARCHAR":
        return f"{column}{key}s{step}"
    if kind == "DOUBLE":
        if column == "f":
            return key + 0.5
        return [float("nan"), float("inf"), float("-inf")][key % 7] if key % 7 < 3 else key + 0.25
    if kind == "BLOB":
        return bytes([key % 256, 7, 0, 255])
    if kind == "BOOLEAN":
        return key % 2 == 0
    if kind == "TIMESTAMP WITH TIME ZONE":
        if column == "g":
            return datetime.datetime(2021, 1, 1, tzinfo=UTC) + datetime.timedelta(hours=key)
        return datetime.datetime(2020, 1, 1, tzinfo=UTC) + datetime.timedelta(seconds=3601 * key,
                                                                           microseconds=250000 * (key % 3))
    if kind == "DECIMAL(4,2)":
        return Decimal(f"{10 + key % 90}.{key % 100:02d}")
    if kind == "INTEGER":
        return 3 * key if column == "f" else key
    if kind == "DATE":
        return datetime.date(2020, 1, 1) + datetime.timedelta(days=key)
    return None


def rows_of_step(step):
    """The rows written in a step: ROWS new keys, and the first 5 keys of the step before again."""
    keys = list(range(step * ROWS, (step + 1) * ROWS))
    if step:
        keys += list(range((step - 1) * ROWS, (step - 1) * ROWS + 5))
    rows = []
    for key in keys:
        row = {"id": key, "step": step}
        for column in REGIMES:
            if column_type(column, step) is not None:
                row[column] = value(column, step, key)
        rows.append(row)
    return rows
'''

RANDOM_CONNECTOR = '''
import datetime
import os
import time
from decimal import Decimal

from fivetran_connector_sdk import Connector, Logging as log, Operations as op
''' + MODEL_SOURCE + '''
PAUSE = float(os.environ.get("HW_PAUSE", "0"))


def schema(configuration):
    return [{"table": "t", "primary_key": ["id"]}]


def update(configuration, state):
    start = state.get("step", 0)
    log.info(f"RESUMING FROM STEP {start}")
    for step in range(start, STEPS):
        for row in rows_of_step(step):
            op.upsert("t", row)
        op.checkpoint({"step": step + 1})
        time.sleep(PAUSE)


connector = Connector(update=update, schema=schema)
'''


def _model() -> dict[str, Any]:
    namespace: dict[str, Any] = {"datetime": datetime, "Decimal": Decimal}
    exec(MODEL_SOURCE, namespace)  # noqa: S102 - the same code the connector runs
    return namespace


MODEL = _model()
COLUMNS = ["step", "a", "b", "c", "d", "e", "f", "g", "h"]  # table order (SEM-41: h was added later)


def text_form(v: Any, kind: str) -> str:
    """TYPES-30, written independently of headwater."""
    if kind == "DOUBLE":
        return "NaN" if v != v else "Infinity" if v == float("inf") else "-Infinity" if v == float("-inf") else repr(v)
    if kind == "BLOB":
        return base64.b64encode(v).decode("ascii")
    if kind == "BOOLEAN":
        return "true" if v else "false"
    if kind == "TIMESTAMP WITH TIME ZONE":
        return str(v.astimezone(UTC).replace(tzinfo=None).isoformat()) + "Z"
    if kind == "DECIMAL(4,2)":
        return format(v, "f")
    return str(v)


def convert(v: Any, source: str, target: str) -> Any:
    """TYPES-27, for the widenings of the model."""
    if target == "VARCHAR":
        return text_form(v, source)
    if (source, target) == ("INTEGER", "DOUBLE"):
        return float(v)
    if (source, target) == ("DATE", "TIMESTAMP WITH TIME ZONE"):
        return datetime.datetime(v.year, v.month, v.day, tzinfo=UTC)
    raise AssertionError((source, target))


def expected_at(k: int) -> dict[str, Any]:
    """What the warehouse holds at commit point k (k checkpoints committed)."""
    if k == 0:
        return {"columns": []}
    last = k - 1
    written: dict[int, int] = {}
    for step in range(k):
        for row in MODEL["rows_of_step"](step):
            written[row["id"]] = step
    rows = []
    for key in sorted(written):
        step = written[key]
        row: list[Any] = [key, step]
        for column in COLUMNS[1:]:
            if MODEL["column_type"](column, step) is None:
                row.append(None)
                continue
            v = MODEL["value"](column, step, key)
            kinds = [name for start, name in MODEL["REGIMES"][column] if start <= last]
            at = kinds.index(MODEL["column_type"](column, step))
            for source, target in zip(kinds[at:], kinds[at + 1:]):
                v = convert(v, source, target)
            row.append(v)
        rows.append(tuple(row))
    present = [c for c in COLUMNS if c == "step" or MODEL["column_type"](c, last) is not None]
    kinds = {"step": "INTEGER", **{c: MODEL["column_type"](c, last) for c in COLUMNS[1:]}}
    columns = [("id", "INTEGER"), *((c, kinds[c]) for c in present if c != "h"),
               ("_fivetran_synced", "TIMESTAMP WITH TIME ZONE"), ("_fivetran_deleted", "BOOLEAN")]
    if "h" in present:
        columns.append(("h", "INTEGER"))
    if "h" not in present:
        rows = [row[:-1] for row in rows]
    return {"columns": columns, "rows": canonical(rows), "deleted": 0}


def observed(opened: dict[str, Any]) -> dict[str, Any]:
    if not opened["columns"]:
        return {"columns": []}
    return {"columns": opened["columns"], "rows": canonical(opened["rows"]), "deleted": opened["deleted"]}


SEED = int(os.environ.get("CRASH_CONSISTENCY_SEED", "20261208"))
KILLS = 24
BUDGET = 70.0  # seconds for the kills: on a busy machine the test stops early (it needs 12) rather than run longer


def test_random_kills_while_columns_widen_leave_a_commit_point_that_opens_offline_and_resumes(
    make_project: Callable[..., Path], hw: Any, tmp_path: Path
) -> None:
    expected = {k: expected_at(k) for k in range(STEPS + 1)}
    assert len({repr(e) for e in expected.values()}) == STEPS + 1  # every commit point is recognisable
    rng = random.Random(SEED)
    template = make_project(RANDOM_CONNECTOR)
    pause = "0.02"

    opener = Opener(hw, tmp_path / "opener")
    try:
        trials, violations = _kill_at_random(hw, template, opener, expected, rng, pause)
    finally:
        opener.close()
    killed = [t for t in trials if "resumed" in t]
    report = "\n".join([f"seed {SEED}: {len(killed) + len(violations)} kills, {len(violations)} violations, "
                         f"{len(trials) - len(killed)} runs ended before their kill", *trials, *violations])
    print(textwrap.indent(report, "  "))
    assert not violations, report
    assert len(killed) >= 12, report
    assert len({t.split("committed ")[1].split(",")[0] for t in killed}) >= 4, report  # kills spread over the sync


def _kill_at_random(hw: Any, template: Path, opener: Opener, expected: dict[int, dict[str, Any]],
                    rng: random.Random, pause: str) -> tuple[list[str], list[str]]:
    # An uninterrupted run first: the model's final state, and how long a sync takes.
    began = time.monotonic()
    result = hw.run_cli("debug", cwd=template, env={"HW_PAUSE": pause, "TZ": ELSEWHERE}, timeout=120)
    duration = time.monotonic() - began
    assert result.code == 0, describe(result)
    assert observed(opener.open(template / "files" / "warehouse.db")) == expected[STEPS]
    shutil.rmtree(template / "files")

    trials: list[str] = []
    violations: list[str] = []
    started = time.monotonic()
    for trial in range(KILLS):
        if time.monotonic() - started > BUDGET:
            break
        project = template.parent / f"trial{trial}"
        shutil.copytree(template, project)
        state_file = project / "files" / "state.json"
        target = rng.randrange(STEPS)           # kill after this many checkpoints were saved...
        extra = rng.uniform(0, 0.06)            # ...plus this long (a step takes about 20-40 ms)
        with start_sync(hw, project, {"HW_PAUSE": pause}) as process:
            try:
                deadline = time.monotonic() + min(60, 3 * duration + 10)
                if target == 0:
                    time.sleep(rng.uniform(0, duration / 2))
                else:
                    while (hw.read_state(project) or {}).get("step", 0) < target and process.poll() is None:
                        if time.monotonic() > deadline:
                            break
                        time.sleep(0.002)
                    time.sleep(extra)
                wal = (project / "files" / "warehouse.db.wal").exists()
            finally:
                killed = kill(process)
        if not killed:
            trials.append(f"trial {trial}: the sync ended before the kill (status {process.returncode})")
            continue
        wal = wal or (project / "files" / "warehouse.db.wal").exists()
        try:
            saved = int(hw.read_state(project)["step"]) if state_file.exists() else 0
        except (ValueError, KeyError, TypeError) as exc:
            violations.append(f"trial {trial}: unreadable state file ({exc!r})")
            continue
        label = f"trial {trial} (target {target}, +{extra * 1000:.0f} ms, log {'present' if wal else 'absent'})"
        db = project / "files" / "warehouse.db"
        if db.exists():
            opened = opener.open(db)
            if "error" in opened:
                violations.append(f"{label}: the warehouse does not open offline: {opened['error'][:300]}")
                continue
            found = observed(opened)
        else:
            found = {"columns": []}
        k = next((k for k, e in expected.items() if e == found), None)
        if k is None:
            violations.append(f"{label}: the warehouse is at no commit point: {found['columns']}")
            continue
        if saved not in (k, k - 1):
            violations.append(f"{label}: the saved state says {saved} checkpoints, the warehouse holds {k}")
            continue
        rerun = hw.run_cli("debug", cwd=project, env={"TZ": ELSEWHERE}, timeout=120)
        if rerun.code != 0 or f"[connector] RESUMING FROM STEP {saved}\n" not in rerun.out:
            violations.append(f"{label}: the rerun failed: {describe(rerun)[-1500:]}")
            continue
        final = observed(opener.open(db))
        if final != expected[STEPS] or hw.read_state(project) != {"step": STEPS}:
            violations.append(f"{label}: the rerun did not reach the full result without duplicates")
            continue
        trials.append(f"{label}: committed {k}, saved {saved}, resumed")
        shutil.rmtree(project)
    return trials, violations
