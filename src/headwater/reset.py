"""``headwater reset`` (CLI-20): delete the warehouse and the saved state of a project.

The project's lock (:mod:`headwater.projectlock`) is held meanwhile, so a reset never runs under a
sync. The state goes first, then the warehouse: a reset killed half-way leaves a warehouse without
a state (the next sync starts from scratch and replaces the rows), never a state without its data.
"""

from __future__ import annotations

from pathlib import Path

from headwater.errors import HeadwaterError
from headwater.projectlock import ProjectLock

__all__ = ["ResetRefused", "reset_project", "reset_targets"]


class ResetRefused(HeadwaterError):
    """A file could not be deleted."""


def reset_targets(project: Path) -> list[Path]:
    """The files ``reset`` would delete that exist now, in the order it deletes them."""
    files = project / "files"
    candidates = [files / "state.json", files / "warehouse.db", files / "warehouse.db.wal"]
    return [path for path in candidates if path.exists()]


def reset_project(project: Path, *, wait: bool = False) -> list[Path]:
    """Delete files/state.json, then the warehouse and its WAL; remove files/ when it is left empty.

    Raises :class:`~headwater.projectlock.ProjectBusy` while a sync (or another reset) holds the project.
    """
    with ProjectLock(project, wait=wait, what="reset"):
        return _reset(project)


def _reset(project: Path) -> list[Path]:
    removed: list[Path] = []
    for path in reset_targets(project):
        try:
            path.unlink()
        except OSError as exc:
            raise ResetRefused(f"cannot delete {path}: {exc.strerror}; close programs using it and retry") from exc
        removed.append(path)
    files = project / "files"
    try:
        if files.is_dir() and not any(files.iterdir()):
            files.rmdir()
    except OSError:
        pass
    return removed
