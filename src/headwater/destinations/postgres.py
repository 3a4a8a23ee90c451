"""The PostgreSQL destination: a sync's tables in a PostgreSQL database (12 or later), through psycopg 3.

One connection per sync, with one transaction per commit interval: PostgreSQL's DDL is
transactional, so CREATE/ALTER TABLE, the data and the state of a checkpoint (written through
:meth:`PostgresDestination.execute_in_transaction` by ``headwater run``'s bookkeeping) commit
together or not at all. docs/postgres.md describes the type map, names, keys, the bulk path and the
errors; docs/destinations.md the contract this module implements.

Every data call is set-based. Its batch goes into a temporary staging table with one binary
``COPY ... FROM STDIN`` (staging tables are created once per session for each list of column types,
``ON COMMIT DELETE ROWS``, and truncated when reused within a transaction), then one statement
applies it to the target table::

    upsert         INSERT INTO t SELECT ... FROM staging ON CONFLICT (key) DO UPDATE SET ...
    update         UPDATE t SET ... FROM staging (aggregated per key when keys repeat)
    soft_delete    UPDATE t SET _fivetran_deleted = true ... FROM (SELECT DISTINCT ...) staging
    existing_keys  SELECT row FROM staging WHERE EXISTS (SELECT 1 FROM t WHERE key matches)

Internal names cannot collide with a connector's: staging tables live in the session's temporary
schema and are always named ``pg_temp.hw_stage_<n>`` (a connector cannot write to a ``pg_`` schema),
user tables are always schema-qualified, the session's ``search_path`` is ``pg_catalog`` only (so a
connector's tables or functions never shadow a built-in one), and the target and source of every
statement are aliased. Statements that name user identifiers take no client-side parameters (the
one value they need, ``_fivetran_synced``, is a literal), so a ``%`` in a name is never read as a
placeholder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from headwater.batch import Batch
from headwater.destinations.base import (
    DELETED,
    FIVETRAN_ID,
    SYNCED,
    Capabilities,
    KeyBatch,
    TableDescription,
    TableInfo,
    TableRef,
    UpdateBatch,
    fold_ascii,
)
from headwater.errors import (
    DestinationError,
    DestinationFull,
    DestinationLocked,
    DestinationOutOfMemory,
    DestinationPermissionError,
    DestinationUnavailable,
)
from headwater.types import (
    BINARY,
    BOOLEAN,
    DOUBLE,
    FLOAT,
    INT,
    JSON,
    LONG,
    NAIVE_DATE,
    NAIVE_DATETIME,
    SHORT,
    STRING,
    UTC_DATETIME,
    DataType,
    decimal,
)

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "RESERVED_SCHEMAS",
    "PostgresDestination",
    "ReservedSchemas",
    "convert_sql",
    "from_postgres",
    "postgres_type",
    "quote",
    "text_sql",
]

#: PostgreSQL's NAMEDATALEN - 1: longer identifiers would be truncated silently, so they are refused.
MAX_IDENTIFIER_LENGTH = 63
#: The oldest server this module supports: shortest-exact float output (used for text forms) is 12+.
MIN_SERVER_VERSION = 120000


class ReservedSchemas(frozenset[str]):
    """Reserved schema names: the listed ones, and every name starting with ``pg_`` (PostgreSQL keeps
    that prefix for system schemas: ``CREATE SCHEMA pg_x`` fails with "unacceptable schema name")."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name.startswith("pg_") or frozenset.__contains__(self, name))


RESERVED_SCHEMAS = ReservedSchemas({"pg_catalog", "information_schema", "pg_toast"})

# The column type of each headwater type, spelled as format_type() reports it (so that it maps back).
_POSTGRES = {
    "BOOLEAN": "boolean",
    "SHORT": "smallint",
    "INT": "integer",
    "LONG": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "NAIVE_DATE": "date",
    "NAIVE_DATETIME": "timestamp without time zone",
    "UTC_DATETIME": "timestamp with time zone",
    "BINARY": "bytea",
    "XML": "text",
    "STRING": "text",
    "JSON": "jsonb",
}
_FROM_POSTGRES = {
    "boolean": BOOLEAN,
    "smallint": SHORT,
    "integer": INT,
    "bigint": LONG,
    "real": FLOAT,
    "double precision": DOUBLE,
    "date": NAIVE_DATE,
    "timestamp without time zone": NAIVE_DATETIME,
    "timestamp with time zone": UTC_DATETIME,
    "bytea": BINARY,
    "text": STRING,
    "jsonb": JSON,
    "json": JSON,
}
_NUMERIC_RE = re.compile(r"^numeric\((\d+),(\d+)\)$")
# How a staging column of each column type is sent by binary COPY (psycopg's type names). JSON is
# staged as text (its values are already JSON text) and cast to jsonb by the statement that reads it.
_COPY_TYPE = {
    "boolean": "bool",
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "real": "float4",
    "double precision": "float8",
    "numeric": "numeric",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "bytea": "bytea",
    "text": "text",
}


def postgres_type(dtype: DataType) -> str:
    """The PostgreSQL column type of a headwater type, as ``format_type()`` reports it."""
    if dtype.name == "DECIMAL":
        return f"numeric({dtype.precision},{dtype.scale})"
    return _POSTGRES[dtype.name]


