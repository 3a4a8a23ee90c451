"""State and data stay a pair: the saved state of ``headwater debug`` names the warehouse it belongs to.

``files/state.json`` holds exactly the connector's state (the spec fixes its content) and headwater
writes no other file there (CLI-7), so the pairing travels with the state file as an extended
attribute, ``user.headwater.warehouse``: the identity of the warehouse that held the data when the
state was saved (empty when the sync had not created a table yet). It is set on the temporary file
before that file is renamed over ``state.json``, so state and pairing are replaced together. The
DuckDB destination keeps its identity in its tables' comments.

Before a sync resumes from a saved state, :func:`check` refuses a state whose warehouse is missing
or is another one (deleted by hand, a reset killed half-way, a file copied in), with the two ways
out: ``headwater reset`` (start over) or ``headwater debug --full-resync`` (sync everything again
into the warehouse that is there, from an empty state). A state file without the attribute (saved
by an older headwater, copied without attributes, or on a file system without them) is accepted.
"""

from __future__ import annotations

import os
from pathlib import Path

from headwater.errors import StateFileError

__all__ = ["ATTRIBUTE", "StateWithoutDataError", "check", "mark", "read"]

ATTRIBUTE = "user.headwater.warehouse"


class StateWithoutDataError(StateFileError):
    """The saved state belongs to a warehouse that is missing or was replaced."""


def mark(path: Path, identity: str | None) -> None:
    """Record on the (temporary) state file which warehouse its state belongs to; silently skipped
    where the file system keeps no extended attributes."""
    setxattr = getattr(os, "setxattr", None)
    if setxattr is None:
        return
    try:
        setxattr(path, ATTRIBUTE, (identity or "").encode("ascii"))
    except OSError:
        pass


def read(path: Path) -> str | None:
    """The warehouse identity recorded on a state file: "" for none yet, None when nothing is recorded."""
    getxattr = getattr(os, "getxattr", None)
    if getxattr is None:
        return None
    try:
        return bytes(getxattr(path, ATTRIBUTE)).decode("ascii", "replace")
    except OSError:
        return None


def check(state_path: Path, warehouse_path: Path, identity: str | None) -> None:
    """Refuse to resume from ``state_path`` when its warehouse is missing or is another one.

    ``identity``: the identity of the warehouse at ``warehouse_path`` (None: it has none yet, or
    there is no warehouse).
    """
    expected = read(state_path)
    if not expected:
        return  # nothing recorded, or the state was saved before any table existed
    fixes = ("run `headwater reset` to start over, or `headwater debug --full-resync` to sync everything "
             "again from an empty state into the warehouse that is there")
    if not warehouse_path.exists():
        raise StateWithoutDataError(
            f"the saved state {state_path} belongs to a warehouse that is missing ({warehouse_path} was deleted "
            f"or moved); resuming from it would skip data that is not there: {fixes}"
        )
    if identity != expected:
        raise StateWithoutDataError(
            f"the saved state {state_path} belongs to another warehouse than {warehouse_path} (it was replaced "
            f"or re-created); resuming from it would skip data that is not there: {fixes}"
        )
