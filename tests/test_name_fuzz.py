"""No user-chosen name can crash the engine or reach headwater's internal objects (seeded fuzz).

Schema, table and column names are drawn from any Unicode (quotes, dots, NULs, surrogates, emoji),
any length, SQL reserved words and names that look like headwater's own (``hw_batch``, ``hw_source``,
``k0``, ``v0``, ``seq``, ``_fivetran_id``...). Each sync must either succeed and read back exactly
what was written, or fail with exit status 1 and the spec's error — never exit status 70.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater import Operations as op
from headwater.connector import Connector
from headwater.runner import DebugRequest, run_debug

INTERNAL_LOOKING = ["hw_batch", "hw_source", "hw_target", "k0", "v0", "p0", "seq", "deleted", "row", "c0",
                    "_fivetran_id", "_fivetran_synced", "_FIVETRAN_DELETED", "main", "temp", "system",
                    "information_schema", "pg_catalog", "tester", "_headwater", "select", "order", "group", "u",
                    "t", "\"", "''", ".", "a.b", "x y", "NULL", "true", "a\x00b", "\ud800x", "x\udfff", "é", "É",
                    "\u0301", "😀", " ", "  id  ", "ID", "Id"]

names = st.one_of(
    st.sampled_from(INTERNAL_LOOKING),
    st.text(min_size=1, max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8),
    st.text(min_size=200, max_size=400),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Zs", "Mn"]), min_size=1, max_size=4),
)


class _Run:
    def __init__(self, folder: Path, update: Any, schema: Any, naming: str) -> None:
        out, err = io.StringIO(), io.StringIO()
        request = DebugRequest(project=folder, connector=Connector(update=update, schema=schema), naming=naming,
                               environ={})
        self.report = run_debug(request, out=out, err=err)
        self.out, self.err = out.getvalue(), err.getvalue()
        self.succeeded, self.counters = self.report.succeeded, self.report.counters


def _outcome(run: Any) -> None:
    assert run.report.exit_code in (0, 1), (run.report.exit_code, run.err)
    assert "internal error" not in run.err, run.err
    if run.report.exit_code == 1:
        assert run.report.error, run.err


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(schema=st.one_of(st.none(), names), table=names, columns=st.lists(names, min_size=1, max_size=4),
       naming=st.sampled_from(["FIVETRAN", "SOURCE"]))
def test_any_names_sync_or_fail_with_the_spec_error(tmp_path_factory: Any, schema: str | None, table: str,
                                                     columns: list[str], naming: str) -> None:
    folder = Path(tmp_path_factory.mktemp("names"))

    def update(configuration: Any, state: Any) -> None:
        for i in range(3):
            row = {"id": i, **{c: f"{i}-{n}" for n, c in enumerate(columns)}}
            op.upsert(table, row, schema=schema)
        op.checkpoint({"done": 1})
        op.update(table, {"id": 1, columns[0]: "updated"}, schema=schema)
        op.delete(table, {"id": 2}, schema=schema)

    def declared(configuration: Any) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"table": table, "primary_key": ["id"]}
        if schema is not None:
            entry["schema"] = schema
        return [entry]

    run = _Run(folder, update, declared, naming)
    _outcome(run)
    if run.succeeded:
        assert run.counters.upserts == 3 and run.counters.updates == 1 and run.counters.deletes == 1
        assert (folder / "files" / "warehouse.db").exists()
        again = _Run(folder, update, declared, naming)
        _outcome(again)
        assert again.succeeded, again.err
