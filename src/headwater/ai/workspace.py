"""The project's files as the loop sees them: read, shown to the model, edited by it, diffed.

The loop works in a staging copy of the project. :func:`apply_reply` writes what the model answered
into it, refusing paths that leave the project or touch ``files/`` or ``.git/``, and rewrites every
value of a ``configuration.json`` to a placeholder, so no real value can end up in a generated one.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Final

from headwater.ai.client import ModelReply
from headwater.ai.errors import UnsafePathError
from headwater.ai.redaction import REDACTED, Redactor

__all__ = [
    "CONFIGURATION",
    "apply_reply",
    "copy_project",
    "is_placeholder",
    "placeholder_configuration",
    "project_files",
    "render_files",
    "safe_path",
    "unified_diff",
    "write_files",
]

CONFIGURATION: Final = "configuration.json"
EXAMPLE_CONFIGURATION: Final = "configuration.example.json"
SKIPPED_DIRS: Final = frozenset({
    "files", ".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "venv", ".hypothesis",
})
MAX_FILE_CHARS: Final = 60_000
PLACEHOLDER_VALUE: Final = re.compile(r"^<[^<>]+>$")
FENCES: Final = {".py": "python", ".json": "json", ".md": "markdown", ".txt": "text", ".toml": "toml"}


def is_placeholder(value: object) -> bool:
    """True for values like ``<YOUR_API_KEY>``: what a generated configuration.json may hold."""
    return isinstance(value, str) and bool(PLACEHOLDER_VALUE.match(value.strip())) and value.strip() != REDACTED


def safe_path(path: str) -> PurePosixPath:
    """A model-given path as a relative POSIX path inside the project, or :class:`UnsafePathError`."""
    cleaned = path.strip().replace("\\", "/")
    candidate = PurePosixPath(cleaned)
    if not cleaned or candidate.is_absolute() or re.match(r"^[A-Za-z]:", cleaned):
        raise UnsafePathError(f"file path {path!r} must be relative to the project folder, e.g. connector.py")
    parts = [part for part in candidate.parts if part not in ("", ".")]
    if not parts or ".." in parts:
        raise UnsafePathError(f"file path {path!r} leaves the project folder; write files inside it")
    if parts[0] in SKIPPED_DIRS:
        raise UnsafePathError(f"file path {path!r} is inside {parts[0]}/, which belongs to headwater or git")
    return PurePosixPath(*parts)


def project_files(root: Path) -> dict[str, str]:
    """Every text file of the project (relative POSIX path -> text), without files/, .git/ and caches."""
    found: dict[str, str] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found[relative.as_posix()] = text
    return found


def copy_project(source: Path, target: Path, *, skip: Iterable[str] = ()) -> None:
    """Copy the project's files (not files/, .git/, caches, nor the relative paths in ``skip``)."""
    skipped = set(skip)
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in SKIPPED_DIRS for part in relative.parts) or relative.as_posix() in skipped:
            continue
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def placeholder_configuration(text: str) -> str:
    """configuration.json text with every value that is not already a ``<placeholder>`` made one.

    Text that is not a JSON object is returned unchanged (lint reports it).
    """
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if not isinstance(parsed, dict):
        return text
    cleaned = {
        str(key): value if is_placeholder(value) else f"<{re.sub(r'[^A-Za-z0-9]+', '_', str(key)).strip('_').upper()}>"
        for key, value in parsed.items()
    }
    return json.dumps(cleaned, indent=2) + "\n"


def apply_reply(root: Path, reply: ModelReply) -> list[str]:
    """Write the reply's files into ``root`` and delete the files it names; return the paths changed."""
    for path in [*reply.deleted, *(edit.path for edit in reply.files)]:
        safe_path(path)  # refuse the whole answer before writing any of it
    changed: list[str] = []
    for relative in reply.deleted:
        target = root / safe_path(relative)
        if target.is_file():
            target.unlink()
            changed.append(safe_path(relative).as_posix())
    for edit in reply.files:
        relative_path = safe_path(edit.path)
        content = edit.content
        if relative_path.as_posix() in (CONFIGURATION, EXAMPLE_CONFIGURATION):
            content = placeholder_configuration(content)
        target = root / relative_path
        if target.is_dir():
            raise UnsafePathError(f"file path {edit.path!r} is a folder in the project; write a file path")
        target.parent.mkdir(parents=True, exist_ok=True)
        before = target.read_text(encoding="utf-8") if target.is_file() else None
        if before != content:
            target.write_text(content, encoding="utf-8", newline="\n")
            changed.append(relative_path.as_posix())
    _vendor_if_imported(root, reply)
    return changed


def _vendor_if_imported(root: Path, reply: ModelReply) -> None:
    """The starter imports ``headwater_helpers`` (the vendored headwater.http); a project whose code
    does so gets the copy, as ``headwater init`` gives it (docs/vendoring.md)."""
    if (root / "headwater_helpers").is_dir():
        return
    if any("headwater_helpers" in edit.content for edit in reply.files if edit.path.endswith(".py")):
        from headwater.vendor import vendor

        vendor(root)


def write_files(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``root``."""
    for relative, content in files.items():
        target = root / safe_path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8", newline="\n")


def render_files(files: Mapping[str, str], redactor: Redactor) -> str:
    """Files as Markdown sections for a prompt: configuration.json as key names only, secrets redacted."""
    sections: list[str] = []
    for path, text in sorted(files.items()):
        if path == CONFIGURATION:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            text = json.dumps(redactor.configuration(parsed), indent=2) if isinstance(parsed, dict) else REDACTED
        if len(text) > MAX_FILE_CHARS:
            text = text[:MAX_FILE_CHARS] + "\n... (cut: the file is longer)"
        fence = FENCES.get(PurePosixPath(path).suffix, "")
        sections.append(f"## {path}\n\n````{fence}\n{redactor.text(text).rstrip()}\n````\n")
    return "\n".join(sections) if sections else "(no files yet)"


def unified_diff(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    """A unified diff of two file sets (relative path -> text), file by file in path order."""
    chunks: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        chunks.extend(difflib.unified_diff(
            (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
            fromfile=f"a/{path}" if old is not None else "/dev/null",
            tofile=f"b/{path}" if new is not None else "/dev/null",
        ))
        if chunks and not chunks[-1].endswith("\n"):
            chunks[-1] += "\n"
    return "".join(chunks)
