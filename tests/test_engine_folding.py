"""A batch that alternates operation kinds is folded per key (flush._apply_folded).

The fold must leave the warehouse exactly as applying the same operations run by run does
(SEM-20: the result is as if each operation were applied alone, in call order). Hypothesis
generates change logs; each is synced twice, once per path, into fresh targets of the same destination
(every destination of tests/destinations), and the tables are compared.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_helpers import Target
from headwater.operations import Operations as op

pytest_plugins = ["destinations.plugin"]

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


def _sync(target: Target, ops: list[tuple[str, int, dict[str, Any]]], *, keyed: bool, fold_after: int,
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

    run = target.sync(update, schema, fold_after_runs=fold_after)
    assert run.report.exit_code == 0, run.out + run.err
    return run.report


def _contents(target: Target) -> tuple[Any, Any]:
    """Table t's column types and every row without ``_fivetran_synced``, sorted; (None, None) without it."""
    if ("tester", "t") not in target.tables():
        return None, None
    return target.column_types("t"), target.table_rows("t", system=True)


def _compare(target: Target, ops: list[tuple[str, int, dict[str, Any]]], *, keyed: bool, base: bool) -> None:
    runs, folded = target.new("runs"), target.new("folded")
    by_runs = _sync(runs, ops, keyed=keyed, fold_after=NEVER, base=base)
    by_fold = _sync(folded, ops, keyed=keyed, fold_after=ALWAYS, base=base)
    assert _contents(folded) == _contents(runs)
    assert by_fold.counters == by_runs.counters


# A test's own settings replace the profile's health checks as a whole: keep the relaxed ones.
RELAXED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

@settings(max_examples=60, deadline=None, suppress_health_check=RELAXED)
@given(ops=st.lists(operation, min_size=1, max_size=25), base=st.booleans())
def test_folded_change_log_equals_applying_runs_in_order(target: Target, ops: Any, base: bool) -> None:
    _compare(target, ops, keyed=True, base=base)


@settings(max_examples=30, deadline=None, suppress_health_check=RELAXED)
@given(ops=st.lists(keyless_operation, min_size=1, max_size=20), base=st.booleans())
def test_folded_keyless_change_log_equals_applying_runs_in_order(target: Target, ops: Any, base: bool) -> None:
    _compare(target, ops, keyed=False, base=base)


def test_alternating_upserts_and_deletes_are_folded_into_few_statements(target: Target) -> None:
    ops: list[tuple[str, int, dict[str, Any]]] = []
    for i in range(2000):
        ops.append(("upsert", i, {"a": i}))
        ops.append(("update", i, {"b": "x"}))
        if i % 3 == 0:
            ops.append(("delete", i, {}))
    _sync(target, ops, keyed=True, fold_after=4, base=False)
    found = target.rows("t", "_fivetran_deleted, b")
    assert (len(found), sum(1 for d, _ in found if d), sum(1 for _, b in found if b is not None)) == (2000, 667, 2000)