def from_postgres(type_name: str) -> DataType | None:
    """The headwater type of an existing column (``format_type()`` text); None for a type headwater never makes."""
    name = type_name.strip().lower()
    if name in _FROM_POSTGRES:
        return _FROM_POSTGRES[name]
    match = _NUMERIC_RE.match(name.replace(" ", ""))
    if match:
        return decimal(int(match.group(1)), int(match.group(2)))
    return None


def _staging_type(dtype: DataType) -> str:
    """The staging column type of a batch column: the column's own type, JSON as text, any numeric as numeric."""
    if dtype.name == "DECIMAL":
        return "numeric"
    if dtype.name == "JSON":
        return "text"
    return _POSTGRES[dtype.name]


def quote(identifier: str) -> str:
    """Quote ``identifier`` for PostgreSQL SQL, doubling embedded ``"``.

    >>> quote('a"b')
    '"a""b"'
    """
    return '"' + identifier.replace('"', '""') + '"'


#: The text form of a float (TYPES-30) in SQL: a temporary function each session creates once.
#:
#: PostgreSQL (12+, ``extra_float_digits`` > 0) prints floats with the shortest digits that read back
#: as the same value, like Python, with two differences. Its shortest digits exclude the exact
#: rounding boundaries, which Python's include (when they round to the value): then Python's digits
#: are one shorter (``5.077462650742974e+16``, where PostgreSQL prints ``5.0774626507429744e+16``). So
#: the function takes PostgreSQL's n digits, also rounds the exact value to n - 1 digits
#: (``to_char ... EEEE``: C's correctly rounded ``%e``) and keeps those if they read back as the value
#: (for FLOAT as Python does: decimal -> double -> float32). And it formats differently: ``100`` and
#: ``-0`` without ``.0``, exponent notation from 1e15 (real: 1e6) where Python's starts at 1e16; the
#: function formats the digits as ``repr`` does (plain from 1e-4 up to 1e16, else ``1.5e+16``/``1e-05``).
#: PL/pgSQL rather than SQL: a non-inlined SQL function costs ~2 ms a call, this one ~20 us.
FLOAT_TEXT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION pg_temp.hw_float_text(x double precision, single boolean) RETURNS text
LANGUAGE plpgsql STABLE STRICT AS $hw$
DECLARE
    t text;
    n integer;
    s text;
    shorter text;
    back double precision;
    m text;
    e integer;
    fixed text;
BEGIN
    IF x = 'NaN'::float8 THEN RETURN 'NaN'; END IF;
    IF x = 'Infinity'::float8 THEN RETURN 'Infinity'; END IF;
    IF x = '-Infinity'::float8 THEN RETURN '-Infinity'; END IF;
    t := CASE WHEN single THEN (x::real)::text ELSE x::text END;
    IF x = 0 THEN RETURN CASE WHEN t LIKE '-%' THEN '-0.0' ELSE '0.0' END; END IF;
    IF single THEN
        -- FLOAT, as Python's float32_text: the fewest digits d whose correctly rounded value reads
        -- back (as a double, then rounded to float32) as the value; 9 digits always do.
        FOR d IN 1..9 LOOP
            n := d;
            s := ltrim(to_char(x, CASE WHEN d = 1 THEN '9EEEE' ELSE '9.' || repeat('9', d - 1) || 'EEEE' END));
            back := s::double precision;
            IF abs(back) < 3.4028235677973366e38 THEN   -- (else it rounds to infinity, and the cast fails)
                EXIT WHEN back::real = x::real;
            END IF;
        END LOOP;
    ELSE
        -- DOUBLE: PostgreSQL's shortest digits (boundaries excluded), or n - 1 digits when those
        -- (a boundary) read back as the value
        n := length(rtrim(ltrim(regexp_replace(t, '^-|e.*$|[.]', '', 'g'), '0'), '0'));
        s := t;
        IF n > 1 THEN
            shorter := ltrim(to_char(x, CASE WHEN n = 2 THEN '9EEEE' ELSE '9.' || repeat('9', n - 2) || 'EEEE' END));
            IF abs(shorter::numeric) < 1.7976931348623158e308 THEN   -- (else the cast fails)
                IF shorter::double precision = x THEN
                    s := shorter;
                END IF;
            END IF;
        END IF;
    END IF;
    -- the chosen digits as d.ddde+XX, then in Python's repr style
    s := ltrim(to_char(s::numeric, CASE WHEN n = 1 THEN '9EEEE' ELSE '9.' || repeat('9', n - 1) || 'EEEE' END));
    m := rtrim(rtrim(split_part(s, 'e', 1), '0'), '.');
    e := split_part(s, 'e', 2)::integer;
    IF e BETWEEN -4 AND 15 THEN
        fixed := ((m || 'e' || e)::numeric)::text;
        RETURN CASE WHEN strpos(fixed, '.') > 0 THEN fixed ELSE fixed || '.0' END;
    END IF;
    RETURN m || 'e' || CASE WHEN e < 0 THEN '-' ELSE '+' END || CASE WHEN abs(e) < 10 THEN '0' ELSE '' END
           || abs(e)::text;
END
$hw$
"""


def _datetime_text_sql(expr: str) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]`` of a ``timestamp`` (``datetime.isoformat()``)."""
    return (f"(to_char({expr}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN to_char({expr}, 'US') = '000000' "
            f"THEN '' ELSE '.' || to_char({expr}, 'US') END)")


