"""Scenario B (template): scenario A's rows without schema(): every type inferred, keyless.

Without a declared primary key headwater adds ``_fivetran_id`` (a hash of the row) as the key.
configuration.json (string values): rows, checkpoint_every ("0": one checkpoint at the end).
The loop and the row values are the same as a_upserts.py.
"""

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op

CUSTOMERS = [f"customer-{k:05d}" for k in range(1024)]
STAMPS = [f"2024-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:{k * 7 % 60:02d}Z" for k in range(4096)]
CITIES = [f"city-{k:02d}" for k in range(64)]
NOTES = [f"note {k}: " + "lorem ipsum dolor sit amet, consectetur"[: 8 + k % 32] for k in range(256)]


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


connector = Connector(update=update)
