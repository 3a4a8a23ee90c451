"""Rules on requirements.txt: nothing the runtime already provides, and every package pinned."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from headwater.lint.context import ProjectContext
from headwater.lint.registry import Example, Violation, rule

__all__ = ["Requirement", "read_requirements"]

REQUIREMENTS = "requirements.txt"
PROVIDED = {"fivetran-connector-sdk": "the SDK is the runtime itself", "requests": "it is pre-installed",
            "headwater": "headwater runs the connector; it is not a dependency of it"}
_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?\s*(?P<spec>[^;]*)")


@dataclass(frozen=True)
class Requirement:
    """One package line of requirements.txt."""

    name: str           # as written
    normalized: str     # PEP 503: lower case, runs of -_. as one -
    spec: str           # the version specifier, "" if none
    line: int
    col: int
    text: str


def read_requirements(project: ProjectContext) -> tuple[str, list[Requirement]] | None:
    path = project.root / REQUIREMENTS
    if not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    found = []
    for number, raw in enumerate(lines, start=1):
        code = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0]
        stripped = code.strip().rstrip("\\").strip()
        if not stripped or stripped.startswith("-") or "://" in stripped or " @ " in stripped or "@" in stripped:
            continue
        match = _LINE.match(stripped)
        if match is None:
            continue
        name = match.group("name")
        found.append(Requirement(
            name=name, normalized=re.sub(r"[-_.]+", "-", name).lower(), spec=match.group("spec").strip(),
            line=number, col=raw.index(name) + 1, text=stripped,
        ))
    return project.display(path), found


# ------------------------------------------------------------------------------------ HW090
@rule(
    "HW090", "requirements-provided", "warning",
    summary="requirements.txt lists a package the runtime already provides.",
    why="""fivetran_connector_sdk and requests are pre-installed where connectors run (and
    headwater provides both locally). Declaring them again can install a second, conflicting
    version; Fivetran's documentation asks not to list pre-installed packages.""",
    fix="Remove the line; import the package as usual.",
    bad=Example('''
        fivetran-connector-sdk==2.1.0
        pandas==2.2.2
    ''', file="requirements.txt", line=1),
    good=Example('''
        pandas==2.2.2
    ''', file="requirements.txt"),
)
def check_provided(project: ProjectContext) -> Iterator[Violation]:
    found = read_requirements(project)
    if found is None:
        return
    display, requirements = found
    for requirement in requirements:
        provided = PROVIDED.get(requirement.normalized)
        if provided is None:
            continue
        yield Violation(display, requirement.line, requirement.col,
                        f"requirements.txt lists `{requirement.name}`, which the runtime already provides "
                        f"({provided})", f"remove the `{requirement.text}` line")


# ------------------------------------------------------------------------------------ HW091
@rule(
    "HW091", "requirements-unpinned", "warning",
    summary="A package in requirements.txt is not pinned to one version.",
    why="""An unpinned (or range-only) requirement installs whatever is newest on the day the
    connector is deployed, so a release of that package can break a connector nobody changed, and
    local runs and production can differ.""",
    fix="Pin the version you tested with: `pandas==2.2.2` (`pip freeze` shows it).",
    bad=Example('''
        pandas>=2.0
        python-dateutil==2.9.0
    ''', file="requirements.txt", line=1),
    good=Example('''
        pandas==2.2.2
        python-dateutil==2.9.0
    ''', file="requirements.txt"),
)
def check_unpinned(project: ProjectContext) -> Iterator[Violation]:
    found = read_requirements(project)
    if found is None:
        return
    display, requirements = found
    for requirement in requirements:
        if requirement.normalized in PROVIDED or "==" in requirement.spec:
            continue
        what = f"only constrained ({requirement.spec})" if requirement.spec else "not pinned"
        yield Violation(display, requirement.line, requirement.col,
                        f"requirements.txt: `{requirement.name}` is {what}, so each deployment may install a "
                        "different version", f"pin the version you tested with: `{requirement.name}==<version>`")
