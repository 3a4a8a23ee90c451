"""The benchmarks' PostgreSQL server and queries, in child processes of ``run.py``.

``run.py`` never imports psycopg, DuckDB or pyarrow (a child's peak RSS is never reported below its
parent's, so the harness stays small); what needs psycopg runs here instead.

    python benchmarks/pg_admin.py serve
        Starts one throwaway server (headwater.testing.postgres.EmbeddedServer: initdb into a temporary
        folder, a free port of 127.0.0.1; as root the server runs as an unprivileged account), prints
        one JSON line {"port", "dsn", "url"} (or {"error"} and exits 1), then waits until its stdin
        is closed (run.py closes it at the end, or dies) or it gets SIGTERM/SIGINT, and stops the
        server, removing its folder.

    python benchmarks/pg_admin.py sql DSN STATEMENT...
        Runs each statement in autocommit mode (so CREATE/DROP DATABASE work) and prints a JSON list:
        per statement, its rows (lists) or null when it returns none. A failure prints the error on
        stderr and exits 1.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any


def serve() -> int:
    from headwater.testing.postgres import EmbeddedServer

    server = EmbeddedServer()

    def stop_on_signal(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        try:
            server.start()
        except Exception as exc:  # noqa: BLE001 - reported to run.py, which reports the scenario's failure
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}\n{server.log_text()}"}), flush=True)
            return 1
        print(json.dumps({"port": server.port, "dsn": server.dsn(), "url": server.url()}), flush=True)
        try:
            sys.stdin.read()  # until run.py closes the pipe (or exits)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        server.stop()


def sql(dsn: str, statements: list[str]) -> int:
    import psycopg

    results: list[list[list[Any]] | None] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as con:
            for statement in statements:
                cursor = con.execute(statement)
                results.append([list(row) for row in cursor.fetchall()] if cursor.description else None)
    except psycopg.Error as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(results, default=str))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 1:
        return serve()
    if argv[:1] == ["sql"] and len(argv) >= 3:
        return sql(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
