"""Fuzzing values through real in-process syncs (TYPES-20 to TYPES-41, ERR-OP-4/5/11, ERR-7).

Every value a connector can pass to ``op.upsert`` must either be stored or fail the sync with a
clear error: exit status 1 and a message naming the table and the column — never an internal
error (exit 70). Where a sync succeeds, the same values read back identically whatever the
batching: one table receives them in one batch, another one per checkpoint, and a third one in a
batch big enough for the Arrow paths (the values, then rows of None).

The fuzz writes to DuckDB (the destination that met those values); the regression tests after it
run against every destination of ``tests/destinations``. Each example is one sync (about 0.2 s),
so the example counts are small and the inputs derandomized (the ``headwater`` hypothesis
profile of ``conftest.py``); the module runs in well under a minute. ``FUZZ_EXAMPLES=n`` runs n
examples per fuzz test instead.
"""

from __future__ import annotations

import enum
import math
import os
import time as time_module
import tracemalloc
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_helpers import Target
from headwater import Operations as op

pytest_plugins = ["destinations.plugin"]

UTC = timezone.utc
COLUMN = "val"
BIG_BATCH = 260  # above the minimum batch of the Arrow paths (columnar.ARROW_MIN_ROWS, the destination's)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def examples(default: int) -> int:
    return EXAMPLES or default


# --- declarations -------------------------------------------------------------------------------

DECLARED: list[Any] = [
    "BOOLEAN", "SHORT", "INT", "LONG", {"type": "DECIMAL", "precision": 38, "scale": 2},
    {"type": "DECIMAL", "precision": 5, "scale": 5}, "FLOAT", "DOUBLE", "NAIVE_DATE", "NAIVE_DATETIME",
    "UTC_DATETIME", "BINARY", "XML", "STRING", "JSON",
]
KEY_MODES = ["keyless", "id", "val"]  # no primary key / key "id" / the fuzzed column is the key


def declaration_id(declared: Any) -> str:
    if declared is None:
        return "undeclared"
    if isinstance(declared, dict):
        return f"DECIMAL({declared['precision']},{declared['scale']})"
    return str(declared)


# --- values ---------------------------------------------------------------------------------------


class Shade(enum.IntEnum):
    DARK = 1


class Word(str, enum.Enum):
    HELLO = "hello"


def offsets(limit_minutes: int = 24 * 60 - 1) -> st.SearchStrategy[timezone]:
    plain = st.integers(-limit_minutes, limit_minutes).map(lambda m: timezone(timedelta(minutes=m)))
    odd = st.sampled_from([timezone(timedelta(hours=23, minutes=59, seconds=59, microseconds=999999)),
                           timezone(-timedelta(hours=23, minutes=59, seconds=59, microseconds=999999)),
                           timezone(timedelta(seconds=1)), timezone(timedelta(hours=5, minutes=45))])
    return st.one_of(plain, odd, st.just(UTC))


EDGE_INTS = [0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**38 - 1, 10**38,
             -(10**38), 10**4300, -(10**4301) - 7, 7**6000, 10**100_000 - 1]
EDGE_FLOATS = [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308,
               3.4028234663852886e38, 3.4028235677973366e38, 1e-45, 2.5, 10.4, 1e16]
EDGE_DECIMALS = [Decimal(t) for t in [
    "0.05", "5E-2", "0.050", "-0.00", "0E+5", "0E-40", "105.34", "1.005", "-1.005", "NaN", "-NaN", "sNaN",
    "-sNaN", "NaN123", "Infinity", "-Infinity", "1E+38", "9" * 38, "9" * 39, "0." + "9" * 38, "1E-38",
    "1E+4299", "1E+4300", "1E+30000000", "-1E+100000000", "1E-30000000", "1E-4299", "123456789.123456789",
]]
EDGE_STRINGS = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d\ude00", "\U0001f600", "é", "\ufffd",
                "true", " 42 ", "-0", "1e3", "NaN", "-inf", "105.34", "2007-12-03", "2007-12-03T10:15:30Z",
                "2007-12-03 10:15:30.123456789+05:30", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00",
                '{"a": 1}', "<a/>", "x" * 5000]
EDGE_DATETIMES = [datetime.max, datetime.min, datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC),
                  datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
                  datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
                  datetime.max.replace(tzinfo=timezone(timedelta(hours=5))),
                  datetime.min.replace(tzinfo=timezone(timedelta(hours=-5))),
                  datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))]


def pick(values: list[Any]) -> st.SearchStrategy[Any]:
    """One of ``values``, drawn by index: hypothesis never reprs the list (an int of 5,000 digits has no repr)."""
    def nth(index: int) -> Any:
        return values[index]

    return st.integers(0, len(values) - 1).map(nth)


