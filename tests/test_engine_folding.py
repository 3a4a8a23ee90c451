"""A batch that alternates operation kinds is folded per key (flush._apply_folded).

The fold must leave the warehouse exactly as applying the same operations run by run does
(SEM-20: the result is as if each operation were applied alone, in call order). Hypothesis
generates change logs; each is synced twice, once per path, and the tables are compared.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.connector import Connector
from headwater.operations import Operations as op
from headwater.runner import DebugRequest, run_debug

NEVER, ALWAYS = 10**9, 0

values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["x", "y"]), st.sampled_from([0.5, 2.5]))
columns = st.dictionaries(st.sampled_from(["a", "b", "c"]), values, max_size=3)
key = st.integers(1, 4)
operation = st.one_of(
    st.tuples(st.just("upsert"), key, columns),
    st.tuples(st.just("update"), key, columns),
    st.tuples(st.just("delete"), key, st.just({})),
    st.tuples(st.just("truncate"), st.just(0), st.just({})),
    st.tuples(st.just("checkpoint"), st.just(0), st.just({})),
)
keyless_operation = st.one_of(
    st.tuples(st.just("upsert"), key, columns),
    st.tuples(st.just("delete"), key, columns),
)


def _sync(project: Path, ops: list[tuple[str, int, dict[str, Any]]], *, keyed: bool, fold_after: int,
          base: bool) -> Any:
    def schema(configuration: dict[str, str]) -> list[dict[str, Any]]:
        return [{"table": "t", "primary_key": ["id"]}] if keyed else []

    def update(configuration: dict[str, str], state: dict[str, Any]) -> None:
        if base:
            for k in (1, 2):
                op.upsert("t", {"id": k, "a": 0} if keyed else {"id": k, "a": 0})
            op.checkpoint({"base": True})
        for kind, k, data in ops:
            row = {"id": k, **data}
            if kind == "upsert":
                op.upsert("t", row)
            elif kind == "update":
                op.update("t", row)
            elif kind == "delete":
                op.delete("t", row if not keyed else {"id": k})
            elif kind == "truncate":
                op.truncate("t")
            else:
                op.checkpoint({"at": k})

    out, err = io.StringIO(), io.StringIO()
    report = run_debug(DebugRequest(project=project, connector=Connector(update=update, schema=schema),
                                    fold_after_runs=fold_after, environ={}), out=out, err=err)
    assert report.exit_code == 0, out.getvalue() + err.getvalue()
    return report


def _contents(project: Path) -> tuple[Any, Any]:
    db = project / "files" / "warehouse.db"
    if not db.exists():
        return None, None
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 't'").fetchone()
        if not found or not found[0]:
            return None, None
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'tester' AND table_name = 't' ORDER BY ordinal_position"
        ).fetchall()
        names = [c for c, _ in columns if c != "_fivetran_synced"]
        rows = con.execute(f"SELECT {', '.join(names)} FROM tester.t ORDER BY ALL").fetchall()
        return columns, rows
    finally:
        con.close()


def _compare(tmp_path: Path, ops: list[tuple[str, int, dict[str, Any]]], *, keyed: bool, base: bool) -> None:
    stamp = str(time.monotonic_ns())
    runs, folded = tmp_path / f"runs-{stamp}", tmp_path / f"folded-{stamp}"
    runs.mkdir()
    folded.mkdir()
    by_runs = _sync(runs, ops, keyed=keyed, fold_after=NEVER, base=base)
    by_fold = _sync(folded, ops, keyed=keyed, fold_after=ALWAYS, base=base)
    assert _contents(folded) == _contents(runs)
    assert by_fold.counters == by_runs.counters


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=25), base=st.booleans())
def test_folded_change_log_equals_applying_runs_in_order(tmp_path: Path, ops: Any, base: bool) -> None:
    _compare(tmp_path, ops, keyed=True, base=base)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(keyless_operation, min_size=1, max_size=20), base=st.booleans())
def test_folded_keyless_change_log_equals_applying_runs_in_order(tmp_path: Path, ops: Any, base: bool) -> None:
    _compare(tmp_path, ops, keyed=False, base=base)


def test_alternating_upserts_and_deletes_are_folded_into_few_statements(tmp_path: Path) -> None:
    ops: list[tuple[str, int, dict[str, Any]]] = []
    for i in range(2000):
        ops.append(("upsert", i, {"a": i}))
        ops.append(("update", i, {"b": "x"}))
        if i % 3 == 0:
            ops.append(("delete", i, {}))
    _sync(tmp_path, ops, keyed=True, fold_after=4, base=False)
    con = duckdb.connect(str(tmp_path / "files" / "warehouse.db"), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(*) FILTER (WHERE _fivetran_deleted), count(b) FROM tester.t"
                           ).fetchone() == (2000, 667, 2000)
    finally:
        con.close()
