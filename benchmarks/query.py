"""Run SQL queries read-only against a warehouse and print the results as JSON (one list per query).

The harness asks this subprocess instead of importing DuckDB itself: a child's peak RSS as reported
by wait4 is never below its parent's own peak, so run.py must stay small.

    python benchmarks/query.py WAREHOUSE_DB SQL [SQL ...]
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import duckdb

    con = duckdb.connect(sys.argv[1], read_only=True)
    try:
        results = [[list(row) for row in con.execute(sql).fetchall()] for sql in sys.argv[2:]]
    finally:
        con.close()
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
