"""Scenarios A, E and G (template): 8-column upserts into one keyed table.

configuration.json (string values):
  rows              how many rows to upsert (ids 0 .. rows-1)
  checkpoint_every  rows between checkpoints; "0" means a single checkpoint at the end

Values come from the row number with arithmetic and preformatted strings: no per-row randomness,
so the loop costs what a real connector's loop costs (build a dict, call op.upsert).
"""

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op

CUSTOMERS = [f"customer-{k:05d}" for k in range(1024)]
STAMPS = [f"2024-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:{k * 7 % 60:02d}Z" for k in range(4096)]
CITIES = [f"city-{k:02d}" for k in range(64)]
NOTES = [f"note {k}: " + "lorem ipsum dolor sit amet, consectetur"[: 8 + k % 32] for k in range(256)]


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
