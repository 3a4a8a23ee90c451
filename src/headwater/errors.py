"""Every error headwater raises on purpose (spec: errors.md).

::

    HeadwaterError                          exit status 1 unless said otherwise
    ├── UsageError                          bad command line (ERR-CLI-1, -2, -4); exit status 2
    ├── ProjectError                        project path missing or not a folder (ERR-CLI-3)
    ├── ConfigurationError(ValueError)      configuration file (ERR-CFG-*)
    ├── StateFileError(ValueError)          state file (ERR-STATE-*)
    ├── ConnectorLoadError                  connector.py and its Connector (ERR-LOAD-*)
    ├── DestinationError                    the destination failed (environment, not a bug)
    │   ├── WarehouseError                  warehouse cannot be opened (ERR-WH-1)
    │   ├── DestinationUnavailable          server unreachable, connection lost (retryable)
    │   ├── DestinationLocked               another process holds the store (retryable)
    │   ├── DestinationFull                 no space left on the device
    │   ├── DestinationPermissionError      no permission to write the store
    │   └── DestinationOutOfMemory          the destination ran out of memory
    ├── StateStoreError                     the checkpoint's state could not be saved
    ├── SchemaDeclarationError(ValueError)  what schema() returned (ERR-SCHEMA-*)
    ├── SchemaEvolutionError                declared schema against the warehouse (ERR-EVOL-*)
    ├── OperationError                      raised from an op.* call at the connector's line (ERR-OP-*, ERR-CKPT-*)
    │   ├── OperationTypeError(TypeError)
    │   ├── OperationValueError(ValueError)
    │   ├── NoSyncRunningError(RuntimeError)
    │   ├── SyncAlreadyFailedError(RuntimeError)
    │   ├── UnsupportedArgumentError(NotImplementedError)
    │   └── ConnectorReportedError(RuntimeError)   raised by Operations.error()
    └── SyncError                           the sync failed in connector code (ERR-SCHEMA-1, ERR-UPD-*)
        └── SyncInterrupted                 Ctrl-C during the sync (ERR-6); exit status 130
    Terminated(KeyboardInterrupt)           SIGTERM during a sync, handled like Ctrl-C; exit status 143

Operation errors also subclass the builtin the spec names (API-32), so a connector that catches
``ValueError`` catches them. Messages name the offending value and, where one exists, the fix.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ConfigurationError",
    "ConnectorLoadError",
    "ConnectorReportedError",
    "DestinationError",
    "DestinationFull",
    "DestinationLocked",
    "DestinationOutOfMemory",
    "DestinationPermissionError",
    "DestinationUnavailable",
    "HeadwaterError",
    "NoSyncRunningError",
    "OperationError",
    "OperationTypeError",
    "OperationValueError",
    "ProjectError",
    "SchemaDeclarationError",
    "SchemaEvolutionError",
    "StateFileError",
    "StateStoreError",
    "SyncAlreadyFailedError",
    "SyncError",
    "SyncInterrupted",
    "Terminated",
    "UnsupportedArgumentError",
    "UsageError",
    "WarehouseError",
]


class HeadwaterError(Exception):
    """Root of every error headwater raises on purpose."""

    exit_code: ClassVar[int] = 1
    #: True for errors found before the sync starts (ERR-3): no summary is printed.
    before_sync: ClassVar[bool] = True

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UsageError(HeadwaterError):
    """The command line is wrong."""

    exit_code = 2


class ProjectError(HeadwaterError):
    """The project path does not exist or is not a directory."""


class ConfigurationError(HeadwaterError, ValueError):
    """The configuration file is missing, not JSON, not an object, or holds non-string values."""


class StateFileError(HeadwaterError, ValueError):
    """The state file is missing, not JSON, or not an object."""


class ConnectorLoadError(HeadwaterError):
    """connector.py is missing, fails to import, or has no usable ``connector`` object."""


class DestinationError(HeadwaterError):
    """The destination failed for a reason of its environment; the last commit point is intact.

    ``retryable``: running the sync again later may succeed without any change (a lost connection,
    a lock another process holds).
    """

    retryable: ClassVar[bool] = False
    before_sync = False


class WarehouseError(DestinationError):
    """The warehouse file cannot be opened."""

    before_sync = True


class DestinationUnavailable(DestinationError):
    """The destination cannot be reached, or the connection was lost."""

    retryable = True


class DestinationLocked(DestinationError):
    """Another process holds the destination's store."""

    retryable = True


class DestinationFull(DestinationError):
    """No space is left where the destination writes."""


class DestinationPermissionError(DestinationError):
    """The destination may not write where it must."""


class DestinationOutOfMemory(DestinationError):
    """The destination ran out of memory."""


class StateStoreError(HeadwaterError):
    """The state of a checkpoint could not be saved (the checkpoint's data is committed)."""

    before_sync = False


class SchemaDeclarationError(HeadwaterError, ValueError):
    """What ``schema()`` returned is not a valid declaration."""

    before_sync = False


class SchemaEvolutionError(HeadwaterError):
    """The declared schema cannot be applied to the existing warehouse."""

    before_sync = False


class OperationError(HeadwaterError):
    """An ``Operations`` call was refused; raised at the connector's call site."""

    before_sync = False


class OperationTypeError(OperationError, TypeError):
    """An operation argument has the wrong Python type."""


class OperationValueError(OperationError, ValueError):
    """An operation argument has a wrong value."""


class NoSyncRunningError(OperationError, RuntimeError):
    """An operation was called while no sync is running (ERR-OP-9)."""


class SyncAlreadyFailedError(OperationError, RuntimeError):
    """``checkpoint`` after ``Operations.error`` (ERR-CKPT-3)."""


class UnsupportedArgumentError(OperationError, NotImplementedError):
    """An argument headwater v1 does not support, such as ``file=`` (ERR-OP-10)."""


class ConnectorReportedError(OperationError, RuntimeError):
    """Raised from ``Operations.error(message)``; the sync is failed from then on (API-34)."""


class SyncError(HeadwaterError):
    """The sync failed because of the connector's code."""

    before_sync = False


class SyncInterrupted(SyncError):
    """The sync was interrupted (Ctrl-C)."""

    exit_code = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during a sync: handled like Ctrl-C (rollback to the last checkpoint), exit status 143."""

    exit_code = 143
