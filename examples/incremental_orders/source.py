"""A simulated orders API: deterministic, local, no network.

It behaves like a typical REST endpoint that lists records changed since a cursor::

    GET /orders?updated_after=2024-01-05T04:10:00Z&after_id=1733&limit=100

Orders come back sorted by ``(updated_at, order_id)``, at most ``limit`` per page, each with its
order lines embedded. The pair ``(updated_at, order_id)`` is a keyset cursor: passing the last
order of a page as ``updated_after``/``after_id`` returns the next page, and passing the last order
of a finished sync returns only what changed since.

Nothing is stored between runs. The source's clock is derived from the cursor the sync starts
with (see :func:`clock_for_cursor`):

- without a cursor (a first sync) the source holds the initial ``total_orders`` orders;
- with a cursor, the source has "moved on" by one tick past the tick the cursor falls in, and in
  every tick :data:`UPDATES_PER_TICK` existing orders change and :data:`NEW_PER_TICK` orders are
  placed.

So a second sync sees a handful of changes, a third sync a handful more, and the same cursor always
shows the same data.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
ORDER_SPACING = timedelta(minutes=5)   # two initial orders are placed every ORDER_SPACING
TICK = timedelta(hours=6)              # how far the source's clock moves between two syncs
UPDATES_PER_TICK = 5
NEW_PER_TICK = 3
STATUSES = ("placed", "paid", "shipped", "delivered")
CURRENCIES = ("EUR", "USD", "GBP")
PRODUCTS = (
    ("SKU-APPLE", Decimal("0.45")),
    ("SKU-BREAD", Decimal("2.80")),
    ("SKU-CHEESE", Decimal("6.15")),
    ("SKU-COFFEE", Decimal("9.99")),
    ("SKU-HONEY", Decimal("7.30")),
    ("SKU-OLIVES", Decimal("3.65")),
)


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, the way most APIs send timestamps."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """The inverse of :func:`format_timestamp`; also accepts ``+00:00``."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone; expected e.g. 2024-01-01T00:00:00Z")
    return moment.astimezone(timezone.utc)


def initial_load_end(total_orders: int) -> datetime:
    """The time of the last initial order: the end of tick 0."""
    return EPOCH + ((total_orders - 1) // 2) * ORDER_SPACING


def clock_for_cursor(cursor: str | None, total_orders: int) -> datetime:
    """Where the source's clock stands for a sync that starts from ``cursor``.

    Tick 0 ends with the last initial order; tick k (k >= 1) is the following ``TICK``-long
    interval. A sync sees everything up to the end of the tick after the cursor's tick, so every
    sync that starts from a finished sync's cursor sees exactly one more tick of activity.
    """
    load_end = initial_load_end(total_orders)
    if cursor is None:
        return load_end
    elapsed = parse_timestamp(cursor) - load_end
    cursor_tick = 0 if elapsed <= timedelta(0) else -(-elapsed // TICK)  # ceiling division
    return load_end + (cursor_tick + 1) * TICK


@dataclass
class Order:
    """One order as the API returns it (timestamps as ``datetime`` until serialised)."""

    order_id: int
    customer_id: int
    status: str
    currency: str
    is_gift: bool
    created_at: datetime
    updated_at: datetime
    lines: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON would carry it: strings for timestamps and money."""
        amount = sum((Decimal(line["unit_price"]) * line["quantity"] for line in self.lines), Decimal("0"))
        return {
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "status": self.status,
            "amount": str(amount),
            "currency": self.currency,
            "is_gift": self.is_gift,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "lines": [dict(line) for line in self.lines],
        }


def _new_order(order_id: int, placed_at: datetime) -> Order:
    """An order whose contents depend only on its id."""
    line_count = 1 + order_id % 4
    lines = []
    for number in range(1, line_count + 1):
        sku, price = PRODUCTS[(order_id * 7 + number) % len(PRODUCTS)]
        lines.append({"line_number": number, "sku": sku, "quantity": 1 + (order_id + number) % 5,
                      "unit_price": str(price)})
    return Order(
        order_id=order_id,
        customer_id=1 + (order_id * 37) % 400,
        status=STATUSES[order_id % 3],
        currency=CURRENCIES[order_id % len(CURRENCIES)],
        is_gift=order_id % 10 == 0,
        created_at=placed_at,
        updated_at=placed_at,
        lines=lines,
    )


def _next_status(status: str) -> str:
    position = STATUSES.index(status)
    return STATUSES[min(position + 1, len(STATUSES) - 1)]


def build_orders(total_orders: int, now: datetime) -> dict[int, Order]:
    """Every order as it stands at ``now``: the initial ones, then each tick's changes replayed."""
    orders = {order_id: _new_order(order_id, EPOCH + ((order_id - 1) // 2) * ORDER_SPACING)
              for order_id in range(1, total_orders + 1)}
    load_end = initial_load_end(total_orders)
    tick = 1
    while load_end + tick * TICK <= now:
        tick_start = load_end + (tick - 1) * TICK
        rng = random.Random(tick)  # seeded by the tick number: the same changes on every machine
        changed = rng.sample(sorted(orders), min(UPDATES_PER_TICK, len(orders)))
        for offset, order_id in enumerate(sorted(changed), start=1):
            order = orders[order_id]
            order.status = _next_status(order.status)
            order.updated_at = tick_start + offset * timedelta(minutes=7)
        first_new = max(orders) + 1
        for offset, order_id in enumerate(range(first_new, first_new + NEW_PER_TICK), start=1):
            orders[order_id] = _new_order(order_id, tick_start + offset * timedelta(minutes=11))
        tick += 1
    return orders


class OrdersApi:
    """The API client a connector would normally wrap around HTTP calls.

    Args:
        total_orders: how many orders exist before the first sync.
        now: the source's clock; orders changed after it are not visible yet.
    """

    def __init__(self, total_orders: int, now: datetime) -> None:
        self.now = now
        self._orders = sorted(
            (order for order in build_orders(total_orders, now).values() if order.updated_at <= now),
            key=lambda order: (order.updated_at, order.order_id),
        )
        self._keys = [(order.updated_at, order.order_id) for order in self._orders]
        self.requests = 0

    @classmethod
    def connect(cls, total_orders: int, cursor: str | None) -> OrdersApi:
        """Open the API for a sync that starts from ``cursor`` (``None`` for a first sync)."""
        return cls(total_orders, clock_for_cursor(cursor, total_orders))

    def list_orders(self, *, updated_after: str | None, after_id: int, limit: int) -> dict[str, Any]:
        """One page of orders changed after the keyset cursor ``(updated_after, after_id)``.

        Returns ``{"data": [...], "has_more": bool}``, like a paginated JSON response.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.requests += 1
        first = 0
        if updated_after is not None:
            first = bisect.bisect_right(self._keys, (parse_timestamp(updated_after), after_id))
        page = [order.to_json() for order in self._orders[first:first + limit]]
        return {"data": page, "has_more": first + limit < len(self._orders)}
