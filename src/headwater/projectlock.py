"""One lock per project folder, held by ``headwater debug`` and ``headwater reset`` alike.

The lock is an advisory ``flock`` on the project folder itself, so taking it creates nothing: a run
that finds the project busy leaves it exactly as it was, and a run only ever deletes what it created
while holding the lock. The operating system releases the lock when the process ends, however it
ends (a SIGKILL included), so a crashed run never leaves the project locked.

    with ProjectLock(project, wait=False, what="debug"):
        ...  # the sync
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import TracebackType

from headwater.errors import HeadwaterError

__all__ = ["ProjectBusy", "ProjectLock"]


class ProjectBusy(HeadwaterError):
    """Another headwater process holds the project (a sync or a reset)."""


class ProjectLock:
    """An exclusive lock on a project folder; ``wait``: block until the other process is done."""

    def __init__(self, project: Path, *, wait: bool = False, what: str = "debug") -> None:
        self.project = Path(project)
        self.wait = wait
        self.what = what
        self.waited = 0.0
        self._fd: int | None = None

    def acquire(self) -> None:
        if sys.platform == "win32":  # no flock: the warehouse file's own lock is the only guard there
            return
        import fcntl

        fd = os.open(self.project, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self.wait:
                os.close(fd)
                raise ProjectBusy(
                    f"project {self.project} is in use by another headwater process (a debug run or a reset); "
                    f"wait for it to finish, or run `headwater {self.what} --wait` to wait for it"
                ) from None
            started = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.waited = time.monotonic() - started
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
