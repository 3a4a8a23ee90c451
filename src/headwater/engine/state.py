"""Where checkpointed state goes (SEM-55, SEM-56): replaced atomically, after the data commits."""

from __future__ import annotations

import os
import tempfile
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

    def save(self, text: str) -> None:
        folder = self.path.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        except FileNotFoundError:  # the first save, or files/ was removed meanwhile
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            # mkstemp makes the file private (0600); keep the mode the state file had, else 0644.
            os.chmod(tmp, self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