surrogate_text = st.text(st.characters(codec=None, categories=["Cs", "Lu", "Ll", "Nd", "Zs", "Cc", "So"]),
                         max_size=12)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         surrogate_text, st.sampled_from([2**70, -(10**40)]))
json_structures = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(surrogate_text, children, max_size=3),
                               st.tuples(children, children)),
    max_leaves=8,
)
not_json = pick([{"nan": math.nan}, [datetime(2024, 1, 1)], {"d": Decimal("1.5")}, [b"x"], [{1, 2}],
                 {(1, 2): "tuple key"}, [10**5000]])
ints = st.one_of(st.integers(), st.integers(-(2**200), 2**200), pick(EDGE_INTS))
floats = st.one_of(st.floats(), st.floats(width=32), st.sampled_from(EDGE_FLOATS))
decimals = st.one_of(st.decimals(allow_nan=True, allow_infinity=True), st.decimals(places=2, max_value=10**6,
                                                                                   min_value=-(10**6)),
                     st.sampled_from(EDGE_DECIMALS))
strings = st.one_of(surrogate_text, st.text(max_size=20), st.sampled_from(EDGE_STRINGS))
raw_bytes = st.one_of(st.binary(max_size=16), st.binary(max_size=4).map(bytearray),
                      st.binary(max_size=4).map(memoryview))
datetimes = st.one_of(st.datetimes(), st.datetimes(timezones=offsets()), st.sampled_from(EDGE_DATETIMES))
times = st.one_of(st.times(), st.times(timezones=offsets()))
EDGE_OTHERS: list[Any] = [
    None, True, False, b"", b"\x00\xff", bytearray(b"ab"), memoryview(b"cd"), date.min, date.max, time.max,
    time(12, 30, tzinfo=timezone(timedelta(hours=14))), uuid.UUID(int=0), {}, [], (), {"é": [1, 2.5, None, True]},
    [[[[[]]]]], {"\ud800": "\udfff"}, {"n": 10**5000}, Shade.DARK, Word.HELLO,
]
EDGE_GROUPS = [EDGE_INTS, EDGE_FLOATS, EDGE_DECIMALS, EDGE_STRINGS, EDGE_DATETIMES, EDGE_OTHERS]
generic_value = st.one_of(
    st.none(), st.booleans(), ints, floats, decimals, strings, raw_bytes, st.dates(), datetimes, times,
    st.uuids(), json_structures, not_json,
)
# Half edge values, each group as likely as the others: random draws alone rarely meet
# datetime.max at -05:00 or Decimal('sNaN').
any_value = st.one_of(st.one_of([pick(group) for group in EDGE_GROUPS]), generic_value)
ONE_KIND = {  # plain Python types the Arrow path takes as they are
    "str": st.one_of(surrogate_text, st.sampled_from(EDGE_STRINGS)),
    "int": ints,
    "float": floats,
    "bool": st.booleans(),
}


# --- one sync: the same values batched, one per checkpoint, and (one kind) through Arrow ------------


class Outcome(NamedTuple):
    code: int
    error: str | None
    output: str
    tables: dict[str, tuple[list[tuple[str, str]], list[tuple[str, ...]]]]  # table -> (column types, rows)


def comparable(row: tuple[Any, ...]) -> tuple[str, ...]:
    """A row as texts, which compare NaN equal to NaN and -0.0 unequal to 0.0."""
    return tuple(repr(v) for v in row)


def run_values(target: Target, declared: Any, key_mode: str, values: list[Any]) -> Outcome:
    """One sync: ``values`` upserted into table 'batched' in one batch, then into 'stepwise' with a
    checkpoint after each, then (unless the values are the key) into 'padded' in one batch of
    BIG_BATCH rows, the values first and then rows whose value is None: a batch big enough for the
    Arrow paths of the engine and of the destination."""
    padded = key_mode != "val"
    tables = ["batched", "stepwise"] + (["padded"] if padded else [])
    keys = {"keyless": [], "id": ["id"], "val": [COLUMN]}[key_mode]

    def schema(configuration: dict[str, Any]) -> list[dict[str, Any]]:
        entries = []
        for table in tables:
            entry: dict[str, Any] = {"table": table}
            if keys:
                entry["primary_key"] = keys
            if declared is not None:
                entry["columns"] = {COLUMN: declared}
            entries.append(entry)
        return entries

    def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
        for i, value in enumerate(values):
            op.upsert("batched", {"id": i, COLUMN: value})
        op.checkpoint({"stage": "batched"})
        for i, value in enumerate(values):
            op.upsert("stepwise", {"id": i, COLUMN: value})
            op.checkpoint({"stage": "stepwise", "i": i})
        if padded:
            for i in range(BIG_BATCH):
                op.upsert("padded", {"id": i, COLUMN: values[i] if i < len(values) else None})
            op.checkpoint({"stage": "padded"})

    needs_schema = declared is not None or bool(keys)
    run = target.sync(update, schema=schema if needs_schema else None)
    read = read_tables(target, tables, len(values)) if run.succeeded else {}
    return Outcome(run.report.exit_code, run.error, run.out + run.err, read)


