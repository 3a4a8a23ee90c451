"""A simulated shop database with a change feed, deterministic and local.

The first sync reads a full snapshot (:func:`snapshot`). Every later sync n (n = 2, 3, ...) reads
the changes made since sync n - 1 (:func:`changes_since`), which depend only on n:

- one customer changes e-mail address (customer n - 1) and one order is shipped (order n);
- one order is cancelled and removed together with its items (order 10 + n);
- one customer signs up (customer 8 + n - 1) and two orders are placed (ids 21 + 2(n - 2) and the
  next one);
- the status code ``on_hold`` has been retired, so the status list no longer contains it.

Run numbers are the connector's business; the shop only answers "what changed in round n".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

INITIAL_CUSTOMERS = 8
INITIAL_ORDERS = 20
OPENED = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
PRODUCTS = (("kettle", Decimal("34.90")), ("teapot", Decimal("21.50")), ("mug", Decimal("8.25")),
            ("tea tin", Decimal("12.00")))
STATUSES = (
    {"code": "placed", "label": "Placed", "is_final": False},
    {"code": "paid", "label": "Paid", "is_final": False},
    {"code": "shipped", "label": "Shipped", "is_final": False},
    {"code": "delivered", "label": "Delivered", "is_final": True},
    {"code": "on_hold", "label": "On hold", "is_final": False},
)
RETIRED_STATUSES = {"on_hold"}


@dataclass
class Changes:
    """What changed in the shop during one round; rows are plain dicts as a driver returns them."""

    new_customers: list[dict[str, Any]] = field(default_factory=list)
    customer_updates: list[dict[str, Any]] = field(default_factory=list)   # key + changed columns only
    new_orders: list[dict[str, Any]] = field(default_factory=list)
    order_updates: list[dict[str, Any]] = field(default_factory=list)      # key + changed columns only
    new_items: list[dict[str, Any]] = field(default_factory=list)
    deleted_orders: list[int] = field(default_factory=list)
    deleted_items: list[dict[str, Any]] = field(default_factory=list)      # composite keys
    statuses: list[dict[str, Any]] = field(default_factory=list)           # the whole current list


def customer(customer_id: int) -> dict[str, Any]:
    """A customer row as first created; it depends only on its id."""
    name = FIRST_NAMES[(customer_id - 1) % len(FIRST_NAMES)]
    return {
        "customer_id": customer_id,
        "name": name,
        "email": f"{name.lower()}.{customer_id}@example.com",
        "signed_up_at": OPENED + timedelta(days=customer_id),
    }


def items(order_id: int) -> list[dict[str, Any]]:
    """The items of an order (1 to 3 of them); composite key ``(order_id, line_no)``."""
    rows = []
    for line_no in range(1, 2 + order_id % 3):
        product, price = PRODUCTS[(order_id + line_no) % len(PRODUCTS)]
        rows.append({"order_id": order_id, "line_no": line_no, "product": product,
                     "quantity": 1 + (order_id * line_no) % 3, "unit_price": price})
    return rows


def order(order_id: int, customer_id: int) -> dict[str, Any]:
    """An order row as first placed, with its total computed from its items."""
    total = sum((item["unit_price"] * item["quantity"] for item in items(order_id)), Decimal("0"))
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "status": "placed" if order_id % 4 else "on_hold",
        "total": total,
        "ordered_at": OPENED + timedelta(days=order_id, hours=order_id % 9),
    }


def snapshot() -> Changes:
    """Everything in the shop before the first sync."""
    orders = [order(order_id, 1 + order_id % INITIAL_CUSTOMERS) for order_id in range(1, INITIAL_ORDERS + 1)]
    return Changes(
        new_customers=[customer(customer_id) for customer_id in range(1, INITIAL_CUSTOMERS + 1)],
        new_orders=orders,
        new_items=[item for row in orders for item in items(row["order_id"])],
        statuses=[dict(status) for status in STATUSES],
    )


def changes_since(round_number: int) -> Changes:
    """The changes of round ``round_number`` (2 or more): see the module docstring."""
    if round_number < 2:
        raise ValueError(f"round 1 is the snapshot; changes start at round 2, got {round_number}")
    n = round_number
    new_customer_id = INITIAL_CUSTOMERS + n - 1
    first_new_order = INITIAL_ORDERS + 1 + 2 * (n - 2)
    new_orders = [order(first_new_order, new_customer_id), order(first_new_order + 1, 1 + n % INITIAL_CUSTOMERS)]
    edited = customer(n - 1)
    cancelled = 10 + n
    return Changes(
        new_customers=[customer(new_customer_id)],
        customer_updates=[{"customer_id": n - 1, "email": f"{edited['name'].lower()}+round{n}@example.org"}],
        new_orders=new_orders,
        order_updates=[{"order_id": n, "status": "shipped"}],
        new_items=[item for row in new_orders for item in items(row["order_id"])],
        deleted_orders=[cancelled],
        deleted_items=[{"order_id": cancelled, "line_no": item["line_no"]} for item in items(cancelled)],
        statuses=[dict(status) for status in STATUSES if status["code"] not in RETIRED_STATUSES],
    )
