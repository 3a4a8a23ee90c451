"""Scenario H (template): scenario A's rows upserted from several threads at once.

Thread k upserts ids [rows*k/threads, rows*(k+1)/threads) with A's row values and checkpoints after
every ``checkpoint_every`` of its own rows (so the whole sync commits about as often as A).
configuration.json (string values): rows, threads, checkpoint_every ("0": per thread, at its end).
"""

import threading

from order_values import CITIES, CUSTOMERS, NOTES, STAMPS

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op


def schema(configuration):
    return [{"table": "orders", "primary_key": ["id"]}]


def upsert_range(lo, hi, every, thread):
    start = lo
    while start < hi:
        stop = min(start + every, hi)
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
        op.checkpoint({"thread": thread, "cursor": stop})
        start = stop


def update(configuration, state):
    rows = int(configuration["rows"])
    threads = int(configuration["threads"])
    every = int(configuration.get("checkpoint_every", "0")) or rows
    errors = []

    def work(k):
        try:
            upsert_range(rows * k // threads, rows * (k + 1) // threads, every, k)
        except BaseException as exc:  # re-raised in update() so the sync fails visibly
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(k,), name=f"bench-{k}") for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


connector = Connector(update=update, schema=schema)