def text_sql(expr: str, source: DataType) -> str:
    """SQL for the text form (TYPES-30) of a stored value of type ``source``, exactly as
    :func:`headwater.values.text_form` writes it (JSON: see docs/postgres.md)."""
    name = source.name
    if name == "BOOLEAN":
        return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END"
    if name in ("FLOAT", "DOUBLE"):
        single = "true" if name == "FLOAT" else "false"
        return f"pg_temp.hw_float_text(({expr})::double precision, {single})"
    if name == "NAIVE_DATE":
        return f"to_char({expr}, 'YYYY-MM-DD')"
    if name == "NAIVE_DATETIME":
        return _datetime_text_sql(expr)
    if name == "UTC_DATETIME":
        return f"({_datetime_text_sql(f'({expr} AT TIME ZONE {chr(39)}UTC{chr(39)})')} || 'Z')"
    if name == "BINARY":
        return f"replace(encode({expr}, 'base64'), chr(10), '')"
    # Integers and numeric(p,s) print plain digits (numeric keeps its scale and leading zero);
    # jsonb prints its own normalised JSON text; text is itself.
    return f"({expr})::text"


def convert_sql(expr: str, source: DataType, target: DataType) -> str:
    """SQL converting a stored ``source`` value to the wider ``target`` (TYPES-27)."""
    if source == target or (source.is_textual and target.is_textual):
        return expr
    if target.is_textual:
        return text_sql(expr, source)
    if target == UTC_DATETIME:
        # The same wall-clock time read as UTC, whatever the session's time zone.
        naive = expr if source == NAIVE_DATETIME else f"CAST({expr} AS timestamp without time zone)"
        return f"({naive} AT TIME ZONE 'UTC')"
    return f"CAST({expr} AS {postgres_type(target)})"


def _chain_sql(expr: str, chain: Sequence[DataType]) -> str:
    for source, target in zip(chain, chain[1:]):
        expr = convert_sql(expr, source, target)
    return expr


