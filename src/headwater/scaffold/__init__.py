"""``headwater init``: create a connector project from a template.

::

    from headwater.scaffold import scaffold

    created = scaffold("my_connector", template="rest-api")
    # [PosixPath('my_connector/.gitignore'), PosixPath('my_connector/README.md'), ...]

Every project gets ``connector.py``, ``configuration.json``, ``requirements.txt``, ``README.md``,
``tests/test_connector.py`` and ``.gitignore``, plus whatever local source its template needs so that
``headwater debug`` works right away without a network: ``rest-api`` a stdlib mock server,
``database`` a sample SQLite file, ``csv`` a folder of sample files.

``configuration.json`` is the developer's local configuration, where credentials end up, so the
``.gitignore`` excludes it (as lint rule HW041 asks); the same content is also written to
``configuration.example.json``, the committed template a fresh clone copies from.

Templates are package data under ``templates/<name>/``, on top of ``templates/_common/`` (shared by
all): real files whose text may contain ``{{project_name}}`` and ``{{template}}``. A trailing
``.tmpl`` is dropped from a file name (``connector.py.tmpl`` becomes ``connector.py``; the suffix keeps
pytest, ruff and mypy away from template code inside headwater's own tree), and ``gitignore``
becomes ``.gitignore``. Files a template generates rather than copies (the ``database`` template's
``sample.db``) count as the template's files too: ``scaffold`` never overwrites any of them
unless ``force=True``.

A template whose code imports ``headwater_helpers`` (``rest-api``) also gets headwater's helpers
vendored into the project by :func:`headwater.vendor.vendor`: ``headwater_helpers/`` is a copy of
``headwater.http`` and ``headwater.incremental`` that needs only ``requests``, so the project deploys
to the Connector SDK runtime as it is. Those files count as the template's files too.
"""

from __future__ import annotations

import os
import re
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Final

from headwater.errors import HeadwaterError
from headwater.vendor import PACKAGE as HELPERS_PACKAGE
from headwater.vendor import VendorError, vendor
from headwater.vendor import plan as vendor_plan

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

__all__ = [
    "TEMPLATES",
    "ExistingFilesError",
    "ScaffoldError",
    "UnknownTemplateError",
    "list_templates",
    "next_steps",
    "scaffold",
    "uses_helpers",
]

#: Template name -> one-line description, in the order ``headwater init --list`` shows them.
TEMPLATES: Final[Mapping[str, str]] = {
    "basic": "hello-style starter: schema, configuration checks, state and a checkpoint",
    "rest-api": "paginated, incremental REST API sync with an API key, retries, backoff and Retry-After "
                "(ships a local mock server)",
    "database": "DB-API source (SQLite) read with keyset pagination and fetchmany, incremental on "
                "updated_at + id (ships sample.db)",
    "csv": "a folder of CSV files streamed row by row, incremental by file modification time "
           "(ships sample files)",
}

COMMON: Final = "_common"
#: Files a template produces by running code after copying, not by copying.
GENERATED: Final[Mapping[str, tuple[str, ...]]] = {"database": ("sample.db",)}
#: Written twice: the git-ignored local file, and the committed example it is copied from.
CONFIGURATION: Final = PurePosixPath("configuration.json")
EXAMPLE_CONFIGURATION: Final = PurePosixPath("configuration.example.json")
#: Modification time of the csv template's first sample file; each next file is one day newer.
SAMPLE_FILES_MTIME: Final = datetime(2024, 2, 1, tzinfo=timezone.utc).timestamp()
#: An import of the vendored helpers in a template's code: the project then gets them vendored.
_IMPORTS_HELPERS: Final = re.compile(rf"^\s*(?:from|import)\s+{HELPERS_PACKAGE}\b", re.MULTILINE)


class ScaffoldError(HeadwaterError):
    """``headwater init`` cannot create the project (the message says why and what to do)."""


class UnknownTemplateError(ScaffoldError, ValueError):
    """The template name is not one of :data:`TEMPLATES`."""


