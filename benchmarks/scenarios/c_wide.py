"""Scenario C (template): one keyed table of 50 columns of mixed types.

Columns: id (the key), 10 ints, 10 floats, 10 strings, 6 bools, 6 ISO timestamp strings, 4 ISO date
strings and 3 ints that are None on some rows; every type inferred from the values.
configuration.json (string values): rows, checkpoint_every ("0": one checkpoint at the end).
"""

from order_values import STAMPS

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op

WORDS = [f"word-{k:03d}-" + "abcdefghijklmnopqrstuvwxyz"[: k % 26] for k in range(256)]
DATES = [f"2024-{1 + k // 31 % 12:02d}-{1 + k % 28:02d}" for k in range(365)]


def schema(configuration):
    return [{"table": "wide", "primary_key": ["id"]}]


def update(configuration, state):
    rows = int(configuration["rows"])
    every = int(configuration.get("checkpoint_every", "0")) or rows
    start = 0
    while start < rows:
        stop = min(start + every, rows)
        for i in range(start, stop):
            op.upsert("wide", {
                "id": i,
                "int_01": i * 1 + 7,
                "int_02": i * 2 + 14,
                "int_03": i * 3 + 21,
                "int_04": i * 4 + 28,
                "int_05": i * 5 + 35,
                "int_06": i * 6 + 42,
                "int_07": i * 7 + 49,
                "int_08": i * 8 + 56,
                "int_09": i * 9 + 63,
                "int_10": i * 10 + 70,
                "float_01": i * 0.125,
                "float_02": i * 0.25,
                "float_03": i * 0.375,
                "float_04": i * 0.5,
                "float_05": i * 0.625,
                "float_06": i * 0.75,
                "float_07": i * 0.875,
                "float_08": i * 1.0,
                "float_09": i * 1.125,
                "float_10": i * 1.25,
                "str_01": WORDS[(i + 13) & 255],
                "str_02": WORDS[(i + 26) & 255],
                "str_03": WORDS[(i + 39) & 255],
                "str_04": WORDS[(i + 52) & 255],
                "str_05": WORDS[(i + 65) & 255],
                "str_06": WORDS[(i + 78) & 255],
                "str_07": WORDS[(i + 91) & 255],
                "str_08": WORDS[(i + 104) & 255],
                "str_09": WORDS[(i + 117) & 255],
                "str_10": WORDS[(i + 130) & 255],
                "bool_01": i % 2 == 0,
                "bool_02": i % 3 == 0,
                "bool_03": i % 4 == 0,
                "bool_04": i % 5 == 0,
                "bool_05": i % 6 == 0,
                "bool_06": i % 7 == 0,
                "ts_01": STAMPS[(i + 101) & 4095],
                "ts_02": STAMPS[(i + 202) & 4095],
                "ts_03": STAMPS[(i + 303) & 4095],
                "ts_04": STAMPS[(i + 404) & 4095],
                "ts_05": STAMPS[(i + 505) & 4095],
                "ts_06": STAMPS[(i + 606) & 4095],
                "date_01": DATES[(i + 31) % 365],
                "date_02": DATES[(i + 62) % 365],
                "date_03": DATES[(i + 93) % 365],
                "date_04": DATES[(i + 124) % 365],
                "maybe_01": None if i % 5 == 0 else i + 1,
                "maybe_02": None if i % 6 == 0 else i + 2,
                "maybe_03": None if i % 7 == 0 else i + 3,
            })
        op.checkpoint({"cursor": stop})
        start = stop


connector = Connector(update=update, schema=schema)
