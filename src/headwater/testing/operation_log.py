"""Record the operations a connector makes during an in-process sync.

::

    from headwater.testing.operation_log import OperationRecorder

    recorder = OperationRecorder()
    run_debug(dataclasses.replace(request, record_operations=True), on_event=recorder)
    assert [op.kind for op in recorder.operations][-1] == "checkpoint"

:func:`~headwater.testing.run_connector` does this for you (``result.operations``).

How it hooks in: a sync asked to ``record_operations`` sends an
:class:`~headwater.events.OperationAccepted` event (with a copy of the row) for every operation it
accepts; checkpoints come as :class:`~headwater.events.CheckpointCommitted` events. The recorder is
an ordinary event handler: nothing in headwater is replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from headwater.events import CheckpointCommitted, Event, OperationAccepted

__all__ = ["Operation", "OperationKind", "OperationRecorder"]

OperationKind = Literal["upsert", "update", "delete", "truncate", "checkpoint"]


@dataclass(frozen=True)
class Operation:
    """One operation the sync accepted, in call order.

    Attributes:
        kind: ``"upsert"``, ``"update"``, ``"delete"``, ``"truncate"`` or ``"checkpoint"``.
        table: the table name as the connector passed it (``None`` for a checkpoint).
        data: a copy of the row (upsert), the changed columns (update), the key (delete) or the
            state (checkpoint); ``None`` for a truncate.
        schema: the ``schema=`` argument, if the connector gave one.
        deferred: for a truncate, whether it was ``deferred=True``.
    """

    kind: OperationKind
    table: str | None
    data: dict[str, Any] | None
    schema: str | None = None
    deferred: bool = False


class OperationRecorder:
    """An event handler that keeps every accepted operation and checkpoint, in call order."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, OperationAccepted):
            self.operations.append(Operation(event.kind, event.table, event.data, event.schema, event.deferred))
        elif isinstance(event, CheckpointCommitted):
            self.operations.append(Operation("checkpoint", None, json.loads(event.state)))