def _ts_sql(ts: dt.datetime) -> str:
    """A timestamp as a SQL literal (statements naming user identifiers take no parameters)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return f"TIMESTAMPTZ '{ts.astimezone(dt.timezone.utc).isoformat()}'"


def _values(column: Any) -> list[Any]:
    """A batch column as a Python list (Arrow arrays of the engine's fast path: ints, floats, str, bool)."""
    return column if isinstance(column, list) else list(column.to_pylist())


# -- errors --------------------------------------------------------------------------------------------


def environment_error(exc: BaseException, where: str) -> DestinationError | None:
    """The typed error for a psycopg failure the environment caused; None for anything else (a bug).

    ``where`` names the server (``PostgreSQL loader@db.example.com:5432/analytics``), never a password.
    """
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    state = getattr(exc, "sqlstate", None) or ""
    reason = _reason(exc)
    intact = "the last checkpoint is intact"
    if state == "53100":
        return DestinationFull(f"{where}: the server's disk is full ({reason}); free space on the database server, "
                               f"then run again: {intact}")
    if state == "53200":
        return DestinationOutOfMemory(f"{where}: the server ran out of memory ({reason}); lower --buffer-memory or "
                                      f"give the server more memory, then run again: {intact}")
    if state == "42501":
        return DestinationPermissionError(
            f"{where}: permission denied ({reason}); grant the user CREATE and TEMPORARY on the database (or CREATE "
            f"on the schema) and ownership of headwater's tables, then run again: {intact}")
    if state.startswith("28"):
        return DestinationPermissionError(f"{where}: cannot log in ({reason}); check the user and password")
    if state in ("55P03", "40P01"):
        return DestinationLocked(
            f"{where}: a table is locked by another session ({reason}); wait for the other session (another "
            f"headwater run, a long query or migration) to finish, then run again: {intact}")
    if state == "3D000":
        return DestinationError(f"{where}: the database does not exist ({reason}); create it first")
    if state in ("22021", "22P05"):
        return DestinationError(
            f"{where}: PostgreSQL cannot store a value ({reason}): text and jsonb cannot hold the character "
            "U+0000 (NUL); remove it from the value in the connector")
    if state.startswith("54"):
        return DestinationError(f"{where}: a PostgreSQL limit was exceeded ({reason}); {intact}")
    if state.startswith("58"):
        return DestinationError(f"{where}: the server had an input/output error ({reason}); check the database "
                                f"server, then run again: {intact}")
    if not state and isinstance(exc, psycopg.OperationalError):
        # Failures at connection time carry no SQLSTATE: recognise libpq's wording of the final ones.
        lowered = reason.lower()
        if "database" in lowered and "does not exist" in lowered:
            return DestinationError(f"{where}: the database does not exist ({reason}); create it first")
        if ("password authentication failed" in lowered or "no pg_hba.conf entry" in lowered
                or ('role "' in lowered and "does not exist" in lowered)):
            return DestinationPermissionError(f"{where}: cannot log in ({reason}); check the user, the password and "
                                              "the server's pg_hba.conf")
    if isinstance(exc, psycopg.OperationalError):
        # Connection refused or lost, server shutting down, too many connections, statement cancelled.
        return DestinationUnavailable(
            f"{where}: the server is unavailable ({reason}); check that it is running and reachable, then run "
            f"again: {intact}")
    return None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


# -- the destination -----------------------------------------------------------------------------------


class PostgresDestination:
    """Tables in one PostgreSQL database.

    Args:
        dsn: a libpq connection string or URI (``host=... dbname=... user=...`` or
            ``postgresql://user@host/db``); libpq's ``PG*`` environment variables fill what it omits.
        schema_default: the schema of tables a connector names without ``schema=`` (``schema`` is
            accepted for it too, as :class:`~headwater.destinations.duckdb.DuckDBDestination` names it).
        reserved_schemas: further schemas (folded) no connector may write to, besides PostgreSQL's own
            (``headwater run`` reserves its bookkeeping schema).
        lock_timeout: seconds to wait for a table lock held by another session before failing with
            :class:`~headwater.errors.DestinationLocked` (None: wait as long as it takes).
        connect_timeout: seconds to wait for the connection.
    """

    def __init__(self, dsn: str, *, schema_default: str | None = None, schema: str | None = None,
                 reserved_schemas: Iterable[str] = (), lock_timeout: float | None = 60.0,
                 connect_timeout: int = 10) -> None:
        if schema_default is None:
            schema_default = schema
        if schema_default is None or (schema is not None and schema != schema_default):
            raise TypeError("PostgresDestination() needs schema_default= (the schema of tables named without "
                            "schema=), given once")
        self.dsn = dsn
        self.capabilities = Capabilities(
            name="postgresql",
            default_schema=schema_default,
            fold=fold_ascii,
            max_identifier_length=MAX_IDENTIFIER_LENGTH,
            reserved_schemas=ReservedSchemas(RESERVED_SCHEMAS | {fold_ascii(s) for s in reserved_schemas}),
            transactional_ddl=True,
            # The engine tracks stored key ranges and says when a batch's keys cannot exist yet; such a
            # batch is a plain INSERT (half the cost of ON CONFLICT: see docs/postgres.md).
            merge=False,
        )
        self.lock_timeout = lock_timeout
        self.connect_timeout = connect_timeout
        self._con: psycopg.Connection[Any] | None = None
        self._where = _describe_dsn(dsn)
        # Per session: staging tables by their column types (they vanish when the transaction that
        # created them rolls back). Per transaction: those used (to truncate before reuse).
        self._stages: dict[tuple[str, ...], str] = {}
        self._stages_created: set[tuple[str, ...]] = set()   # in the open transaction
        self._stages_used: set[str] = set()
        self._stage_count = 0
        # Columns of each table, in order (system columns included): read once, kept up to date.
        self._columns: dict[tuple[str, str], list[str]] = {}
        self._schemas: set[str] = set()

    def __repr__(self) -> str:
        return f"PostgresDestination({self._where!r}, schema_default={self.capabilities.default_schema!r})"

    # -- connection ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect now, so that an unreachable server or a refused login fails before the sync starts."""
        self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._con is not None:
            return self._con
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            given = conninfo_to_dict(self.dsn)
        except psycopg.ProgrammingError as exc:
            raise DestinationError(f"invalid PostgreSQL connection string: {_reason(exc)}") from None
        extra: dict[str, Any] = {}
        if "application_name" not in given:
            extra["application_name"] = "headwater"
        if "connect_timeout" not in given:
            extra["connect_timeout"] = self.connect_timeout
        try:
            con = psycopg.connect(self.dsn, autocommit=False, **extra)
        except psycopg.Error as exc:
            typed = environment_error(exc, self._where)
            raise (typed or DestinationUnavailable(f"{self._where}: cannot connect ({_reason(exc)})")) from exc
        # No server-side prepared statements: they would outlive ALTER TABLE and rolled-back staging
        # tables, and a transaction-mode pooler cannot keep them anyway.
        con.prepare_threshold = None
        try:
            info = con.info
            self._where = f"PostgreSQL {info.user}@{info.host}:{info.port}/{info.dbname}"
            if info.server_version < MIN_SERVER_VERSION:
                raise DestinationError(f"{self._where}: the server is PostgreSQL {info.server_version // 10000}; "
                                       "headwater needs PostgreSQL 12 or later")
            lock = "0" if self.lock_timeout is None else f"{max(1, round(self.lock_timeout * 1000))}ms"
            for setting in (
                "SET TimeZone = 'UTC'",                      # timestamptz in and out as UTC
                "SET extra_float_digits = 1",                # shortest round-trip float text
                "SET standard_conforming_strings = on",      # '...' literals take backslashes as is
                "SET search_path = pg_catalog",              # no user object shadows a built-in one
                "SET idle_in_transaction_session_timeout = 0",  # a commit interval may wait for the source
                f"SET lock_timeout = '{lock}'",
                FLOAT_TEXT_FUNCTION,
            ):
                con.execute(setting)
            con.commit()
        except psycopg.Error as exc:
            con.close()
            typed = environment_error(exc, self._where)
            if typed is None:
                raise
            raise typed from exc
        except BaseException:
            con.close()
            raise
        self._con = con
        return con

    def _idle(self) -> bool:
        """No transaction is open (nothing written or read since the last commit point)."""
        from psycopg.pq import TransactionStatus

        return self._connect().info.transaction_status == TransactionStatus.IDLE

    def _error(self, exc: BaseException) -> DestinationError | None:
        return environment_error(exc, self._where)

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        """Run one statement in the open transaction (opening it)."""
        import psycopg

        cursor = self._connect().cursor()
        try:
            cursor.execute(sql, params)
        except psycopg.Error as exc:
            typed = self._error(exc)
            if typed is None:
                raise
            raise typed from exc
        return cursor

    def commit(self) -> None:
        """The commit point; nothing to do when nothing was written since the last one."""
        import psycopg

        if self._con is None:
            return
        self._stages_used.clear()  # ON COMMIT DELETE ROWS empties them
        self._stages_created.clear()
        try:
            self._con.commit()
        except psycopg.Error as exc:
            typed = self._error(exc)
            if typed is None:
                raise
            raise typed from exc

    def rollback(self) -> None:
        import psycopg

        self._forget()
        if self._con is None:
            return
        try:
            self._con.rollback()
        except psycopg.Error:
            pass  # a broken connection: the server rolls back what was not committed

    def _forget(self) -> None:
        """Drop what the rolled-back transaction may have changed: staging tables, columns, schemas."""
        for types in self._stages_created:
            del self._stages[types]
        self._stages_created.clear()
        self._stages_used.clear()
        self._columns.clear()
        self._schemas.clear()

    def close(self) -> None:
        """Roll back what was not committed and disconnect. Nothing else to remove: a sync that never
        committed has left nothing in the database (its DDL was in the rolled-back transaction)."""
        self.rollback()
        self._stages.clear()  # the session's temporary tables end with it
        self._stage_count = 0
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None

    # -- metadata -------------------------------------------------------------------------------------

    def tables(self) -> list[TableInfo]:
        """headwater's tables: those with both ``_fivetran_synced`` and ``_fivetran_deleted`` (other tables
        are left alone). The key is the PRIMARY KEY constraint; a key of ``_fivetran_id`` alone is a
        keyless table. Called before the first write: the read-only transaction it needs is ended, so
        none stays open while the connector fetches its first rows."""
        idle = self._idle()
        rows = self._execute(
            "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
            "COALESCE(array_position(pk.conkey, a.attnum), 0), "
            "CASE WHEN pk.oid IS NULL THEN obj_description(c.oid, 'pg_class') END "
            "FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p' "
            "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' "
            "ORDER BY n.nspname, c.relname, a.attnum"
        ).fetchall()
        found: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
        comments: dict[tuple[str, str], str | None] = {}
        for schema, table, column, type_name, key_position, comment in rows:
            found.setdefault((schema, table), []).append((column, type_name, key_position))
            comments[(schema, table)] = comment
        tables: list[TableInfo] = []
        for (schema, table), columns in found.items():
            if schema in RESERVED_SCHEMAS:
                continue
            names = [c[0] for c in columns]
            if SYNCED not in names or DELETED not in names:
                continue
            typed: list[tuple[str, DataType]] = []
            for name, type_name, _ in columns:
                if name in (SYNCED, DELETED, FIVETRAN_ID):
                    continue
                parsed = from_postgres(type_name)
                typed.append((name, parsed if parsed is not None else STRING))
            key = tuple(name for name, _, position in sorted(columns, key=lambda c: c[2]) if position > 0)
            if not key:
                key = _key_from_comment(comments[(schema, table)])  # key columns not made yet
            if key == (FIVETRAN_ID,):
                key = ()
            self._columns[(schema, table)] = names
            tables.append(TableInfo(schema, table, typed, key))
        if idle:
            self.commit()
        return tables

    def _table_columns(self, table: TableRef) -> list[str]:
        """The table's columns in order, system columns included (this transaction's changes too)."""
        known = self._columns.get((table.schema, table.name))
        if known is None:
            known = [row[0] for row in self._execute(
                "SELECT a.attname FROM pg_catalog.pg_attribute a "
                "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum", (table.schema, table.name)
            ).fetchall()]
            self._columns[(table.schema, table.name)] = known
        return known

    # -- DDL --------------------------------------------------------------------------------------------

    @staticmethod
    def qualified(table: TableRef) -> str:
        return f"{quote(table.schema)}.{quote(table.name)}"

    def _ensure_schema(self, schema: str) -> None:
        """Create the schema unless it exists. (CREATE SCHEMA IF NOT EXISTS would need the CREATE
        privilege on the database even when the schema exists: a loader that may only create tables
        in a schema its administrator made could not run.)"""
        if schema in self._schemas:
            return
        exists = self._execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        if exists is None:
            self._execute(f"CREATE SCHEMA {quote(schema)}")
        self._schemas.add(schema)

    def create_table(self, description: TableDescription) -> None:
        import psycopg

        t = description.ref
        self._ensure_schema(t.schema)
        parts = [f"{quote(name)} {postgres_type(dtype)}" for name, dtype in description.columns]
        names = [name for name, _ in description.columns]
        if not t.keyed:
            parts.append(f"{quote(FIVETRAN_ID)} text")
            names.append(FIVETRAN_ID)
        parts.append(f"{quote(SYNCED)} timestamp with time zone")
        parts.append(f"{quote(DELETED)} boolean")
        names += [SYNCED, DELETED]
        parts.extend(f"{quote(name)} {postgres_type(dtype)}" for name, dtype in description.appended)
        names += [name for name, _ in description.appended]
        # The key's columns may not exist yet (a declared table created before any row gave its key
        # columns a type): then the key waits in the table's comment until add_column completes it.
        key = _spelled(t.primary_key or (FIVETRAN_ID,), names)
        if key is not None:
            parts.append(f"PRIMARY KEY ({', '.join(quote(k) for k in key)})")
        try:
            self._execute(f"CREATE TABLE {self.qualified(t)} ({', '.join(parts)})")
        except psycopg.errors.DuplicateTable as exc:
            raise DestinationError(
                f"{self._where}: cannot create table {t.schema}.{t.name}: a table (or view) of that name exists "
                "and was not made by headwater (it has no _fivetran_synced and _fivetran_deleted columns); rename "
                "or drop it, or write the connector's table to another schema"
            ) from exc
        if key is None:
            self._execute(f"COMMENT ON TABLE {self.qualified(t)} IS {_text_literal(_key_comment(t.primary_key))}")
        self._columns[(t.schema, t.name)] = names

    def add_column(self, table: TableRef, name: str, dtype: DataType) -> None:
        columns = self._table_columns(table)
        self._execute(f"ALTER TABLE {self.qualified(table)} ADD COLUMN {quote(name)} {postgres_type(dtype)}")
        columns.append(name)
        if table.keyed and fold_ascii(name) in {fold_ascii(k) for k in table.primary_key}:
            key = _spelled(table.primary_key, columns)
            if key is not None and not self._has_primary_key(table):
                # The last key column of a table created before its key columns: the key is complete.
                self._execute(f"ALTER TABLE {self.qualified(table)} ADD PRIMARY KEY "
                              f"({', '.join(quote(k) for k in key)})")
                self._execute(f"COMMENT ON TABLE {self.qualified(table)} IS NULL")

    def _has_primary_key(self, table: TableRef) -> bool:
        return self._execute(
            "SELECT 1 FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE k.contype = 'p' AND n.nspname = %s AND c.relname = %s", (table.schema, table.name)
        ).fetchone() is not None

    def widen_column(self, table: TableRef, name: str, source: DataType, target: DataType) -> None:
        if source == target or (source.is_textual and target.is_textual):
            return  # XML and STRING share the text type
        column = quote(name)
        self._execute(
            f"ALTER TABLE {self.qualified(table)} ALTER COLUMN {column} TYPE {postgres_type(target)} "
            f"USING {convert_sql(column, source, target)}"
        )

    # -- staging --------------------------------------------------------------------------------------

    def _stage(self, columns: Sequence[tuple[str, Any]]) -> str:
        """Load columns (staging type, values) into a staging table with one binary COPY; its name.

        The columns are ``c0``, ``c1``... in the given order.
        """
        import psycopg

        types = tuple(staging for staging, _ in columns)
        name = self._stages.get(types)
        if name is None:
            table = f"hw_stage_{self._stage_count}"
            self._stage_count += 1
            definition = ", ".join(f"c{i} {staging}" for i, staging in enumerate(types))
            self._execute(f"CREATE TEMPORARY TABLE {table} ({definition}) ON COMMIT DELETE ROWS")
            name = f"pg_temp.{table}"
            self._stages[types] = name
            self._stages_created.add(types)
        elif name in self._stages_used:
            self._execute(f"TRUNCATE {name}")
        self._stages_used.add(name)
        lists = [_values(values) for _, values in columns]
        cursor = self._connect().cursor()
        try:
            with cursor.copy(f"COPY {name} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([_COPY_TYPE[staging] for staging in types])
                write = copy.write_row
                for row in zip(*lists):
                    write(row)
        except psycopg.Error as exc:
            typed = self._error(exc)
            if typed is None:
                raise
            raise typed from exc
        return name

    @staticmethod
    def _cast(expr: str, dtype: DataType | None) -> str:
        """A staged value as the column's type (JSON is staged as text)."""
        return f"({expr})::jsonb" if dtype is not None and dtype.name == "JSON" else expr

    def _key_columns(self, keys: KeyBatch) -> list[tuple[str, Any]]:
        return [(_staging_type(chain[-1]), values) for chain, values in zip(keys.chains, keys.values)]

    @staticmethod
    def _key_condition(keys: KeyBatch) -> str:
        """Stored key columns (converted along their chains) equal the staged ``hw_source.c<i>``."""
        parts = []
        for i, (name, chain) in enumerate(zip(keys.names, keys.chains)):
            column = f"hw_target.{quote(name)}"
            expr = _chain_sql(column, chain) if len(chain) > 1 else column
            parts.append(f"{expr} = {PostgresDestination._cast(f'hw_source.c{i}', chain[-1])}")
        return " AND ".join(parts)

    # -- data -----------------------------------------------------------------------------------------

    def upsert(self, table: TableRef, batch: Batch, *, synced: dt.datetime, new_keys: bool = False,
               key_range: tuple[Any, Any] | None = None, deleted: list[bool] | None = None) -> None:
        """INSERT ... ON CONFLICT (key) DO UPDATE: a stored row with the key is replaced as a whole
        (every column not in the batch becomes NULL); with ``new_keys`` a plain INSERT."""
        if len(batch) == 0:
            return
        staged: list[tuple[str, Any]] = []
        for dtype, values in zip(batch.types, batch.columns):
            if dtype is None:
                raise TypeError("an upsert batch has a typed column for every value")
            staged.append((_staging_type(dtype), values))
        if deleted is not None:
            staged.append(("boolean", deleted))
        stage = self._stage(staged)
        names = list(batch.names)
        selected = [self._cast(f"hw_source.c{i}", dtype) for i, dtype in enumerate(batch.types)]
        flag = f"COALESCE(hw_source.c{len(names)}, false)" if deleted is not None else "false"
        insert = (f"INSERT INTO {self.qualified(table)} AS hw_target "
                  f"({', '.join([*(quote(n) for n in names), quote(SYNCED), quote(DELETED)])}) "
                  f"SELECT {', '.join([*selected, _ts_sql(synced), flag])} FROM {stage} AS hw_source")
        stored = self._table_columns(table)
        key = _spelled(table.primary_key or (FIVETRAN_ID,), stored) or table.primary_key or (FIVETRAN_ID,)
        folded_key = {fold_ascii(k) for k in key}
        replaced = [c for c in stored if fold_ascii(c) not in folded_key] or [SYNCED, DELETED]
        sets = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in replaced)
        merge = f"{insert} ON CONFLICT ({', '.join(quote(k) for k in key)}) DO UPDATE SET {sets}"
        if not new_keys:
            self._execute(merge)
            return
        # The engine's key ranges say no stored row has these keys: a plain INSERT. Should another
        # writer have added one meanwhile, the savepoint turns the unique violation into the merge.
        import psycopg

        self._execute("SAVEPOINT hw_new_keys")
        try:
            self._connect().execute(insert)
        except psycopg.errors.UniqueViolation:
            self._execute("ROLLBACK TO SAVEPOINT hw_new_keys")
            self._execute(merge)
        except psycopg.Error as exc:
            typed = self._error(exc)
            if typed is None:
                raise
            raise typed from exc
        self._execute("RELEASE SAVEPOINT hw_new_keys")

    def update(self, table: TableRef, batch: UpdateBatch, *, synced: dt.datetime) -> int:
        """Set the given columns of stored rows (SEM-22); with repeated keys the last row setting a
        column wins, per column. Returns the number of rows changed."""
        keys = batch.keys
        n = len(keys)
        if n == 0:
            return 0
        staged = self._key_columns(keys)
        width = len(staged)
        value_slot: list[int] = []
        presence_slot: list[int | None] = []
        for values, dtype, present in zip(batch.columns.columns, batch.columns.types, batch.presence):
            if dtype is None:
                raise TypeError("an update batch has a typed column for every value")
            value_slot.append(len(staged))
            staged.append((_staging_type(dtype), values))
            if present is None:
                presence_slot.append(None)
            else:
                presence_slot.append(len(staged))
                staged.append(("boolean", present))
        seq_slot = len(staged)
        if batch.repeated:
            staged.append(("integer", list(range(n))))
        deleted_slot = len(staged) if batch.deleted is not None else None
        if batch.deleted is not None:
            staged.append(("boolean", batch.deleted))
        stage = self._stage(staged)
        if batch.repeated:
            key_list = ", ".join(f"c{i}" for i in range(width))
            parts = [key_list]
            for v, p in zip(value_slot, presence_slot):
                if p is None:
                    parts.append(f"(array_agg(c{v} ORDER BY c{seq_slot} DESC))[1] AS c{v}")
                else:
                    parts.append(f"(array_agg(c{v} ORDER BY c{seq_slot} DESC) FILTER (WHERE c{p}))[1] AS c{v}")
                    parts.append(f"bool_or(c{p}) AS c{p}")
            if deleted_slot is not None:
                parts.append(f"bool_or(c{deleted_slot}) AS c{deleted_slot}")
            source = f"(SELECT {', '.join(parts)} FROM {stage} GROUP BY {key_list})"
        else:
            source = stage
        sets = []
        for name, dtype, v, p in zip(batch.columns.names, batch.columns.types, value_slot, presence_slot):
            column = quote(name)
            value = self._cast(f"hw_source.c{v}", dtype)
            if p is None:
                sets.append(f"{column} = {value}")
            else:
                sets.append(f"{column} = CASE WHEN hw_source.c{p} THEN {value} ELSE hw_target.{column} END")
        sets.append(f"{quote(SYNCED)} = {_ts_sql(synced)}")
        if deleted_slot is not None:
            sets.append(f"{quote(DELETED)} = CASE WHEN hw_source.c{deleted_slot} THEN true "
                        f"ELSE hw_target.{quote(DELETED)} END")
        cursor = self._execute(
            f"UPDATE {self.qualified(table)} AS hw_target SET {', '.join(sets)} FROM {source} AS hw_source "
            f"WHERE {self._key_condition(keys)}"
        )
        return max(cursor.rowcount, 0)

    def soft_delete(self, table: TableRef, keys: KeyBatch, *, synced: dt.datetime) -> None:
        """Mark the rows with these keys deleted (SEM-24); missing keys do nothing; keys may repeat."""
        if len(keys) == 0:
            return
        stage = self._stage(self._key_columns(keys))
        self._execute(
            f"UPDATE {self.qualified(table)} AS hw_target SET {quote(DELETED)} = true, "
            f"{quote(SYNCED)} = {_ts_sql(synced)} FROM (SELECT DISTINCT * FROM {stage}) AS hw_source "
            f"WHERE {self._key_condition(keys)}"
        )

    def truncate(self, table: TableRef, *, synced: dt.datetime, written_before: dt.datetime | None = None) -> None:
        """Soft-delete every live row (SEM-26), or those not written since ``written_before`` (SEM-27)."""
        since = f" AND {quote(SYNCED)} < {_ts_sql(written_before)}" if written_before is not None else ""
        self._execute(
            f"UPDATE {self.qualified(table)} SET {quote(DELETED)} = true, {quote(SYNCED)} = {_ts_sql(synced)} "
            f"WHERE {quote(DELETED)} IS NOT TRUE{since}"
        )

    def existing_keys(self, table: TableRef, keys: KeyBatch) -> list[int]:
        """Positions (ascending) of the keys that name a stored row, this transaction's writes included."""
        n = len(keys)
        if n == 0:
            return []
        staged = self._key_columns(keys)
        position = len(staged)
        staged.append(("integer", list(range(n))))
        stage = self._stage(staged)
        rows = self._execute(
            f"SELECT hw_source.c{position} FROM {stage} AS hw_source WHERE EXISTS "
            f"(SELECT 1 FROM {self.qualified(table)} AS hw_target WHERE {self._key_condition(keys)}) "
            f"ORDER BY hw_source.c{position}"
        ).fetchall()
        return [int(r[0]) for r in rows]

    def key_range(self, table: TableRef, column: str) -> tuple[Any, Any] | None:
        """(min, max) of a stored column; None when the table has no rows. Text is compared byte-wise
        (COLLATE "C": UTF-8 byte order is code point order, as Python compares str), not by the
        database's collation, so the engine can compare the bounds with its own values."""
        kind = self._execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "AND column_name = %s", [table.schema, table.name, column]).fetchone()
        expr = quote(column) + (' COLLATE "C"' if kind is not None and kind[0] in ("text", "character varying")
                                else "")
        row = self._execute(f"SELECT min({expr}), max({expr}) FROM {self.qualified(table)}").fetchone()
        if row is None or row[0] is None:
            return None
        return row[0], row[1]

    # -- for headwater run's bookkeeping (headwater.destinations.bookkeeping) ---------------------------

    def bookkeeping_dialect(self) -> Any:
        """How bookkeeping SQL is written here: ``%s`` parameters, PostgreSQL quoting and types."""
        from headwater.destinations.bookkeeping import Dialect

        return Dialect(param="%s", quote=quote, catalog="", text="text", bigint="bigint",
                       timestamp="timestamp with time zone")

    def execute_in_transaction(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement in the open commit interval's transaction (opening it): it commits, or rolls
        back, with the interval's data. (``sql`` takes ``%s`` placeholders, so a literal ``%`` must be
        written ``%%`` when there are parameters.)"""
        cursor = self._execute(sql, parameters)
        return cursor.fetchall() if cursor.description is not None else []

    def execute_now(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement outside any commit interval and commit it at once (never while one is open)."""
        import psycopg

        if not self._idle():
            raise RuntimeError("execute_now() while a commit interval is open")
        try:
            cursor = self._execute(sql, parameters)
            rows = cursor.fetchall() if cursor.description is not None else []
        except BaseException:
            self.rollback()
            raise
        try:
            self._connect().commit()
        except psycopg.Error as exc:
            typed = self._error(exc)
            if typed is None:
                raise
            raise typed from exc
        return rows

    def _lock_key(self, connection: str) -> int:
        """The advisory lock key of a connection name: 64 bits of a hash, namespaced to headwater."""
        digest = hashlib.sha256(f"headwater connection {connection}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def acquire(self, connection: str) -> bool:
        """Lock ``connection`` for this worker: True, or False when another session holds it.

        A session-level advisory lock (``pg_try_advisory_lock``) in this database: it is held until
        :meth:`release` or until this session ends, so a worker that dies releases it with its
        connection. (Behind a transaction-pooling proxy such as PgBouncer in transaction mode, session
        locks and temporary tables do not work: connect directly or in session mode.)
        """
        idle = self._idle()
        row = self._execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key(connection),)).fetchone()
        if idle:
            self.commit()
        return bool(row and row[0])

    def release(self, connection: str) -> None:
        """Unlock ``connection``; nothing to do when the session is gone (its locks went with it)."""
        import psycopg

        if self._con is None or self._con.closed:
            return
        try:
            idle = self._idle()
            self._con.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key(connection),))
            if idle:
                self._con.commit()
        except psycopg.Error:
            pass



