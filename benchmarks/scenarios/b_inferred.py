"""Scenario B (template): scenario A's rows without schema(): every type inferred, keyless.

Without a declared primary key headwater adds ``_fivetran_id`` (a hash of the row) as the key.
configuration.json (string values): rows, checkpoint_every ("0": one checkpoint at the end).
The loop and the row values are the same as a_upserts.py.
"""

from order_values import CITIES, CUSTOMERS, NOTES, STAMPS

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op


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
