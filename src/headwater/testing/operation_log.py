"""Record the operations a connector makes during an in-process sync.

::

    from headwater.testing.operation_log import record_operations

    with record_operations() as operations:
        run_debug(request)
    assert [op.kind for op in operations][-1] == "checkpoint"

:func:`~headwater.testing.run_connector` does this for you (``result.operations``).

How it hooks in: when a sync starts, the runner hands it to :func:`headwater.operations.bind`,
after which every ``Operations`` call (``op.upsert``, an ``up = op.upsert`` taken earlier, the
``yield`` style) ends in that sync's methods. Inside the ``with`` block ``bind`` is wrapped so
that the sync it receives gets recording methods on the instance; the engine itself is left
untouched and the wrapper is removed when the block ends.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from headwater import operations

__all__ = ["Operation", "OperationKind", "record_operations"]

OperationKind = Literal["upsert", "update", "delete", "truncate", "checkpoint"]

_KEYED: tuple[OperationKind, ...] = ("upsert", "update", "delete")
_lock = threading.Lock()


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


def _copy(data: Any) -> Any:
    """A deep copy, so later changes to the connector's dict do not show; shallow if that fails."""
    try:
        return copy.deepcopy(data)
    except Exception:  # noqa: BLE001 - an uncopyable value (a lock, a generator) must not fail the sync
        return dict(data) if isinstance(data, dict) else data


def _instrument(sync: Any, recorded: list[Operation]) -> None:
    """Give ``sync`` instance methods that record each accepted call, then forward it."""

    def keyed(kind: OperationKind) -> Callable[..., None]:
        method: Callable[..., None] = getattr(sync, kind)

        def call(table: Any, data: Any, schema: Any = None, *args: Any, **kwargs: Any) -> None:
            method(table, data, schema, *args, **kwargs)
            recorded.append(Operation(kind, table, _copy(data), schema))

        return call

    truncate: Callable[..., None] = sync.truncate
    checkpoint: Callable[..., None] = sync.checkpoint

    def record_truncate(table: Any, schema: Any, deferred: Any) -> None:
        truncate(table, schema, deferred)
        recorded.append(Operation("truncate", table, None, schema, bool(deferred)))

    def record_checkpoint(state: Any) -> None:
        checkpoint(state)
        recorded.append(Operation("checkpoint", None, _copy(state)))

    for kind in _KEYED:
        setattr(sync, kind, keyed(kind))
    sync.truncate = record_truncate
    sync.checkpoint = record_checkpoint


@contextmanager
def record_operations() -> Iterator[list[Operation]]:
    """Record every operation accepted by a sync started inside the block.

    Yields the list that fills up as the sync runs. Operations a sync refused (bad arguments)
    are not in it; operations rolled back by a failed sync are (they were accepted).
    """
    recorded: list[Operation] = []
    with _lock:
        original = operations.bind

        def bind(sync: Any) -> Any:
            if sync is not None:
                _instrument(sync, recorded)
            return original(sync)

        operations.bind = bind
    try:
        yield recorded
    finally:
        with _lock:
            operations.bind = original
