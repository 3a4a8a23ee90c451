"""Shared projects and results for the headwater.testing tests.

- ``shop_project``: a connector with a keyed table (``users``: upserts, an update, a delete, two
  rows sharing an email, a NULL name), a composite-key table (``lines``), a keyless table
  (``events``), a multi-line warning and one checkpoint ``{"runs": n, "cursor": ...}``.
- ``shop_result``: one sync of it (session-scoped; tests only read it).
- ``handmade_result``: a SyncResult over a warehouse written directly with DuckDB, holding what
  a sync cannot produce: duplicated and NULL primary keys.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from headwater.testing import SyncResult, run_connector

SHOP = '''
    from fivetran_connector_sdk import Connector, Operations as op, Logging as log


    def schema(configuration):
        return [
            {"table": "users", "primary_key": ["id"]},
            {"table": "lines", "primary_key": ["order_id", "line"]},
        ]


    def update(configuration, state):
        runs = state.get("runs", 0)
        log.info("syncing users")
        log.warning("first line\\nsecond line")
        for i in range(1, 6):
            email = "dup@example.com" if i >= 4 else f"user{i}@example.com"
            op.upsert("users", {"id": i, "email": email, "name": None if i == 3 else f"user {i}"})
        op.update("users", {"id": 2, "name": "renamed"})
        op.delete("users", {"id": 5})
        op.upsert("lines", {"order_id": 1, "line": 1, "sku": "a"})
        op.upsert("lines", {"order_id": 1, "line": 2, "sku": "b"})
        op.upsert("events", {"kind": "click"})
        op.checkpoint({"runs": runs + 1, "cursor": f"2024-05-0{runs + 1}T00:00:00Z"})


    connector = Connector(update=update, schema=schema)
'''


def write_connector(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "connector.py").write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def shop_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_connector(tmp_path_factory.mktemp("shop"), SHOP)


@pytest.fixture(scope="session")
def shop_result(shop_project: Path, tmp_path_factory: pytest.TempPathFactory) -> SyncResult:
    result = run_connector(shop_project, warehouse_dir=tmp_path_factory.mktemp("shop-warehouse"))
    assert result.succeeded, result.output + result.errors
    return result


@pytest.fixture(scope="session")
def handmade_result(tmp_path_factory: pytest.TempPathFactory) -> SyncResult:
    import duckdb

    folder = tmp_path_factory.mktemp("handmade")
    (folder / "files").mkdir()
    warehouse = folder / "files" / "warehouse.db"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA tester")
    con.execute(
        "CREATE TABLE tester.accounts (id INTEGER, region VARCHAR, name VARCHAR, "
        "_fivetran_synced TIMESTAMP WITH TIME ZONE, _fivetran_deleted BOOLEAN)"
    )
    comment = json.dumps({"headwater": {"primary_key": ["id", "region"]}})
    con.execute(f"COMMENT ON TABLE tester.accounts IS '{comment}'")
    con.execute(
        "INSERT INTO tester.accounts VALUES "
        "(1, 'eu', 'first', now(), false), (1, 'eu', 'second', now(), false), (1, 'eu', 'gone', now(), true), "
        "(2, 'us', 'ok', now(), false), (NULL, 'us', 'no id', now(), false), (3, NULL, 'no region', now(), false)"
    )
    con.close()
    return SyncResult(
        exit_code=0, output="", errors="", project=folder, warehouse=warehouse,
        state_path=folder / "files" / "state.json",
    )
