"""``ast.parse`` that threads may call at once.

CPython 3.11 keeps the AST validator's recursion depth in interpreter-wide state: two threads
parsing at the same moment can fail with ``SystemError: AST constructor recursion depth mismatch``
(seen when ``headwater generate``'s evaluation runs cases in parallel). Every parse in headwater goes
through this lock; parsing is fast and happens once per file.
"""

from __future__ import annotations

import ast
import threading

__all__ = ["parse"]

_LOCK = threading.Lock()


def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    with _LOCK:
        return ast.parse(source, filename=filename)