def _spelled(key: Sequence[str], columns: Sequence[str]) -> tuple[str, ...] | None:
    """The key's columns as the table spells them (names compare folded); None if one is missing."""
    by_fold = {fold_ascii(c): c for c in columns}
    spelled = tuple(by_fold.get(fold_ascii(k)) or "" for k in key)
    return None if "" in spelled else spelled


def _key_comment(key: Sequence[str]) -> str:
    return json.dumps({"headwater": {"primary_key": list(key)}})


def _key_from_comment(comment: str | None) -> tuple[str, ...]:
    """The key kept in a table comment (a table created before its key columns), or ()."""
    if not comment:
        return ()
    try:
        key = json.loads(comment)["headwater"]["primary_key"]
    except (ValueError, KeyError, TypeError):
        return ()
    return tuple(str(k) for k in key) if isinstance(key, list) else ()


def _text_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _describe_dsn(dsn: str) -> str:
    """``PostgreSQL user@host:port/dbname`` from a connection string, for messages (never its password)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - only for a message; a bad string is reported by connect
        return "PostgreSQL"
    host = given.get("host") or given.get("hostaddr") or "localhost"
    user = f"{given['user']}@" if given.get("user") else ""
    port = f":{given['port']}" if given.get("port") else ""
    database = f"/{given['dbname']}" if given.get("dbname") else ""
    return f"PostgreSQL {user}{host}{port}{database}"
