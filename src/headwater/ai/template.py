"""Prompt templates: versioned Markdown files in ``headwater/ai/prompts/``, with ``{placeholder}`` slots.

Each file starts with a header, then ``---``, then the text::

    version: 1
    description: The first round of headwater generate ...
    ---
    # Task
    {description}

A placeholder is a lower-case identifier in single braces. :meth:`PromptTemplate.render` needs a
value for every placeholder and accepts no others; values are inserted as they are, never scanned for
placeholders themselves (a URL template like ``/users/{id}`` in the docs stays intact). Bump
``version`` whenever the wording changes: every round of the transcript names the versions it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from headwater.ai.errors import TemplateError

__all__ = ["PLACEHOLDER", "TEMPLATE_NAMES", "PromptTemplate", "load_template"]

PLACEHOLDER: Final = re.compile(r"\{([a-z][a-z0-9_]*)\}")
TEMPLATE_NAMES: Final = ("system", "connector_api", "basic_generation", "enhancement", "fix_round")


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt file: its name, version, description and body."""

    name: str
    version: int
    description: str
    body: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholder names in the body, each once, in order of first appearance."""
        return tuple(dict.fromkeys(PLACEHOLDER.findall(self.body)))

    def render(self, **values: str) -> str:
        """The body with every placeholder replaced; raises :class:`TemplateError` on a mismatch."""
        wanted = set(self.placeholders)
        missing = sorted(wanted - set(values))
        extra = sorted(set(values) - wanted)
        if missing or extra:
            raise TemplateError(
                f"prompt template {self.name!r} (version {self.version}): "
                + (f"no value for {', '.join(missing)}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"no placeholder for {', '.join(extra)}" if extra else "")
            )
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], self.body)


def parse_template(name: str, text: str) -> PromptTemplate:
    """Split a template file into its header fields and body."""
    header, separator, body = text.partition("\n---\n")
    if not separator:
        raise TemplateError(f"prompt template {name!r} has no '---' line after its header")
    fields: dict[str, str] = {}
    for line in header.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields[key.strip()] = value.strip()
    version = fields.get("version", "")
    if not version.isdigit():
        raise TemplateError(f"prompt template {name!r} needs a 'version: <number>' header line, got {version!r}")
    return PromptTemplate(name=name, version=int(version), description=fields.get("description", ""),
                          body=body.strip("\n") + "\n")


@cache
def load_template(name: str) -> PromptTemplate:
    """The packaged template ``prompts/<name>.md``."""
    if name not in TEMPLATE_NAMES:
        raise TemplateError(f"no prompt template {name!r}; the templates are {', '.join(TEMPLATE_NAMES)}")
    text = resources.files("headwater.ai").joinpath("prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    return parse_template(name, text)
