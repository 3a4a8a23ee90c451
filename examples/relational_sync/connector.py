"""Three related tables kept in step with a source: full load first, then updates, deletes and inserts.

- ``customers``, ``orders`` and ``order_items`` (composite key ``order_id, line_no``);
- the first sync loads everything; each later sync applies that round's changes with
  ``op.upsert`` (new rows), ``op.update`` (only the changed columns) and ``op.delete`` (soft delete:
  the row stays, with ``_fivetran_deleted = true``);
- ``order_statuses`` is a small lookup table refreshed in full every sync with a deferred truncate,
  so a status that disappeared from the source ends up soft-deleted.

The state is a run counter, ``{"rounds_synced": n}``. See README.md.

Run it with ``headwater debug examples/relational_sync`` from the repository root, or with
``python connector.py`` from this folder.
"""

# ruff: noqa: I001 - keep the Connector SDK import line exactly as SDK connectors write it
from __future__ import annotations

from typing import Any

from fivetran_connector_sdk import Connector, Operations as op, Logging as log

import shop

MONEY = {"type": "DECIMAL", "precision": 10, "scale": 2}


def schema(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    """Declare the four tables, their primary keys and column types."""
    return [
        {
            "table": "customers",
            "primary_key": ["customer_id"],
            "columns": {"customer_id": "INT", "name": "STRING", "email": "STRING", "signed_up_at": "UTC_DATETIME"},
        },
        {
            "table": "orders",
            "primary_key": ["order_id"],
            "columns": {"order_id": "INT", "customer_id": "INT", "status": "STRING", "total": MONEY,
                        "ordered_at": "UTC_DATETIME"},
        },
        {
            "table": "order_items",
            "primary_key": ["order_id", "line_no"],
            "columns": {"order_id": "INT", "line_no": "INT", "product": "STRING", "quantity": "INT",
                        "unit_price": MONEY},
        },
        {
            "table": "order_statuses",
            "primary_key": ["code"],
            "columns": {"code": "STRING", "label": "STRING", "is_final": "BOOLEAN"},
        },
    ]


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    """Load the snapshot on the first sync, then one round of changes per sync."""
    synced = state.get("rounds_synced", 0)
    round_number = synced + 1
    if round_number == 1:
        log.info("first sync: loading the full snapshot")
        changes = shop.snapshot()
    else:
        log.info(f"sync {round_number}: applying the changes made since sync {synced}")
        changes = shop.changes_since(round_number)

    apply_changes(changes)
    refresh_statuses(changes.statuses)

    # One checkpoint at the end is enough for a change set this small; a large or paginated source
    # would checkpoint after each page (see examples/incremental_orders). Replaying a round after a
    # crash is harmless: upserts, updates and deletes by key give the same result twice.
    op.checkpoint(state={"rounds_synced": round_number})


def apply_changes(changes: shop.Changes) -> None:
    """Send one round of changes, parents before children so a reader never sees orphans."""
    for row in changes.new_customers:
        op.upsert(table="customers", data=row)
    for row in changes.customer_updates:
        # op.update changes only the columns given (here: email); name and signed_up_at keep their values.
        op.update(table="customers", modified=row)
    for row in changes.new_orders:
        op.upsert(table="orders", data=row)
    for row in changes.order_updates:
        op.update(table="orders", modified=row)
    for row in changes.new_items:
        op.upsert(table="order_items", data=row)

    # Deletes name the row by its primary key: the whole composite key for an order item.
    for keys in changes.deleted_items:
        op.delete(table="order_items", keys=keys)
    for order_id in changes.deleted_orders:
        op.delete(table="orders", keys={"order_id": order_id})

    log.info(
        f"customers: {len(changes.new_customers)} new, {len(changes.customer_updates)} updated; "
        f"orders: {len(changes.new_orders)} new, {len(changes.order_updates)} updated, "
        f"{len(changes.deleted_orders)} deleted; items: {len(changes.new_items)} new, "
        f"{len(changes.deleted_items)} deleted"
    )


def refresh_statuses(statuses: list[dict[str, Any]]) -> None:
    """Replace the small lookup table with the source's current list.

    A deferred truncate marks every existing row deleted when the sync ends successfully, except
    the rows written after it, so only statuses missing from the new list stay deleted. Unlike an
    immediate truncate, a failed sync leaves the table as it was.
    """
    op.truncate(table="order_statuses", deferred=True)
    for row in statuses:
        op.upsert(table="order_statuses", data=row)
    log.info(f"order_statuses: refreshed with {len(statuses)} statuses")


connector = Connector(update=update, schema=schema)

if __name__ == "__main__":
    # `python connector.py` (from this folder) runs one sync, exactly like `headwater debug .`
    connector.debug()
