"""Where checkpointed state goes (SEM-55, SEM-56): replaced atomically, after the data commits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

__all__ = ["FileStateStore", "StateStore"]


class StateStore(Protocol):
    """Saves the state JSON text of a checkpoint."""

    def save(self, text: str) -> None: ...


class FileStateStore:
    """Writes the state to a temporary file in the same folder, fsyncs it, then renames it over the old one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # The state file's mode, kept across saves (0644 for a new one); read at the first save.
        self._mode: int | None = None
        # One temporary name per process, reused by each save (a killed run may leave its own behind).
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def save(self, text: str) -> None:
        if self._mode is None:
            self._mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self._tmp, flags, 0o600)
        except FileNotFoundError:  # the first save, or files/ was removed meanwhile
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._tmp, flags, 0o600)
        try:
            try:
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, self._mode)
                else:  # Windows before Python 3.13
                    os.chmod(self._tmp, self._mode)
                data = text.encode("utf-8")
                while data:
                    data = data[os.write(fd, data):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self._tmp, self.path)
        except BaseException:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            raise
