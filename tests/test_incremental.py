"""headwater.incremental.Cursor: a per-table cursor in the state that never skips a record.

The property tests simulate a source in plain Python: records ``{"id", "updated_at"}`` whose
``updated_at`` comes from a clock that may stand still (ties), pages of random sizes, new writes
between syncs, and syncs that crash before their last checkpoint. Whatever happens, once a sync
completes the records sent equal the source (nothing lost), and a record version that was
checkpointed is never sent again: the source re-delivers only the ties at the boundary, and
``skip()`` drops them.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.incremental import Boundary, Cursor, CursorError, parse_cursor_value
from headwater.testing import run_connector
from headwater.testing.assertions import (
    assert_no_duplicate_keys,
    assert_row_count,
    assert_state_advanced,
    assert_sync_succeeded,
)

BASE = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


# -- parsing and storage ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", dt.datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T12:00:00Z", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01 07:00:00-0500", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.5Z", dt.datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T12:00:00.123456789Z", dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parse_cursor_value_reads_iso_8601_as_utc_instants(text: str, expected: dt.datetime) -> None:
    assert parse_cursor_value(text) == expected


@given(
    moment=st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2200, 1, 1),
                        timezones=st.just(UTC)),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    separator=st.sampled_from(["T", " "]),
)
def test_iso_text_of_any_offset_parses_to_the_same_instant(
    moment: dt.datetime, offset_minutes: int, separator: str
) -> None:
    local = moment.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))
    text = local.isoformat(sep=separator)
    assert parse_cursor_value(text) == moment
    assert parse_cursor_value(text.replace("+00:00", "Z")) == moment


def test_parse_cursor_value_takes_numbers_and_datetimes() -> None:
    assert parse_cursor_value(17) == 17
    assert parse_cursor_value(1.5) == 1.5
    assert parse_cursor_value(dt.datetime(2024, 5, 1, 12)) == dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_cursor_value(dt.date(2024, 5, 1)) == dt.datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", [True, None, "yesterday", "2024-13-01", "2024-05-01T12:00+24:00", float("nan"), [1], "12345"]
)
def test_parse_cursor_value_rejects_other_values_with_the_fix(value: Any) -> None:
    with pytest.raises(CursorError) as caught:
        parse_cursor_value(value)
    assert repr(value) in str(caught.value) or str(value) in str(caught.value)


def test_commit_before_track_leaves_the_state_untouched() -> None:
    state: dict[str, Any] = {"other": 1}
    cursor = Cursor(state, "orders", field="updated_at", primary_key="id")
    assert cursor.since is None and cursor.commit() is False
    assert state == {"other": 1}


def test_cursor_moves_only_at_commit_and_only_to_tracked_records() -> None:
    state: dict[str, Any] = {}
    cursor = Cursor(state, "orders", field="updated_at", primary_key="id")
    cursor.track({"id": 1, "updated_at": "2024-05-01T10:00:00Z"})
    cursor.track({"id": 2, "updated_at": "2024-05-01T12:00:00Z"})
    cursor.track({"id": 3, "updated_at": "2024-05-01T11:00:00Z"})
    assert state == {}
    assert cursor.commit() is True
    assert state == {"cursors": {"orders": {"value": "2024-05-01T12:00:00Z", "tie_keys": [2]}}}
    assert cursor.since == "2024-05-01T12:00:00Z"
    assert cursor.since_parsed == dt.datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_cursor_never_moves_back() -> None:
    state: dict[str, Any] = {"cursors": {"orders": {"value": 10, "tie_keys": [4]}}}
    cursor = Cursor(state, "orders", field="seq", primary_key="id")
    cursor.track({"id": 9, "seq": 3})
    assert cursor.commit() is False
    assert state["cursors"]["orders"] == {"value": 10, "tie_keys": [4]}


def test_ties_with_the_stored_value_join_the_stored_tie_keys() -> None:
    state: dict[str, Any] = {"cursors": {"orders": {"value": 10, "tie_keys": [4]}}}
    cursor = Cursor(state, "orders", field="seq", primary_key="id")
    cursor.observe([{"id": 5, "seq": 10}, {"id": 4, "seq": 10}])
    assert cursor.commit() is True
    assert state["cursors"]["orders"] == {"value": 10, "tie_keys": [4, 5]}
    assert cursor.tie_keys == {4, 5}


def test_skip_drops_only_known_ties_at_the_inclusive_boundary() -> None:
    state: dict[str, Any] = {"cursors": {"t": {"value": "2024-05-01T12:00:00Z", "tie_keys": [1]}}}
    cursor = Cursor(state, "t", field="at", primary_key="id")
    assert cursor.operator == ">="
    assert cursor.skip({"id": 1, "at": "2024-05-01T14:00:00+02:00"})  # the same instant, written differently
    assert not cursor.skip({"id": 2, "at": "2024-05-01T12:00:00Z"})    # a tie that arrived later
    assert not cursor.skip({"id": 1, "at": "2024-05-01T12:00:01Z"})    # updated since
    assert not cursor.skip({"id": 1, "at": "2024-05-01T11:00:00Z"})    # below: never dropped
    assert not cursor.skip({"id": 1, "at": None})


def test_exclusive_boundary_stores_no_keys_and_skips_nothing() -> None:
    state: dict[str, Any] = {}
    cursor = Cursor(state, "events", field="seq", boundary="exclusive")
    assert cursor.operator == ">"
    cursor.observe([{"seq": 1}, {"seq": 2}, {"seq": 2}])
    cursor.commit()
    assert state == {"cursors": {"events": {"value": 2}}}
    assert not Cursor(state, "events", field="seq", boundary="exclusive").skip({"seq": 2})


def test_inclusive_boundary_needs_a_primary_key() -> None:
    with pytest.raises(CursorError, match="primary_key='id'"):
        Cursor({}, "t", field="at")


def test_start_is_the_position_until_the_first_commit() -> None:
    state: dict[str, Any] = {}
    cursor = Cursor(state, "t", field="at", primary_key="id", start=dt.datetime(2024, 1, 1))
    assert cursor.since == "2024-01-01T00:00:00+00:00"
    assert cursor.value is None
    cursor.track({"id": 1, "at": dt.datetime(2024, 2, 1, tzinfo=UTC)})
    cursor.commit()
    assert cursor.since == "2024-02-01T00:00:00+00:00"
    json.dumps(state)


def test_composite_and_non_json_keys_are_stored_json_safe_and_recognised() -> None:
    state: dict[str, Any] = {}
    cursor = Cursor(state, "lines", field="at", primary_key=["order", "day"])
    record = {"order": 7, "day": dt.date(2024, 5, 1), "at": 5}
    cursor.track(record)
    cursor.commit()
    stored = json.loads(json.dumps(state))
    assert stored == {"cursors": {"lines": {"value": 5, "tie_keys": [[7, "2024-05-01"]]}}}
    assert Cursor(stored, "lines", field="at", primary_key=["order", "day"]).skip(record)


def test_field_may_be_a_function() -> None:
    state: dict[str, Any] = {}
    cursor = Cursor(state, "t", field=lambda r: int(r["seq"]), primary_key="id")
    cursor.track({"id": 1, "seq": "41"})
    cursor.commit()
    assert cursor.value == 41


def test_records_without_a_cursor_value_do_not_move_it() -> None:
    state: dict[str, Any] = {}
    cursor = Cursor(state, "t", field="at", primary_key="id")
    cursor.track({"id": 1, "at": None})
    assert cursor.commit() is False and cursor.tracked == 0


def test_mixing_numbers_and_timestamps_is_an_error() -> None:
    state: dict[str, Any] = {"cursors": {"t": {"value": 5, "tie_keys": []}}}
    cursor = Cursor(state, "t", field="at", primary_key="id")
    with pytest.raises(CursorError, match="is a timestamp but the cursor holds a number"):
        cursor.skip({"id": 1, "at": "2024-05-01"})


def test_missing_fields_name_the_field_and_the_record_fields() -> None:
    cursor = Cursor({}, "t", field="updated_at", primary_key="id")
    with pytest.raises(CursorError, match="no field 'updated_at' .*'id', 'modified'"):
        cursor.track({"id": 1, "modified": 3})
    with pytest.raises(CursorError, match="no primary-key field 'id'"):
        cursor.track({"updated_at": 3})


@pytest.mark.parametrize(
    "state",
    [{"cursors": []}, {"cursors": {"t": 5}}, {"cursors": {"t": {"value": 1, "tie_keys": 3}}}],
)
def test_a_damaged_state_is_reported(state: dict[str, Any]) -> None:
    with pytest.raises(CursorError, match="state\\['cursors'\\]"):
        Cursor(state, "t", field="at", primary_key="id")


# -- the simulated source -------------------------------------------------------------------------

Representation = Callable[[int, int], Any]   # (key, tick) -> the record's updated_at


def as_int(key: int, tick: int) -> Any:
    return tick


def as_iso(key: int, tick: int) -> Any:
    moment = BASE + dt.timedelta(seconds=tick)
    # The same instant written three ways, so ties are compared parsed, not as text.
    form = (key + tick) % 3
    if form == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 1:
        return moment.isoformat()
    return moment.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()


def as_datetime(key: int, tick: int) -> Any:
    moment = BASE + dt.timedelta(seconds=tick)
    return moment.replace(tzinfo=None) if key % 2 else moment


def to_tick(since: Any) -> int:
    """The source's own reading of the cursor it is asked for (independent of the cursor's parser)."""
    if isinstance(since, int):
        return since
    moment = dt.datetime.fromisoformat(str(since).replace("Z", "+00:00"))
    return int((moment - BASE).total_seconds())


@dataclass
class Source:
    """Records by key; ``updated_at`` ticks come from a clock that only moves forward."""

    represent: Representation
    ticks: dict[int, int] = field(default_factory=dict)
    clock: int = 0

    def write(self, key: int, advance: int) -> None:
        self.clock += advance
        self.ticks[key] = self.clock

    def fetch(self, since: Any, operator: str, limit: int | None = None) -> list[dict[str, Any]]:
        low = None if since is None else to_tick(since)
        found = sorted((tick, key) for key, tick in self.ticks.items()
                       if low is None or tick > low or (operator == ">=" and tick == low))
        return [{"id": key, "updated_at": self.represent(key, tick)} for tick, key in found[:limit]]

    def largest_tie_group(self) -> int:
        counts: dict[int, int] = {}
        for tick in self.ticks.values():
            counts[tick] = counts.get(tick, 0) + 1
        return max(counts.values(), default=0)


@dataclass
class Destination:
    """What the connector sent (last version per key) and which versions a checkpoint covered."""

    sent: dict[int, Any] = field(default_factory=dict)
    committed: set[tuple[int, int]] = field(default_factory=set)
    pending: list[tuple[int, int]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    resent: list[tuple[int, int]] = field(default_factory=list)

    def upsert(self, record: dict[str, Any]) -> None:
        version = (record["id"], to_tick(_json_value(record["updated_at"])))
        if version in self.committed:
            self.resent.append(version)
        self.sent[record["id"]] = version[1]
        self.pending.append(version)

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))   # what a state file would keep
        self.committed.update(self.pending)
        self.pending.clear()


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


class Crash(Exception):
    pass


def _split(records: list[dict[str, Any]], sizes: list[int]) -> Iterator[list[dict[str, Any]]]:
    start, index = 0, 0
    while start < len(records):
        size = sizes[index % len(sizes)]
        yield records[start:start + size]
        start, index = start + size, index + 1


def sync_one_query(source: Source, dest: Destination, sizes: list[int], crash_at: int | None,
                   boundary: Boundary = "inclusive") -> None:
    """One fetch per sync, split into pages; checkpoint after each page (a connector's update())."""
    state = copy.deepcopy(dest.state)
    cursor = Cursor(state, "t", field="updated_at", primary_key="id", boundary=boundary)
    stored_tick = None if cursor.value is None else to_tick(cursor.value)
    processed = 0
    for page in _split(source.fetch(cursor.since, cursor.operator), sizes):
        for record in page:
            if crash_at is not None and processed == crash_at:
                raise Crash
            processed += 1
            if cursor.skip(record):
                # Only a boundary tie that a checkpoint already covered is ever dropped.
                version = (record["id"], to_tick(_json_value(record["updated_at"])))
                assert version[1] == stored_tick and version in dest.committed
                continue
            dest.upsert(record)
            cursor.track(record)
        cursor.commit()
        dest.checkpoint(state)


def sync_requery(source: Source, dest: Destination, limit: int, crash_at: int | None) -> None:
    """The cursor as the paginator: every page is a new query ``>= since LIMIT n``."""
    state = copy.deepcopy(dest.state)
    cursor = Cursor(state, "t", field="updated_at", primary_key="id")
    processed = 0
    while True:
        page = source.fetch(cursor.since, cursor.operator, limit)
        stored_tick = None if cursor.value is None else to_tick(cursor.value)
        fresh = 0
        for record in page:
            version = (record["id"], to_tick(_json_value(record["updated_at"])))
            if version in dest.committed:
                # The query re-delivers committed records only at the boundary value.
                assert version[1] == stored_tick
            if crash_at is not None and processed == crash_at:
                raise Crash
            processed += 1
            if cursor.skip(record):
                continue
            fresh += 1
            dest.upsert(record)
            cursor.track(record)
        cursor.commit()
        dest.checkpoint(state)
        if len(page) < limit:
            return
        assert fresh, "a full page of known ties: the query made no progress"


writes = st.lists(st.tuples(st.integers(0, 12), st.sampled_from([0, 0, 1, 2])), max_size=12)
representations = st.sampled_from([as_int, as_iso, as_datetime])


@settings(max_examples=300, deadline=None)
@given(
    represent=representations,
    runs=st.lists(
        st.tuples(writes, st.lists(st.integers(1, 4), min_size=1, max_size=4), st.none() | st.integers(0, 15)),
        min_size=1, max_size=6,
    ),
)
def test_paged_syncs_lose_nothing_and_resend_no_checkpointed_record(
    represent: Representation, runs: list[tuple[list[tuple[int, int]], list[int], int | None]]
) -> None:
    source, dest = Source(represent), Destination()
    for new_writes, sizes, crash_at in runs:
        for key, advance in new_writes:
            source.write(key, advance)
        try:
            sync_one_query(source, dest, sizes, crash_at)
        except Crash:
            dest.pending.clear()   # a failed sync keeps nothing after its last checkpoint
    sync_one_query(source, dest, [3], None)
    assert dest.sent == source.ticks
    assert dest.resent == []


@settings(max_examples=300, deadline=None)
@given(
    represent=representations,
    runs=st.lists(st.tuples(writes, st.none() | st.integers(0, 15)), min_size=1, max_size=6),
    extra=st.integers(1, 3),
)
def test_requerying_from_the_cursor_per_page_loses_nothing_at_page_boundaries(
    represent: Representation, runs: list[tuple[list[tuple[int, int]], int | None]], extra: int
) -> None:
    source, dest = Source(represent), Destination()
    for new_writes, crash_at in runs:
        for key, advance in new_writes:
            source.write(key, advance)
        try:
            sync_requery(source, dest, source.largest_tie_group() + extra, crash_at)
        except Crash:
            dest.pending.clear()
    sync_requery(source, dest, source.largest_tie_group() + extra, None)
    assert dest.sent == source.ticks
    assert dest.resent == []


@settings(max_examples=150, deadline=None)
@given(
    runs=st.lists(
        st.tuples(st.lists(st.tuples(st.integers(0, 12), st.integers(1, 3)), max_size=10),
                  st.lists(st.integers(1, 4), min_size=1, max_size=3)),
        min_size=1, max_size=5,
    ),
)
def test_exclusive_boundary_is_safe_when_values_are_unique(
    runs: list[tuple[list[tuple[int, int]], list[int]]]
) -> None:
    source, dest = Source(as_int), Destination()
    for new_writes, sizes in runs:
        for key, advance in new_writes:
            source.write(key, advance)
        sync_one_query(source, dest, sizes, None, boundary="exclusive")
    assert dest.sent == source.ticks
    assert dest.resent == []


def test_exclusive_boundary_loses_a_tie_that_arrives_after_the_checkpoint() -> None:
    source, dest = Source(as_int), Destination()
    source.write(1, 1)
    sync_one_query(source, dest, [10], None, boundary="exclusive")
    source.write(2, 0)                      # same updated_at as the record already synced
    sync_one_query(source, dest, [10], None, boundary="exclusive")
    assert 2 not in dest.sent               # lost: the documented risk of "exclusive"

    source, dest = Source(as_int), Destination()
    source.write(1, 1)
    sync_one_query(source, dest, [10], None)
    source.write(2, 0)
    sync_one_query(source, dest, [10], None)
    assert dest.sent == source.ticks and dest.resent == []   # inclusive keeps it, sends 1 only once


# -- in a real connector ----------------------------------------------------------------------------

CONNECTOR = '''
    import json

    from fivetran_connector_sdk import Connector, Operations as op, Logging as log

    from headwater.incremental import Cursor


    def schema(configuration):
        return [{"table": "orders", "primary_key": ["id"]}]


    def update(configuration, state):
        records = sorted(json.loads(configuration["records"]), key=lambda r: (r["updated_at"], r["id"]))
        page_size = int(configuration["page_size"])
        cursor = Cursor(state, "orders", field="updated_at", primary_key="id")
        fetched = [r for r in records if cursor.since is None or r["updated_at"] >= cursor.since]
        log.info(f"fetched {len(fetched)} records since {cursor.since}")
        for start in range(0, len(fetched), page_size):
            for record in fetched[start:start + page_size]:
                if cursor.skip(record):
                    continue
                op.upsert("orders", record)
                cursor.track(record)
            cursor.commit()
            op.checkpoint(state)


    connector = Connector(update=update, schema=schema)
'''


def _records(*pairs: tuple[int, str]) -> dict[str, str]:
    rows = [{"id": key, "updated_at": f"2024-05-01T{at}:00Z"} for key, at in pairs]
    return {"records": json.dumps(rows), "page_size": "2"}


def test_connector_with_a_cursor_sends_each_record_once_across_syncs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "connector.py").write_text(textwrap.dedent(CONNECTOR), encoding="utf-8")
    warehouse = tmp_path / "warehouse"

    first = run_connector(project, configuration=_records((1, "10:00"), (2, "11:00"), (3, "11:00")),
                          warehouse_dir=warehouse)
    assert_sync_succeeded(first)
    assert first.state == {"cursors": {"orders": {"value": "2024-05-01T11:00:00Z", "tie_keys": [2, 3]}}}

    # A record with the same updated_at as the cursor arrives late, plus a newer one.
    second = run_connector(
        project,
        configuration=_records((1, "10:00"), (2, "11:00"), (3, "11:00"), (4, "11:00"), (5, "12:00")),
        warehouse_dir=warehouse,
    )
    assert_sync_succeeded(second)
    assert [(o.kind, (o.data or {}).get("id")) for o in second.operations if o.kind == "upsert"] == [
        ("upsert", 4), ("upsert", 5)
    ]
    assert [line.message for line in second.log if line.origin == "connector"] == [
        "fetched 4 records since 2024-05-01T11:00:00Z"
    ]
    assert_row_count(second, "orders", 5)
    assert_no_duplicate_keys(second, "orders")
    assert_state_advanced(first, second, "cursors.orders.value")