def read_tables(target: Target, tables: list[str], n: int
                ) -> dict[str, tuple[list[tuple[str, str]], list[tuple[str, ...]]]]:
    """Per table: its columns and types, and its rows (system columns but ``_fivetran_synced`` included),
    columns by name (a table created from its declaration orders them differently), rows sorted;
    'padded' without its padding rows. DuckDB is read in one connection (the backend opens one per query)."""
    read = {}
    con = duckdb.connect(str(target.path), read_only=True) if target.path is not None else None
    try:
        if con is not None:
            con.execute("SET TimeZone = 'UTC'")
        for table in tables:
            if con is not None:
                types = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                                    "table_schema = 'tester' AND table_name = ?", [table]).fetchall()
            else:
                types = target.column_types(table)
            types = sorted((name, kind) for name, kind in types if name != "_fivetran_synced")
            names = [name for name, _ in types]
            if con is not None:
                select = ", ".join('"' + name.replace('"', '""') + '"' for name in names)
                rows = con.execute(f'SELECT {select} FROM tester."{table}"').fetchall()
            else:
                rows = target.rows(table, names)
            if table == "padded":
                at = names.index("id")
                rows = [row for row in rows if row[at] < n]
            read[table] = (types, sorted(comparable(row) for row in rows))
    finally:
        if con is not None:
            con.close()
    return read


def check_outcome(outcome: Outcome) -> None:
    """The contract: exit 0 or a clear exit 1, and identical rows whatever the batching."""
    assert outcome.code in (0, 1), f"exit {outcome.code}: {outcome.error}\n{outcome.output[-3000:]}"
    if outcome.code == 1:
        error = outcome.error or ""
        # The first table to receive a value is 'batched': a value is refused at its first call.
        assert "'batched'" in error and f"'{COLUMN}'" in error, error
        return
    stepwise = outcome.tables["stepwise"]
    assert outcome.tables["batched"] == stepwise
    if "padded" in outcome.tables:
        assert outcome.tables["padded"] == stepwise


# --- the fuzz -------------------------------------------------------------------------------------

def duckdb_target(tmp_path_factory: pytest.TempPathFactory, label: str) -> Target:
    return Target("duckdb", tmp_path_factory.mktemp(label))


@settings(max_examples=examples(100))
@given(declared=st.sampled_from([None] * 10 + DECLARED), key_mode=st.sampled_from(KEY_MODES),
       values=st.lists(any_value, min_size=1, max_size=4))
def test_fuzz_any_values_in_any_column(tmp_path_factory: pytest.TempPathFactory, declared: Any, key_mode: str,
                                       values: list[Any]) -> None:
    check_outcome(run_values(duckdb_target(tmp_path_factory, "fuzz"), declared, key_mode, values))


@settings(max_examples=examples(40))
@given(declared=st.sampled_from([None, None, "STRING", "LONG", "DOUBLE", "BOOLEAN", "XML", "JSON"]),
       kind=st.sampled_from(sorted(ONE_KIND)), data=st.data())
def test_fuzz_one_plain_kind_in_a_big_batch(tmp_path_factory: pytest.TempPathFactory, declared: Any, kind: str,
                                            data: st.DataObject) -> None:
    """Values of one plain Python type: the big batch takes the engine's Arrow path."""
    values = data.draw(st.lists(ONE_KIND[kind], min_size=1, max_size=3), label="values")
    check_outcome(run_values(duckdb_target(tmp_path_factory, "big"), declared, "id", values))


# --- the values the first fuzz of 733 syncs found (87 internal errors) ------------------------------

FOUND = {
    "int of 5001 digits": 10**5000,
    "int of 100001 digits": -(10**100_000),
    "lone high surrogate": "\ud800",
    "lone low surrogate in text": "ab\udc00cd",
    "surrogate in JSON": {"k\ud800": ["\udfff"]},
    "datetime.max at -05:00": datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
    "datetime.min at +05:00": datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
    "sNaN": Decimal("sNaN"),
    "-sNaN": Decimal("-sNaN"),
    "NaN with payload": Decimal("NaN123"),
    "1E+30000000": Decimal("1E+30000000"),
    "1E-30000000": Decimal("1E-30000000"),
    "0.05": Decimal("0.05"),
}
FOUND_DECLARED = [None, "STRING", "JSON", "DOUBLE"]  # the fuzz meets them in every declared type


