"""The smallest useful connector: one declared table, a few upserts, one checkpoint.

Run it with ``headwater debug examples/hello`` from the repository root, or with
``python connector.py`` from this folder. See README.md.
"""

# ruff: noqa: I001 - keep the Connector SDK import line exactly as SDK connectors write it
from __future__ import annotations

from typing import Any

# The same import line a Fivetran Connector SDK connector uses; headwater provides the implementation.
from fivetran_connector_sdk import Connector, Operations as op, Logging as log

GREETINGS = [
    {"id": 1, "language": "English", "greeting": "hello"},
    {"id": 2, "language": "French", "greeting": "bonjour"},
    {"id": 3, "language": "Japanese", "greeting": "konnichiwa"},
]


def schema(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    """Declare the tables: a name, a primary key, and (optionally) the types of some columns.

    Columns that are not declared are still written; their types are inferred from the values.
    """
    return [
        {
            "table": "greeting",
            "primary_key": ["id"],
            "columns": {"id": "INT", "language": "STRING", "greeting": "STRING"},
        }
    ]


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    """Send the rows, then checkpoint so the rows and the state are saved together."""
    # Logging, not print(): the lines get a timestamp and a level, like in production.
    log.info(f"sending {len(GREETINGS)} greetings")
    for row in GREETINGS:
        # upsert inserts the row, or replaces the row that has the same primary key.
        op.upsert(table="greeting", data=row)

    # The state is a JSON-serialisable dict; the next run receives it as `state`.
    op.checkpoint(state={"runs": state.get("runs", 0) + 1})


connector = Connector(update=update, schema=schema)

if __name__ == "__main__":
    # `python connector.py` runs one sync in this process, exactly like `headwater debug .`
    connector.debug()
