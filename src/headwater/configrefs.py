"""Secrets for production: configuration values that reference the environment or a file.

``headwater run`` resolves, in every configuration value:

* ``${NAME}``: the environment variable ``NAME`` (e.g. set by the scheduler);
* ``${file:/path/to/secret}``: the content of that file, without one trailing newline (e.g. a mounted
  Kubernetes secret);
* ``$${`` stands for a literal ``${``.

A reference that cannot be resolved is an error naming the configuration key and the reference.
Every resolved value is treated as a secret: masked wherever headwater writes.

    >>> resolve({"token": "${API_TOKEN}", "base": "https://x"}, environ={"API_TOKEN": "abc"})
    Resolved(values={'token': 'abc', 'base': 'https://x'}, secrets=('abc',))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import ConfigurationError

__all__ = ["Resolved", "resolve"]

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")


@dataclass(frozen=True)
class Resolved:
    values: dict[str, str]
    secrets: tuple[str, ...]


def resolve(configuration: Mapping[str, str], *, environ: Mapping[str, str]) -> Resolved:
    """The configuration with every reference replaced; raises ConfigurationError naming the bad key."""
    values: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in configuration.items():
        if not isinstance(value, str) or "$" not in value:
            values[key] = value
            continue

        def substitute(match: re.Match[str], key: str = key) -> str:
            if match.group(0) == "$${":
                return "${"
            reference = match.group(1)
            resolved = _one(key, reference, environ)
            secrets.append(resolved)
            return resolved

        values[key] = _REFERENCE.sub(substitute, value)
    return Resolved(values, tuple(s for s in secrets if s))


def _one(key: str, reference: str, environ: Mapping[str, str]) -> str:
    if reference.startswith("file:"):
        path = Path(reference[len("file:"):])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigurationError(
                f"configuration key {key!r} references the file {str(path)!r}, which does not exist; "
                "mount or create it, or change the reference"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"configuration key {key!r} references the file {str(path)!r}, which cannot be read ({exc}); "
                "make it a readable UTF-8 file"
            ) from None
        return text[:-1] if text.endswith("\n") else text
    name = reference.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigurationError(
            f"configuration key {key!r} has an invalid reference ${{{reference}}}; write ${{ENV_VAR}} or "
            "${file:/path}, or $${ for a literal ${"
        )
    if name not in environ:
        raise ConfigurationError(
            f"configuration key {key!r} references the environment variable {name}, which is not set; set it "
            "in the worker's environment"
        )
    return environ[name]
