"""``headwater reset`` (CLI-20): delete the warehouse and the saved state of a project."""

from __future__ import annotations

from pathlib import Path

from headwater.errors import HeadwaterError

__all__ = ["ResetRefused", "reset_project", "reset_targets"]


class ResetRefused(HeadwaterError):
    """A file could not be deleted."""


def reset_targets(project: Path) -> list[Path]:
    """The files ``reset`` would delete that exist now."""
    files = project / "files"
    candidates = [files / "warehouse.db", files / "warehouse.db.wal", files / "state.json"]
    return [path for path in candidates if path.exists()]


def reset_project(project: Path) -> list[Path]:
    """Delete the warehouse, its WAL and files/state.json; remove files/ when it is left empty."""
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
