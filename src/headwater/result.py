"""What one sync did: :class:`SyncResult`, returned by :func:`headwater.sync`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Counters", "SyncResult", "plural"]


@dataclass
class Counters:
    """The summary's counters (SEM-70)."""

    upserts: int = 0
    updates: int = 0
    deletes: int = 0
    truncates: int = 0
    schema_changes: int = 0
    checkpoints: int = 0


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


@dataclass
class SyncResult:
    """The outcome of one sync.

    Attributes:
        exit_code: the CLI's exit status for it (0 success, 1 failed, 70 internal error, 130/143 interrupted).
        started: schema() or update() was called (the summary applies).
        succeeded: update() returned and the last commit point is done.
        error: the one-line error message (secrets masked), None on success.
        counters: operation counts (SEM-70); None when the sync never started.
        checkpoints: the state JSON text of each commit point, in order.
        tables: rows written per table (label), committed or not.
        seconds: wall time of the sync; ``engine_seconds``: headwater's writing share;
            ``op_seconds``: time inside op.* calls (with profiling only).
        warehouse: the destination's file, for file destinations.
        retryable: the failure came from the destination's environment and may pass on a rerun.
    """

    exit_code: int
    started: bool = False
    succeeded: bool = False
    error: str | None = None
    counters: Counters | None = None
    checkpoints: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    engine_seconds: float = 0.0
    op_seconds: float = 0.0
    warehouse: Path | None = None
    retryable: bool = False

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def finished_line(self) -> str:
        """The log line of a successful sync's end."""
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        checkpoints = self.counters.checkpoints if self.counters is not None else 0
        return (f"sync finished: {plural(self.rows, 'row')} in {plural(len(self.tables), 'table')}, "
                f"{plural(checkpoints, 'checkpoint')}, {self.seconds:.2f}s ({rate:,.0f} rows/s)")
