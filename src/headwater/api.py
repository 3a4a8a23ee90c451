"""The library entry point: :func:`sync` runs one sync of a connector project and returns its result.

::

    import headwater
    from headwater.events import CheckpointCommitted

    result = headwater.sync("my_connector", on_event=print)
    if not result.succeeded:
        raise SystemExit(result.error)

With no ``destination`` the sync writes into DuckDB at ``PROJECT/files/warehouse.db`` (schema
``tester``) and keeps its state in ``PROJECT/files/state.json``, exactly like ``headwater debug``;
pass any :class:`~headwater.destinations.base.Destination` and
:class:`~headwater.statestore.StateStore` to sync elsewhere. Nothing is printed except the
connector's own log lines; everything else arrives as events (:mod:`headwater.events`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.connector import Connector
    from headwater.destinations.base import Destination
    from headwater.events import EventHandler
    from headwater.result import SyncResult
    from headwater.statestore import StateStore

__all__ = ["sync"]


def sync(
    project: str | os.PathLike[str] | None = None,
    *,
    connector: Connector | None = None,
    configuration: Mapping[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
    naming: str | None = None,
    destination: Destination | None = None,
    state_store: StateStore | None = None,
    on_event: EventHandler | None = None,
    buffer_bytes: int | None = None,
    record_operations: bool = False,
    environ: Mapping[str, str] | None = None,
) -> SyncResult:
    """Run one sync and return what happened; never raises for problems of the connector or its inputs.

    Args:
        project: the folder holding connector.py (default: the working directory).
        connector: a :class:`~headwater.Connector` to run instead of loading ``project/connector.py``.
        configuration: the configuration (default: ``project/configuration.json``).
        state: the input state (default: the state store's, else ``project/files/state.json``).
        naming: ``"FIVETRAN"`` (default) or ``"SOURCE"``.
        destination: where the tables go (default: DuckDB in ``project/files/warehouse.db``). The
            sync opens it; closing it is the caller's (after the sync, which may be followed by
            reading back from it).
        state_store: where each checkpoint's state goes (default: ``project/files/state.json``).
        on_event: called with every :mod:`headwater.events` event, in order.
        buffer_bytes: memory for rows waiting for a commit point (default 256 MB).
        record_operations: also send an ``OperationAccepted`` event per operation (copies each row).
        environ: the environment to read ``FIVETRAN_*`` settings from (default: ``os.environ``).
    """
    from headwater.runner import DebugRequest, execute

    request = DebugRequest(
        project=project,
        configuration=dict(configuration) if configuration is not None else None,
        state=dict(state) if state is not None else None,
        naming=naming,
        connector=connector,
        buffer_bytes=buffer_bytes,
        destination=destination,
        state_store=state_store,
        record_operations=record_operations,
        environ=environ,
    )
    return execute(request, on_event=on_event)
