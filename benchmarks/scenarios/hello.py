"""Startup check (fallback template): one upsert and one checkpoint.

run.py uses examples/hello (the hello-world example) when it exists, this file otherwise.
"""

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op


def update(configuration, state):
    op.upsert("hello", {"id": 1, "message": "hello, world"})
    op.checkpoint({"done": True})


connector = Connector(update=update)