class ExistingFilesError(ScaffoldError):
    """The project folder already holds files the template would create (and ``force`` is off).

    ``paths`` lists them.
    """

    def __init__(self, message: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.paths = paths


def list_templates() -> list[tuple[str, str]]:
    """``(name, description)`` of every template, in display order."""
    return list(TEMPLATES.items())


def _check_template(template: str) -> str:
    if template in TEMPLATES:
        return template
    lowered = template.lower()
    if lowered in TEMPLATES:
        return lowered
    names = ", ".join(TEMPLATES)
    raise UnknownTemplateError(f"unknown template {template!r}; choose one of: {names} (headwater init --list)")


def _output_name(name: str) -> str:
    name = name.removesuffix(".tmpl")
    return ".gitignore" if name == "gitignore" else name


def _walk(folder: Traversable, prefix: PurePosixPath) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            yield from _walk(entry, prefix / entry.name)
        else:
            yield prefix / _output_name(entry.name), entry


def _template_sources(template: str) -> dict[PurePosixPath, Traversable]:
    """Output path (relative, POSIX) -> template file; the template's own files win over _common's."""
    root = resources.files("headwater.scaffold").joinpath("templates")
    sources: dict[PurePosixPath, Traversable] = {}
    for layer in (COMMON, template):
        sources.update(_walk(root.joinpath(layer), PurePosixPath()))
    if CONFIGURATION in sources:
        sources[EXAMPLE_CONFIGURATION] = sources[CONFIGURATION]
    return sources


def _render(text: str, values: Mapping[str, str]) -> str:
    """Replace each ``{{key}}`` of ``values`` in ``text``."""
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def uses_helpers(template: str) -> bool:
    """Whether the template's code imports the vendored helpers (``headwater_helpers``)."""
    template = _check_template(template)
    return any(_IMPORTS_HELPERS.search(source.read_text(encoding="utf-8"))
               for relative, source in _template_sources(template).items() if relative.suffix == ".py")


def _planned(template: str) -> list[PurePosixPath]:
    try:
        vendored = [file.path for file in vendor_plan()] if uses_helpers(template) else []
    except VendorError as exc:
        raise ScaffoldError(exc.message) from exc
    return sorted([*_template_sources(template), *(PurePosixPath(name) for name in GENERATED.get(template, ())),
                   *vendored])


def _display(root: Path) -> str:
    """The folder for a message: as given, unless that is just "." (then its full path)."""
    return str(root.resolve()) if str(root) in ("", ".") else str(root)


def _conflicts(root: Path, planned: list[PurePosixPath], force: bool) -> None:
    """Raise unless every planned file can be written; without ``force`` none may exist yet."""
    if root.exists() and not root.is_dir():
        raise ScaffoldError(f"{root} exists and is not a folder; give a new or an existing folder for the project")
    existing: list[Path] = []
    for relative in planned:
        target = root.joinpath(relative)
        for parent in list(target.parents)[: len(relative.parts) - 1]:
            if parent.exists() and not parent.is_dir():
                raise ScaffoldError(f"{parent} is a file, but the template puts files in a folder of that name; "
                                    "move it away and run headwater init again")
        if target.is_dir():
            raise ScaffoldError(f"{target} is a folder, but the template writes a file there; move it away and "
                                "run headwater init again")
        if target.exists() or target.is_symlink():
            existing.append(target)
    if existing and not force:
        names = ", ".join(str(path.relative_to(root)) for path in existing)
        raise ExistingFilesError(
            f"{_display(root)} already has {len(existing)} of the files this template creates ({names}); nothing was "
            "written. Re-run with --force to overwrite them (other files are left alone), or choose another folder",
            existing,
        )


def _make_sample_database(root: Path) -> None:
    """Build sample.db with the project's own make_sample_db.py, so the file and the script agree."""
    namespace = runpy.run_path(str(root / "make_sample_db.py"), run_name="headwater_scaffold")
    create: Callable[[Path], object] = namespace["create_sample_database"]
    create(root / "sample.db")


def _date_sample_files(root: Path) -> None:
    """Give the sample CSV files distinct, increasing modification times, in name order."""
    for day, path in enumerate(sorted((root / "data").glob("*.csv"))):
        moment = SAMPLE_FILES_MTIME + day * 86_400
        os.utime(path, (moment, moment))


FINISHERS: Final[Mapping[str, Callable[[Path], None]]] = {
    "database": _make_sample_database,
    "csv": _date_sample_files,
}


def scaffold(
    path: str | os.PathLike[str],
    template: str = "basic",
    *,
    force: bool = False,
    name: str | None = None,
) -> list[Path]:
    """Create a connector project from ``template`` in the folder ``path`` and return the files written.

    Args:
        path: the project folder; created if missing. Files already in it that the template does not
            create are left alone.
        template: one of :data:`TEMPLATES`.
        force: overwrite files the template creates that already exist. Without it, if any exists,
            :class:`ExistingFilesError` names them and nothing is written.
        name: the project name shown in README.md and connector.py (default: the folder's name).

    Raises:
        UnknownTemplateError: ``template`` is not a known template.
        ExistingFilesError: files would be overwritten and ``force`` is off.
        ScaffoldError: a file cannot be written (a folder or file is in the way, no permission).
    """
    template = _check_template(template)
    root = Path(path)
    project_name = (name if name is not None else root.resolve().name).strip() or "connector"
    sources = _template_sources(template)
    planned = _planned(template)
    _conflicts(root, planned, force)

    values = {"project_name": project_name, "template": template}
    written: list[Path] = []
    try:
        for relative, source in sorted(sources.items()):
            target = root.joinpath(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_render(source.read_text(encoding="utf-8"), values), encoding="utf-8", newline="\n")
            written.append(target)
        finish = FINISHERS.get(template)
        if finish is not None:
            finish(root)
        if uses_helpers(template):
            # _conflicts has already refused existing files unless force was given.
            written.extend(vendor(root, force=True).written)
    except OSError as exc:
        where = exc.filename or root
        raise ScaffoldError(f"cannot write {where}: {exc.strerror or exc}; check the folder's permissions") from exc
    except VendorError as exc:
        raise ScaffoldError(exc.message) from exc
    written.extend(root / generated for generated in GENERATED.get(template, ()))
    return sorted(written)


def next_steps(path: str | os.PathLike[str], template: str) -> list[str]:
    """The commands to run after ``scaffold(path, template)``, one per line, for the CLI to print."""
    template = _check_template(template)
    shown = str(path)
    here = shown in ("", ".")
    target = "" if here else f" {shown}"
    inside = "" if here else f"{shown}/"
    steps: list[str] = []
    if template == "rest-api":
        steps.append(f"python {inside}mock_server.py &      # the local API configuration.json points at")
    steps += [
        f"headwater lint{target}",
        f"headwater debug{target}",
        f"python -m pytest {inside}tests",
    ]
    return steps
