"""Scenarios A, E and G (template): 8-column upserts into one keyed table.

configuration.json (string values):
  rows              how many rows to upsert (ids 0 .. rows-1)
  checkpoint_every  rows between checkpoints; "0" means a single checkpoint at the end

Values come from the row number with arithmetic and preformatted strings: no per-row randomness,
so the loop costs what a real connector's loop costs (build a dict, call op.upsert).
"""

from order_values import CITIES, CUSTOMERS, NOTES, STAMPS

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op


def schema(configuration):
    return [{"table": "orders", "primary_key": ["id"]}]


def update(configuration, state):
    rows = int(configuration["rows"])
    every = int(configuration.get("checkpoint_every", "0")) or rows
    start = 0
    while start < rows:
        stop = min(start + every, rows)
        for i in range(start, stop):
            op.upsert("orders", {
                "id": i,
                "customer": CUSTOMERS[i & 1023],
                "amount": i * 0.25,
                "active": i % 3 == 0,
                "updated_at": STAMPS[i & 4095],
                "city": CITIES[i & 63],
                "quantity": i % 97,
                "note": NOTES[i & 255],
            })
        op.checkpoint({"cursor": stop})
        start = stop


connector = Connector(update=update, schema=schema)
