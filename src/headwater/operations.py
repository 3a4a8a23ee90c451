"""``Operations``: the calls a connector makes to emit data (API-30 to API-37).

Each static method validates its arguments and hands the operation to the sync that is running,
which buffers it (the engine never writes per row). Outside a sync every call raises
:class:`~headwater.errors.NoSyncRunningError` (ERR-OP-9)::

    from headwater import Operations as op

    def update(configuration, state):
        op.upsert("users", {"id": 1, "name": "Ada"})
        op.checkpoint({"cursor": 1})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.errors import NoSyncRunningError, UnsupportedArgumentError

if TYPE_CHECKING:
    from headwater.engine.sync import Sync

__all__ = ["Operations", "active_sync", "bind"]

_active: Sync | None = None


def bind(sync: Sync | None) -> Sync | None:
    """Make ``sync`` the one operations go to (``None`` ends it); returns the previous one."""
    global _active
    previous, _active = _active, sync
    return previous


def active_sync() -> Sync | None:
    return _active


def no_sync_error(name: str, why: str = "") -> NoSyncRunningError:
    """ERR-OP-9, for any operation called while no sync is running."""
    detail = f" ({why})" if why else ""
    return NoSyncRunningError(
        f"Operations.{name}() was called but no sync is running{detail}; call operations only from "
        "update() (or code it calls while it runs), never at import time or after update() returned"
    )


def no_file_error(name: str) -> UnsupportedArgumentError:
    """ERR-OP-10: ``file=`` uploads are not supported."""
    return UnsupportedArgumentError(
        f"Operations.{name}(file=...) is not supported by headwater: file uploads are not "
        "implemented; remove the file argument"
    )


class Operations:
    """The Connector SDK's operations, implemented by headwater."""

    @staticmethod
    def upsert(table: str, data: dict[str, Any], *, schema: str | None = None, file: Any = None) -> None:
        """Insert the row, or replace the row with the same primary key (SEM-21)."""
        sync = _active
        if sync is None:
            raise no_sync_error("upsert")
        sync.upsert(table, data, schema, file)

    @staticmethod
    def update(table: str, modified: dict[str, Any], *, schema: str | None = None, file: Any = None) -> None:
        """Change the given columns of the row with that primary key; no effect if it is missing (SEM-22)."""
        sync = _active
        if sync is None:
            raise no_sync_error("update")
        sync.update(table, modified, schema, file)

    @staticmethod
    def delete(table: str, keys: dict[str, Any], *, schema: str | None = None) -> None:
        """Soft-delete the row with that primary key (SEM-24)."""
        sync = _active
        if sync is None:
            raise no_sync_error("delete")
        sync.delete(table, keys, schema)

    @staticmethod
    def truncate(table: str, *, schema: str | None = None, deferred: bool = False) -> None:
        """Soft-delete every row of the table, now or (``deferred=True``) at the end of a successful sync."""
        sync = _active
        if sync is None:
            raise no_sync_error("truncate")
        sync.truncate(table, schema, deferred)

    @staticmethod
    def checkpoint(state: dict[str, Any]) -> None:
        """Commit everything since the previous checkpoint, then save ``state`` (SEM-50 to SEM-55)."""
        sync = _active
        if sync is None:
            raise no_sync_error("checkpoint")
        sync.checkpoint(state)

    @staticmethod
    def warning(message: str) -> None:
        """Log a warning with origin ``connector``; the sync continues (API-33)."""
        sync = _active
        if sync is None:
            raise no_sync_error("warning")
        sync.warning(message)

    @staticmethod
    def error(message: str, trace: str | None = None) -> None:
        """Log the error and fail the sync, even if the raised exception is caught (API-34)."""
        sync = _active
        if sync is None:
            raise no_sync_error("error")
        sync.error(message, trace)

