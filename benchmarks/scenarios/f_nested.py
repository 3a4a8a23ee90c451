"""Scenario F (template): rows with nested dict and list values, stored as JSON columns.

Each row carries a fresh nested dict (``payload``), a list of strings (``tags``) and a list of
dicts (``items``), as a connector that passes parsed API responses through would.
configuration.json (string values): rows, checkpoint_every ("0": one checkpoint at the end).
"""

from order_values import CUSTOMERS

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op

KINDS = ["click", "view", "purchase", "refund", "signup", "login", "logout", "search"]
TAGS = [f"tag-{k:02d}" for k in range(32)]
SKUS = [f"SKU-{k:04d}" for k in range(128)]


def schema(configuration):
    return [{"table": "events", "primary_key": ["id"]}]


def update(configuration, state):
    rows = int(configuration["rows"])
    every = int(configuration.get("checkpoint_every", "0")) or rows
    start = 0
    while start < rows:
        stop = min(start + every, rows)
        for i in range(start, stop):
            op.upsert("events", {
                "id": i,
                "kind": KINDS[i & 7],
                "payload": {
                    "user": {"id": i % 5000, "name": CUSTOMERS[i & 1023]},
                    "score": i * 0.5,
                    "flags": [i % 2 == 0, i % 3 == 0],
                },
                "tags": [TAGS[i & 31], TAGS[(i + 7) & 31]],
                "items": [{"sku": SKUS[i & 127], "qty": 1 + i % 5}, {"sku": SKUS[(i + 1) & 127], "qty": 2}],
            })
        op.checkpoint({"cursor": stop})
        start = stop


connector = Connector(update=update, schema=schema)
