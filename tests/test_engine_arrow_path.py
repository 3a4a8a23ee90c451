"""Big batches of uniform rows are typed with Arrow (headwater.engine.columnar), and end exactly as the
general path would have them: same column types, same rows, same counters.

Each workload runs twice into fresh targets of the same destination (every destination of
tests/destinations), once as the engine runs it and once with the Arrow path turned off, and the two
destinations' tables are compared whole. Each test also says whether the Arrow
path must have taken (or declined) at least one batch, so that a test cannot pass by never reaching it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from engine_helpers import Target
from headwater import Operations as op
from headwater.engine import columnar

pytest_plugins = ["destinations.plugin"]

N = 3000  # rows per batch: above columnar.ARROW_MIN_ROWS


def keyed(*tables: str, key: tuple[str, ...] = ("id",), columns: dict[str, str] | None = None) -> Any:
    def schema(configuration: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for table in tables:
            entry: dict[str, Any] = {"table": table, "primary_key": list(key)}
            if columns:
                entry["columns"] = columns
            out.append(entry)
        return out

    return schema


class Both(NamedTuple):
    """What :func:`run_both` found: per batch, whether the Arrow path typed it (True) or declined it
    (False); the counters; the target the Arrow path wrote into."""

    outcomes: list[bool]
    counters: Any
    arrow: Target


def run_both(target: Target, monkeypatch: pytest.MonkeyPatch, update: Callable[..., Any],
             schema: Any = None, tables: tuple[str, ...] = ("t",)) -> Both:
    """Run ``update`` with and without the Arrow path, each into a fresh target of ``target``'s
    destination; assert equal outcomes."""
    outcomes: list[bool] = []
    original = columnar.typed_upserts

    def watched(t: Any, segments: Any) -> Any:
        result = original(t, segments)
        if sum(len(seg.rows) for seg in segments) >= columnar.ARROW_MIN_ROWS:
            outcomes.append(result is not None)
        return result

    monkeypatch.setattr(columnar, "typed_upserts", watched)
    arrow, lists = target.new("arrow"), target.new("lists")
    first = arrow.sync(update, schema=schema)
    monkeypatch.setattr(columnar, "typed_upserts", lambda t, segments: None)
    second = lists.sync(update, schema=schema)
    assert first.succeeded, first.err
    assert second.succeeded, second.err
    for table in tables:
        assert arrow.column_types(table) == lists.column_types(table)
        assert arrow.table_rows(table, system=True) == lists.table_rows(table, system=True)
    assert first.counters == second.counters
    return Both(outcomes, first.counters, arrow)


def test_uniform_batch_with_nulls_is_typed_by_arrow_like_the_general_path(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "name": f"n{i}", "score": i / 3, "flag": i % 2 == 0,
                            "maybe": None if i % 5 else i, "never": None})
        op.checkpoint({"done": 1})

    outcomes, _, arrow = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [True]
    types = dict(arrow.column_types("t"))
    assert (types["id"], types["name"], types["score"], types["flag"], types["maybe"]) == (
        "INT", "STRING", "DOUBLE", "BOOLEAN", "INT")
    assert "never" not in types  # only None in the batch: no column (TYPES-24)


def test_int_column_that_outgrows_int32_within_a_batch_is_created_int_then_widened(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "big": i if i < N - 1 else 2**40, "small": i % 100})
        op.checkpoint({"done": 1})

    outcomes, counters, arrow = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [True]
    types = dict(arrow.column_types("t"))
    assert (types["big"], types["small"]) == ("LONG", "INT")
    assert counters.schema_changes == 2  # created (big: INT, from its first value), then INT -> LONG


def test_first_value_of_a_new_int_column_decides_its_starting_type_even_after_nulls(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "late": None if i < 10 else (2**40 if i == 10 else i)})
        op.checkpoint({"done": 1})

    outcomes, counters, arrow = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [True]
    assert dict(arrow.column_types("t"))["late"] == "LONG"
    # The table is created by row 0 without the column (None there), which is added by row 10 as
    # LONG, its first value's type: no widening after that.
    assert counters.schema_changes == 2


def test_stored_int_column_receiving_long_values_is_widened_by_the_general_path(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "v": i})
        op.checkpoint({"batch": 1})
        for i in range(N):
            op.upsert("t", {"id": N + i, "v": 2**33 + i})
        op.checkpoint({"batch": 2})
        for i in range(N):
            op.upsert("t", {"id": 2 * N + i, "v": i})  # INT-range values into the LONG column
        op.checkpoint({"batch": 3})

    outcomes, counters, arrow = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [True, False, True]
    assert dict(arrow.column_types("t"))["v"] == "LONG"
    assert counters.schema_changes == 2


def test_ints_beyond_64_bits_are_left_to_the_general_path(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "huge": 10**20 + i})
        op.checkpoint({"done": 1})

    outcomes, _, _ = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [False]


def test_repeated_keys_in_an_arrow_batch_keep_the_last_row(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i % 1000, "seen": i})
        op.checkpoint({"done": 1})

    outcomes, _, arrow = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [True]
    seen = arrow.values("t", "seen")
    assert (len(seen), min(seen), max(seen)) == (1000, 2000, 2999)


def test_repeated_composite_keys_in_an_arrow_batch_keep_the_last_row(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"a": i % 10, "b": f"k{i % 150}", "seen": i})
        op.checkpoint({"done": 1})

    outcomes, _, arrow = run_both(target, monkeypatch, update, keyed("t", key=("a", "b")))
    assert outcomes == [True]
    assert len(arrow.rows("t")) == 150


def test_keyless_arrow_batch_stores_identical_rows_once(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"n": i % 700, "label": f"x{i % 700}"})
        op.checkpoint({"done": 1})

    outcomes, _, arrow = run_both(target, monkeypatch, update)
    assert outcomes == [True]
    ids = arrow.values("t", "_fivetran_id")
    assert (len(ids), len(set(ids))) == (700, 700)


def test_text_keys_replace_rows_of_earlier_batches_in_and_out_of_their_range(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": f"m{i:05d}", "v": i})
        op.checkpoint({"batch": 1})
        for i in range(N):
            op.upsert("t", {"id": f"z{i:05d}", "v": i})  # disjoint range: nothing replaced
        op.checkpoint({"batch": 2})
        for i in range(0, 2 * N, 2):
            op.upsert("t", {"id": f"m{i:05d}", "v": -i - 1})  # overlaps batch 1
        op.checkpoint({"batch": 3})

    outcomes, _, arrow = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [True, True, True]
    v = arrow.values("t", "v")
    assert (len(v), sum(1 for x in v if x < 0)) == (N + N + N // 2, N)


def test_columns_mixing_python_types_are_left_to_the_general_path(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "v": i if i % 2 else f"s{i}"})
        op.checkpoint({"batch": 1})
        for i in range(N):
            op.upsert("t", {"id": N + i, "v": f"only text {i}"})  # but the signature saw ints before
        op.checkpoint({"batch": 2})

    outcomes, _, _ = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [False, False]


def test_converted_and_declared_values_are_left_to_the_general_path(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    def update(configuration: Any, state: Any) -> None:
        start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        for i in range(N):
            op.upsert("t", {"id": i, "at": start + dt.timedelta(seconds=i), "n": i})
        op.checkpoint({"batch": 1})
        for i in range(N):
            op.upsert("d", {"id": i, "n": i, "s": f"s{i}"})
        op.checkpoint({"batch": 2})

    outcomes, _, _ = run_both(target, monkeypatch, update, keyed("t", "d", columns={"n": "LONG"}), tables=("t", "d"))
    assert outcomes == [False, False]


def test_declared_text_column_with_text_values_is_typed_by_arrow(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "s": f"s{i}", "x": i * 0.5})
        op.checkpoint({"done": 1})

    outcomes, _, _ = run_both(target, monkeypatch, update, keyed("t", columns={"s": "STRING", "x": "DOUBLE"}))
    assert outcomes == [True]


def test_rows_of_several_shapes_in_one_batch_are_left_to_the_general_path(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "a": i} if i % 100 else {"id": i, "b": f"b{i}"})
        op.checkpoint({"done": 1})

    outcomes, _, _ = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [False]


def test_special_floats_and_unicode_text_survive_the_arrow_path(
        target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    specials = [float("inf"), float("-inf"), -0.0, 1e308, 5e-324]

    def update(configuration: Any, state: Any) -> None:
        for i in range(N):
            op.upsert("t", {"id": i, "f": specials[i % len(specials)], "s": "Grüße 🌊 " * (i % 3), "b": i % 7 == 0})
        op.checkpoint({"done": 1})

    outcomes, _, _ = run_both(target, monkeypatch, update, keyed("t"))
    assert outcomes == [True]
