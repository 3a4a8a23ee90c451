"""Incremental, paginated sync of orders and their lines from a (simulated) REST API.

The pattern: keep a cursor in the state, ask the API only for records changed after it, walk the
pages, and checkpoint the cursor after every page. A re-run continues from the saved cursor, so it
fetches only what changed since the previous run; an interrupted run resumes at the last page it
saved. See README.md.

Run it with ``headwater debug examples/incremental_orders`` from the repository root, or with
``python connector.py`` from this folder.
"""

# ruff: noqa: I001 - keep the Connector SDK import line exactly as SDK connectors write it
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fivetran_connector_sdk import Connector, Operations as op, Logging as log

# A module next to connector.py imports normally: the project folder is first on sys.path.
from source import OrdersApi

MONEY = {"type": "DECIMAL", "precision": 12, "scale": 2}
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Settings:
    """The configuration, parsed once at the start of the sync."""

    total_orders: int
    page_size: int

    @classmethod
    def from_configuration(cls, configuration: dict[str, Any]) -> Settings:
        """Read and check the configuration; a bad value fails the sync with a clear message.

        Configuration values are always strings (configuration.json may only hold strings), so
        numbers are parsed here, once, rather than wherever they are used.
        """
        return cls(
            total_orders=_positive_int(configuration, "total_orders", default="2500", maximum=1_000_000),
            page_size=_positive_int(configuration, "page_size", default="100", maximum=MAX_PAGE_SIZE),
        )


def _positive_int(configuration: dict[str, Any], key: str, *, default: str, maximum: int) -> int:
    text = configuration.get(key, default)
    if not isinstance(text, str) or not text.strip().isdigit() or not 1 <= int(text) <= maximum:
        raise ValueError(
            f"configuration value {key!r} must be a whole number from 1 to {maximum} written as a "
            f"string, e.g. \"{default}\"; got {text!r}. Fix it in configuration.json"
        )
    return int(text)


def schema(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    """Declare both tables with their primary keys and column types.

    Declaring types keeps them stable (amounts stay DECIMAL(12,2) whatever the first value looks
    like); columns left out would be inferred from the data.
    """
    return [
        {
            "table": "orders",
            "primary_key": ["order_id"],
            "columns": {
                "order_id": "INT",
                "customer_id": "INT",
                "status": "STRING",
                "amount": MONEY,
                "currency": "STRING",
                "is_gift": "BOOLEAN",
                "line_count": "INT",
                "created_at": "UTC_DATETIME",
                "updated_at": "UTC_DATETIME",
            },
        },
        {
            # A composite key: a line is identified by its order and its position in the order.
            "table": "order_lines",
            "primary_key": ["order_id", "line_number"],
            "columns": {
                "order_id": "INT",
                "line_number": "INT",
                "sku": "STRING",
                "quantity": "INT",
                "unit_price": MONEY,
            },
        },
    ]


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    """Fetch the orders changed since the saved cursor, one page at a time.

    The state is a small JSON-serialisable dict: ``{"cursor": {"updated_at": ..., "order_id": ...}}``.
    It is empty on the first sync.
    """
    settings = Settings.from_configuration(configuration)
    cursor = state.get("cursor") or {}
    updated_after: str | None = cursor.get("updated_at")
    after_id: int = cursor.get("order_id", 0)
    if updated_after is None:
        log.info("no saved cursor: first sync, fetching every order")
    else:
        log.info(f"resuming from cursor updated_at={updated_after} order_id={after_id}")

    api = OrdersApi.connect(settings.total_orders, updated_after)
    fetched = 0
    pages = 0
    while True:
        page = api.list_orders(updated_after=updated_after, after_id=after_id, limit=settings.page_size)
        orders: list[dict[str, Any]] = page["data"]
        if not orders:
            break
        for order in orders:
            send_order(order)
        pages += 1
        fetched += len(orders)

        # Move the cursor to the last record of the page and checkpoint: the page's rows and the
        # new cursor are committed together. Checkpoint per page, not per row: each checkpoint is a
        # commit, and a page is a natural unit to resume from after a failure.
        last = orders[-1]
        updated_after, after_id = last["updated_at"], last["order_id"]
        op.checkpoint(state={"cursor": {"updated_at": updated_after, "order_id": after_id}})
        log.info(f"page {pages}: {len(orders)} orders, {fetched} so far, cursor now {updated_after} #{after_id}")
        if not page["has_more"]:
            break

    if fetched == 0:
        # No checkpoint is needed: the saved state stays as it was.
        log.info("no orders changed since the last sync")
    log.info(f"fetched {fetched} orders in {pages} page(s), {api.requests} API request(s)")


def send_order(order: dict[str, Any]) -> None:
    """Upsert one order and its lines.

    Upserting every line again when an order changes keeps the lines in step with the order; the
    composite key (order_id, line_number) makes the re-sent lines replace the stored ones.
    """
    lines: list[dict[str, Any]] = order["lines"]
    row = {key: value for key, value in order.items() if key != "lines"}
    row["line_count"] = len(lines)
    op.upsert(table="orders", data=row)
    for line in lines:
        op.upsert(table="order_lines", data={"order_id": order["order_id"], **line})


connector = Connector(update=update, schema=schema)

if __name__ == "__main__":
    # `python connector.py` (from this folder) runs one sync, exactly like `headwater debug .`
    connector.debug()
