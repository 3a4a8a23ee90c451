"""Scenario D (template): a second sync over the warehouse a_upserts.py created.

Three phases, each ended by a checkpoint:
  upserts  ``rows`` upserts of the existing ids 0 .. rows-1 (same values as A but ``quantity``)
  updates  ``updates`` op.update calls changing 2 columns (amount, note) of ids 0, 4, 8, ...
  deletes  ``deletes`` op.delete calls for ids 1, 5, 9, ...
After each phase the connector logs ``bench phase <name> rows=<n> seconds=<s>``: the
time.perf_counter() time of the phase's loop plus the checkpoint that ends it. The harness parses
these lines for per-phase rates. configuration.json (string values): rows, updates, deletes.
"""

import time

from order_values import CITIES, CUSTOMERS, NOTES, STAMPS

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op


def schema(configuration):
    return [{"table": "orders", "primary_key": ["id"]}]


def update(configuration, state):
    rows = int(configuration["rows"])
    updates = int(configuration["updates"])
    deletes = int(configuration["deletes"])
    if 4 * max(updates, deletes) > rows:
        raise ValueError("updates and deletes must each be at most rows / 4")

    started = time.perf_counter()
    for i in range(rows):
        op.upsert("orders", {
            "id": i,
            "customer": CUSTOMERS[i & 1023],
            "amount": i * 0.25,
            "active": i % 3 == 0,
            "updated_at": STAMPS[i & 4095],
            "city": CITIES[i & 63],
            "quantity": (i + 1) % 97,
            "note": NOTES[i & 255],
        })
    op.checkpoint({"phase": "upserts"})
    log.info(f"bench phase upserts rows={rows} seconds={time.perf_counter() - started:.6f}")

    started = time.perf_counter()
    for i in range(0, 4 * updates, 4):
        op.update("orders", {"id": i, "amount": i * 0.5, "note": NOTES[(i + 1) & 255]})
    op.checkpoint({"phase": "updates"})
    log.info(f"bench phase updates rows={updates} seconds={time.perf_counter() - started:.6f}")

    started = time.perf_counter()
    for i in range(1, 4 * deletes, 4):
        op.delete("orders", {"id": i})
    op.checkpoint({"phase": "deletes"})
    log.info(f"bench phase deletes rows={deletes} seconds={time.perf_counter() - started:.6f}")


connector = Connector(update=update, schema=schema)
