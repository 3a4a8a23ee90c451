"""Rules on configuration.json: an object of strings, and no committed secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.lint.context import ProjectContext
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.sensitive import describe_token, is_secret_name, is_secret_value

__all__ = ["ConfigurationFile", "read_configuration"]

CONFIGURATION = "configuration.json"


@dataclass(frozen=True)
class ConfigurationFile:
    """configuration.json as read: its text, the parsed value (if it parsed) and value positions."""

    display: str
    text: str
    value: Any
    error: json.JSONDecodeError | None
    positions: dict[str, tuple[int, int]]


def read_configuration(project: ProjectContext) -> ConfigurationFile | None:
    path = project.root / CONFIGURATION
    if not path.is_file():
        return None
    display = project.display(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ConfigurationFile(display, "", None, json.JSONDecodeError("not UTF-8 text", "", 0), {})
    if not text.strip():
        return ConfigurationFile(display, text, {}, None, {})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return ConfigurationFile(display, text, None, exc, {})
    return ConfigurationFile(display, text, value, None, _top_level_positions(text))


def _top_level_positions(text: str) -> dict[str, tuple[int, int]]:
    """Line and column (1-based) of each top-level key's value in a JSON object's text."""
    positions: dict[str, tuple[int, int]] = {}
    depth = 0
    index = 0
    pending_key: str | None = None
    line_starts = [0]
    for offset, character in enumerate(text):
        if character == "\n":
            line_starts.append(offset + 1)

    def where(offset: int) -> tuple[int, int]:
        low, high = 0, len(line_starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if line_starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low + 1, offset - line_starts[low] + 1

    expecting_value = False
    while index < len(text):
        character = text[index]
        if character == '"':
            end = index + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if depth == 1 and expecting_value and pending_key is not None:
                positions[pending_key] = where(index)
                pending_key, expecting_value = None, False
            elif depth == 1 and not expecting_value:
                try:
                    pending_key = json.loads(text[index:end + 1])
                except json.JSONDecodeError:
                    pending_key = None
            index = end + 1
            continue
        if character == ":" and depth == 1:
            expecting_value = True
        elif character in "{[":
            if depth == 1 and expecting_value and pending_key is not None:
                positions[pending_key] = where(index)
                pending_key, expecting_value = None, False
            depth += 1
        elif character in "}]":
            depth -= 1
        elif character == ",":
            expecting_value = False if depth == 1 else expecting_value
        elif not character.isspace() and depth == 1 and expecting_value and pending_key is not None:
            positions[pending_key] = where(index)
            pending_key, expecting_value = None, False
        index += 1
    return positions


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}.get(type(value), "value")


# ------------------------------------------------------------------------------------ HW040
@rule(
    "HW040", "configuration-not-strings", "error",
    summary="configuration.json is not a JSON object whose values are all strings.",
    why="""The SDK passes configuration.json to update() as a dict of strings, and rejects the
    file otherwise: every value must be a JSON string, numbers and booleans included
    ("100", "true"). Parse them in the connector.""",
    fix='Quote the value: `"page_size": "100"`, and convert it in the connector: `int(configuration["page_size"])`.',
    bad=Example('''
        {
          "api_base": "https://api.example.com",
          "page_size": 100
        }
    ''', file="configuration.json", line=3),
    good=Example('''
        {
          "api_base": "https://api.example.com",
          "page_size": "100"
        }
    ''', file="configuration.json"),
)
def check_configuration_shape(project: ProjectContext) -> Iterator[Violation]:
    configuration = read_configuration(project)
    if configuration is None:
        return
    if configuration.error is not None:
        error = configuration.error
        yield Violation(configuration.display, error.lineno, error.colno,
                        f"{CONFIGURATION} is not valid JSON: {error.msg}",
                        'write a JSON object of strings, e.g. {"api_key": "...", "page_size": "100"}')
        return
    if not isinstance(configuration.value, dict):
        yield Violation(configuration.display, 1, 1,
                        f"{CONFIGURATION} holds a JSON {_json_type(configuration.value)}, not an object",
                        'write a JSON object of strings, e.g. {"api_key": "...", "page_size": "100"}')
        return
    for key, value in configuration.value.items():
        if not isinstance(value, str):
            line, col = configuration.positions.get(key, (1, 1))
            shown = json.dumps(value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            hint = (f'quote it: "{key}": {json.dumps(shown)}, and convert it in the connector'
                    if isinstance(value, (int, float, bool))
                    else "store it as a string (its JSON text, for a list or object) and parse it in the connector")
            yield Violation(configuration.display, line, col,
                            f"configuration value {key!r} is a {_json_type(value)} ({shown}), not a string", hint)


# ------------------------------------------------------------------------------------ HW041
@rule(
    "HW041", "configuration-secret-not-ignored", "error",
    summary="configuration.json holds a secret-looking value and git does not ignore it.",
    why="""configuration.json is where local credentials live while developing. If git does not
    ignore it, the next `git add .` commits the API key or password to the repository's history,
    where it stays even after the file is fixed. Checked only inside a git work tree; placeholders
    (`<YOUR_API_KEY>`, `your-token-here`) and values that the project's README shows as examples
    are not secrets.""",
    fix="Add `configuration.json` to .gitignore (commit a configuration.example.json with placeholders instead).",
    bad=Example('''
        {
          "api_base": "https://api.example.com",
          "api_key": "q8Wm2ZtR5yHv1KcP9dLx3NbF"
        }
    ''', file="configuration.json", line=3, git=True),
    good=Example('''
        {
          "api_base": "https://api.example.com",
          "api_key": "q8Wm2ZtR5yHv1KcP9dLx3NbF"
        }
    ''', file="configuration.json", git=True, others={".gitignore": "configuration.json\nfiles/\n"}),
)
def check_configuration_secrets(project: ProjectContext) -> Iterator[Violation]:
    configuration = read_configuration(project)
    if configuration is None or not isinstance(configuration.value, dict):
        return
    published = _published_text(project)
    secrets = [key for key, value in configuration.value.items() if isinstance(value, str) and (
        (is_secret_name(key) and is_secret_value(value)) or describe_token(value) is not None)
        and value.strip() not in published]
    if not secrets or not _git_tracks(project.root, project.root / CONFIGURATION):
        return
    line, col = configuration.positions.get(secrets[0], (1, 1))
    names = ", ".join(repr(key) for key in secrets)
    yield Violation(configuration.display, line, col,
                    f"{CONFIGURATION} holds secret-looking values ({names}) and git does not ignore the file",
                    "add `configuration.json` to .gitignore (and commit a configuration.example.json with "
                    "placeholders such as \"<YOUR_API_KEY>\")")


def _published_text(project: ProjectContext) -> str:
    """The project's README text: a value shown there is a published example, not a secret."""
    texts = []
    for path in sorted(project.root.glob("README*"))[:3]:
        try:
            if path.is_file() and path.stat().st_size <= 1_000_000:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return "\n".join(texts)


def _git_tracks(root: Path, path: Path) -> bool:
    """True if ``path`` is in a git work tree and not ignored (tracked files count as not ignored)."""
    git = shutil.which("git")
    if git is None:
        return False
    try:
        result = subprocess.run([git, "check-ignore", "-q", path.name], cwd=root, capture_output=True,
                                timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 1