@pytest.mark.parametrize("declared", FOUND_DECLARED, ids=declaration_id)
@pytest.mark.parametrize("name", sorted(FOUND))
def test_found_values_never_end_in_an_internal_error(tmp_path: Path, name: str, declared: Any) -> None:
    value = FOUND[name]
    started = time_module.perf_counter()
    outcome = run_values(Target("duckdb", tmp_path), declared, "id", [value, value] if name == "0.05" else [value])
    check_outcome(outcome)
    assert time_module.perf_counter() - started < 10


def test_an_int_beyond_pythons_str_limit_is_stored_as_its_digits(target: Target) -> None:
    outcome = run_values(target, None, "id", [10**5000, 1])
    assert outcome.code == 0, outcome.error
    assert target.type_of(COLUMN, "batched") == "STRING"
    assert target.values("batched", COLUMN, order_by="id") == ["1" + "0" * 5000, "1"]


@pytest.mark.parametrize("declared", [None, "STRING", "XML", "JSON"], ids=declaration_id)
def test_lone_surrogates_are_stored_as_replacement_characters_with_a_warning(target: Target, declared: Any) -> None:
    value = {"k": "a\ud800"} if declared == "JSON" else "a\ud800b\udfff"
    outcome = run_values(target, declared, "val", [value, "plain"])
    assert outcome.code == 0, outcome.error
    expected = '{"k": "a\ufffd"}' if declared == "JSON" else "a\ufffdb\ufffd"
    stored = {row[0] for row in target.rows("stepwise", [COLUMN])}
    assert stored == {expected, '"plain"' if declared == "JSON" else "plain"}  # JSON holds a str as a JSON string
    assert "U+FFFD" in outcome.output and "surrogate" in outcome.output


def test_a_keyless_table_hashes_a_lone_surrogate_like_the_text_it_stores(target: Target) -> None:
    outcome = run_values(target, None, "keyless", ["\ud800"])
    assert outcome.code == 0, outcome.error
    again = target.new()
    assert run_values(again, None, "keyless", ["\ufffd"]).code == 0
    assert target.rows("batched", "_fivetran_id") == again.rows("batched", "_fivetran_id")


@pytest.mark.parametrize("name", ["datetime.max at -05:00", "datetime.min at +05:00"])
def test_an_aware_datetime_outside_the_range_in_utc_names_table_column_and_value(target: Target, name: str) -> None:
    outcome = run_values(target, None, "id", [FOUND[name]])
    assert outcome.code == 1
    error = outcome.error or ""
    assert "'batched'" in error and f"'{COLUMN}'" in error and "outside the datetime range" in error
    assert f"datetime.datetime({FOUND[name].year}," in error


def test_every_decimal_nan_is_stored_as_a_double_nan(target: Target) -> None:
    outcome = run_values(target, None, "id", [Decimal("sNaN"), Decimal("-sNaN"), Decimal("NaN123"), 1.5])
    assert outcome.code == 0, outcome.error
    assert target.type_of(COLUMN, "batched") == "DOUBLE"
    stored = target.values("batched", COLUMN, order_by="id")
    assert all(math.isnan(v) for v in stored[:3]) and stored[3] == 1.5


def test_a_decimal_with_a_huge_exponent_is_refused_in_bounded_memory(target: Target) -> None:
    tracemalloc.start()
    try:
        outcome = run_values(target, None, "id", [Decimal("1E+30000000")])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.code == 1
    assert "'batched'" in (outcome.error or "") and "4300 digits" in (outcome.error or "")
    assert peak < 20_000_000, peak


def test_decimal_0_05_reads_back_the_same_in_a_batch_and_one_per_checkpoint(target: Target) -> None:
    outcome = run_values(target, None, "id", [Decimal("0.05"), Decimal("0.05"), Decimal("1.25")])
    check_outcome(outcome)
    assert target.values("batched", COLUMN, order_by="id") == [Decimal("0.05"), Decimal("0.05"), Decimal("1.25")]
    assert target.values("stepwise", COLUMN, order_by="id") == [Decimal("0.05"), Decimal("0.05"), Decimal("1.25")]


def test_the_hypothesis_profile_tolerates_a_busy_machine() -> None:
    current = settings()
    assert current.deadline is None
    assert HealthCheck.too_slow in current.suppress_health_check
    assert HealthCheck.data_too_large in current.suppress_health_check
