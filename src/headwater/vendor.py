"""``headwater vendor``: copy headwater's connector helpers into a project, so it deploys without headwater.

::

    from headwater.vendor import vendor

    result = vendor("my_connector")            # refuses to overwrite an earlier copy
    result = vendor("my_connector", force=True) # replaces it with the installed headwater's
    # result.written: [PosixPath('my_connector/headwater_helpers/__init__.py'), ...]

``headwater.http`` and ``headwater.incremental`` are pure Python over ``requests``/``urllib3`` and
the standard library, but a connector importing them from ``headwater`` cannot load where it is
deployed: the Connector SDK runtime has ``requests`` and ``fivetran_connector_sdk``, not headwater.
:func:`vendor` writes a copy of them into the project as the package :data:`PACKAGE`
(``headwater_helpers/``), which a connector imports instead::

    from headwater_helpers.http import HttpClient, BearerAuth
    from headwater_helpers.incremental import Cursor

What is copied is computed from the installed headwater's source, not listed by hand: every module
of the :data:`ROOTS` packages and modules, plus whatever headwater module they import. Those must
be either inside a root (copied too) or replaced by one of the :data:`SHIMS`, minimal stand-ins
written here (``headwater.errors`` -> ``_errors`` with ``HeadwaterError``; ``headwater.log`` ->
``_log`` with ``Level`` and ``emit``, which logs through the SDK's ``Logging``). Anything else, or a
third-party import other than :data:`THIRD_PARTY`, makes :func:`plan` raise :class:`VendorError`
instead of writing a copy that would not load. Imports in the copies are rewritten to
``headwater_helpers.*`` (the name can never shadow the real ``headwater``), and every file starts
with a header naming the headwater version it came from and how to update it.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Final

from headwater._ast import parse as parse_source
from headwater._version import __version__
from headwater.errors import HeadwaterError

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

__all__ = [
    "PACKAGE",
    "ROOTS",
    "SHIMS",
    "THIRD_PARTY",
    "ExistingVendoredFilesError",
    "Shim",
    "VendorError",
    "VendorResult",
    "VendoredFile",
    "plan",
    "vendor",
    "vendored_name",
]

#: The package the helpers are vendored as, in the project folder. Not ``headwater``: a project
#: folder comes first on ``sys.path``, and a package of that name would shadow the real headwater.
PACKAGE: Final = "headwater_helpers"
#: What is vendored: these packages (every module in them) and modules, and what they import.
ROOTS: Final = ("headwater.http", "headwater.incremental")
#: The only third-party distributions the copies may import (the SDK runtime provides them).
THIRD_PARTY: Final = frozenset({"requests", "urllib3"})
#: The first line of every vendored file; :func:`vendor` recognises its own files by it.
MARKER: Final = "# Vendored from headwater"
_STDLIB: Final = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}


class VendorError(HeadwaterError):
    """``headwater vendor`` cannot write the copy (the message says why and what to do)."""


class ExistingVendoredFilesError(VendorError):
    """The project already holds files the copy would write (and ``force`` is off); ``paths`` lists them."""

    def __init__(self, message: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.paths = paths


@dataclass(frozen=True)
class Shim:
    """A minimal stand-in, written into the copy, for a headwater module the helpers import."""

    module: str            # its name inside PACKAGE, e.g. "_errors"
    provides: frozenset[str]
    text: str


_ERRORS_SHIM = '''"""The root of the vendored helpers' errors: the one name they import from headwater.errors."""

from __future__ import annotations

from typing import ClassVar

__all__ = ["HeadwaterError"]


class HeadwaterError(Exception):
    """Root of every error the vendored helpers raise (``headwater.errors.HeadwaterError`` in headwater)."""

    exit_code: ClassVar[int] = 1
    before_sync: ClassVar[bool] = True

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__
'''

_LOG_SHIM = '''"""Log lines of the vendored helpers, through the Connector SDK's ``Logging``.

Stands in for headwater.log: ``emit(level, message)`` calls ``fivetran_connector_sdk.Logging``, which is
headwater's own under ``headwater debug`` (the same lines as with headwater.http) and Fivetran's once
deployed. A level the installed SDK lacks falls back to its nearest (``debug`` -> ``fine``, ``error`` ->
``severe``). Where ``fivetran_connector_sdk`` cannot be imported at all (a plain script, a unit test),
lines go to the standard library's ``logging``, logger ``headwater_helpers``.
"""

from __future__ import annotations

import enum
import importlib
import logging
import sys
from typing import Any

__all__ = ["Level", "emit"]


class Level(enum.IntEnum):
    """The Connector SDK's log levels."""

    DEBUG = 1
    FINE = 2
    INFO = 3
    WARNING = 4
    ERROR = 5
    SEVERE = 6
    CRITICAL = 7


#: Level -> the ``Logging`` methods to try, in order.
_METHODS = {
    Level.DEBUG: ("debug", "fine"),
    Level.FINE: ("fine", "debug"),
    Level.INFO: ("info",),
    Level.WARNING: ("warning",),
    Level.ERROR: ("error", "severe"),
    Level.SEVERE: ("severe", "error"),
    Level.CRITICAL: ("critical", "severe"),
}
_STDLIB_LEVELS = {
    Level.DEBUG: logging.DEBUG, Level.FINE: logging.DEBUG, Level.INFO: logging.INFO,
    Level.WARNING: logging.WARNING, Level.ERROR: logging.ERROR, Level.SEVERE: logging.ERROR,
    Level.CRITICAL: logging.CRITICAL,
}
_fallback = logging.getLogger(__name__.rpartition(".")[0] or __name__)
_sdk_missing = False


def _sdk_logging() -> Any:
    """``fivetran_connector_sdk.Logging``, looked up at each call (headwater installs its own per sync)."""
    global _sdk_missing
    sdk = sys.modules.get("fivetran_connector_sdk")
    if sdk is None and not _sdk_missing:
        try:
            sdk = importlib.import_module("fivetran_connector_sdk")
        except ImportError:
            _sdk_missing = True
    return getattr(sdk, "Logging", None)


def emit(level: Level, message: str, *, origin: str = "connector") -> None:
    """Write one log line as the connector's (``origin`` is accepted for headwater.log's signature)."""
    sdk_logging = _sdk_logging()
    for name in _METHODS[level] if sdk_logging is not None else ():
        method = getattr(sdk_logging, name, None)
        if callable(method):
            method(message)
            return
    _fallback.log(_STDLIB_LEVELS[level], message)  # noqa: HW021 - only without fivetran_connector_sdk
'''

#: headwater module -> the stand-in the copy gets instead.
SHIMS: Final[Mapping[str, Shim]] = {
    "headwater.errors": Shim("_errors", frozenset({"HeadwaterError"}), _ERRORS_SHIM),
    "headwater.log": Shim("_log", frozenset({"Level", "emit"}), _LOG_SHIM),
}


@dataclass(frozen=True)
class VendoredFile:
    """One file of the copy: where it goes (relative to the project), where it came from, its text."""

    path: PurePosixPath
    origin: str
    text: str


@dataclass
class VendorResult:
    """What :func:`vendor` did: the files it wrote and the earlier vendored files it removed."""

    package: Path
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


# -- the closure ------------------------------------------------------------------------------------


def _in_roots(dotted: str) -> bool:
    return any(dotted == root or dotted.startswith(root + ".") for root in ROOTS)


def vendored_name(dotted: str) -> str | None:
    """The name a headwater module (or a name in it) gets in the copy; ``None`` if it is not vendored.

    >>> vendored_name("headwater.http.client")
    'headwater_helpers.http.client'
    >>> vendored_name("headwater.errors.HeadwaterError")
    'headwater_helpers._errors.HeadwaterError'
    """
    if _in_roots(dotted):
        return PACKAGE + dotted[len("headwater"):]
    for name, shim in SHIMS.items():
        if dotted == name or dotted.startswith(name + "."):
            return f"{PACKAGE}.{shim.module}{dotted[len(name):]}"
    return None


def _modules() -> dict[str, tuple[Traversable, bool]]:
    """Every module of the installed headwater: dotted name -> (source file, is a package)."""
    found: dict[str, tuple[Traversable, bool]] = {}

    def walk(folder: Traversable, dotted: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                if entry.name != "__pycache__" and entry.joinpath("__init__.py").is_file():
                    walk(entry, f"{dotted}.{entry.name}")
            elif entry.name == "__init__.py":
                found[dotted] = (entry, True)
            elif entry.name.endswith(".py"):
                found[f"{dotted}.{entry.name[:-3]}"] = (entry, False)

    walk(resources.files("headwater"), "headwater")
    return found


def _imports(tree: ast.Module, dotted: str, is_package: bool) -> Iterator[tuple[ast.stmt, str, list[str]]]:
    """``(node, absolute module, names taken from it)`` for every import statement, nested ones too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = dotted.split(".") if is_package else dotted.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            yield node, module, [alias.name for alias in node.names]


def _closure() -> list[tuple[str, Traversable, bool]]:
    """The headwater modules to copy, in name order; raises :class:`VendorError` for what cannot be."""
    modules = _modules()
    queue = sorted(name for name in modules if _in_roots(name))
    if not queue:
        raise VendorError("this headwater installation has none of the modules to vendor "
                          f"({', '.join(ROOTS)}); reinstall headwater")
    chosen: dict[str, tuple[Traversable, bool]] = {}
    problems: list[str] = []
    while queue:
        name = queue.pop()
        if name in chosen:
            continue
        source, is_package = modules[name]
        chosen[name] = (source, is_package)
        tree = parse_source(source.read_text(encoding="utf-8"), filename=name)
        for node, module, names in _imports(tree, name, is_package):
            top = module.split(".")[0]
            if top != "headwater":
                if top not in _STDLIB and top not in THIRD_PARTY:
                    problems.append(f"{name} (line {node.lineno}) imports {module}, which is neither the standard "
                                    f"library nor {' or '.join(sorted(THIRD_PARTY))}")
                continue
            if isinstance(node, ast.ImportFrom) and node.level and not _in_roots(module):
                problems.append(f"{name} (line {node.lineno}) imports {module} relatively; only absolute "
                                "imports of headwater modules outside the copy can be rewritten")
                continue
            if _in_roots(module):
                targets = [module] + [f"{module}.{n}" for n in names]
                queue.extend(target for target in targets if target in modules and target not in chosen)
                continue
            shim = SHIMS.get(module)
            if shim is None:
                problems.append(f"{name} (line {node.lineno}) imports {module}, which has no vendored stand-in")
            elif not names:
                problems.append(f"{name} (line {node.lineno}) imports the module {module} itself; the copy can "
                                f"only provide `from {module} import {', '.join(sorted(shim.provides))}`")
            elif not set(names) <= shim.provides:
                missing = ", ".join(sorted(set(names) - shim.provides))
                problems.append(f"{name} (line {node.lineno}) imports {missing} from {module}; the stand-in "
                                f"{PACKAGE}.{shim.module} provides only {', '.join(sorted(shim.provides))}")
    if problems:
        raise VendorError("cannot vendor headwater's helpers: " + "; ".join(problems)
                          + ". This is a bug in headwater's vendor module (headwater/vendor.py); please report it")
    return [(name, *chosen[name]) for name in sorted(chosen)]


# -- rewriting --------------------------------------------------------------------------------------

_REFERENCE = re.compile(r"(?<![\w.])headwater((?:\.[A-Za-z_]\w*)+)")


def _rewrite(text: str) -> str:
    """Point every reference to a vendored headwater module (imports, docs, messages) at the copy."""
    def replace(match: re.Match[str]) -> str:
        dotted = match.group(0)
        parts = dotted.split(".")
        for length in range(len(parts), 1, -1):  # the longest prefix that is vendored
            mapped = vendored_name(".".join(parts[:length]))
            if mapped is not None:
                return ".".join([mapped, *parts[length:]])
        return dotted

    return _REFERENCE.sub(replace, text)


def _header(origin: str) -> str:
    return (f"{MARKER} {__version__} ({origin}) by `headwater vendor`; do not edit.\n"
            f"# Update: `headwater vendor --force PROJECT` rewrites {PACKAGE}/ from the installed headwater.\n"
            "# ruff: noqa\n")


def _check_rewritten(path: PurePosixPath, text: str) -> None:
    is_package = path.name == "__init__.py"
    dotted = ".".join(path.parent.parts if is_package else path.with_suffix("").parts)
    tree = parse_source(text, filename=str(path))
    imported = {module for _, module, _ in _imports(tree, dotted, is_package)}
    left = sorted(module for module in imported if module.split(".")[0] == "headwater")
    if left:
        raise VendorError(f"{path} would still import {', '.join(left)} after rewriting; this is a bug in "
                          "headwater's vendor module (headwater/vendor.py); please report it")


def _package_init() -> str:
    return f'''"""Connector helpers vendored from headwater {__version__} by `headwater vendor`.

- ``{PACKAGE}.http``: an HTTP client over ``requests`` with timeouts, deadlines, retries honouring
  ``Retry-After``, a rate limit, typed errors, paginators with loop guards and authentication
  (headwater's docs/http.md);
- ``{PACKAGE}.incremental``: a per-table cursor in the state that handles ties at the boundary
  (headwater's docs/incremental.md).

They import only ``requests``, ``urllib3``, the standard library and (for log lines)
``fivetran_connector_sdk``, so the connector runs both under headwater and where it is deployed::

    from {PACKAGE}.http import HttpClient, BearerAuth
    from {PACKAGE}.incremental import Cursor

Do not edit these files: `headwater vendor --force PROJECT` replaces them with the installed
headwater's copy (headwater's docs/vendoring.md).
"""

HEADWATER_VERSION = "{__version__}"
'''


@functools.lru_cache(maxsize=1)
def _plan() -> tuple[VendoredFile, ...]:
    files: list[VendoredFile] = []
    for name, source, is_package in _closure():
        relative = PurePosixPath(*name.split(".")[1:])
        relative = relative / "__init__.py" if is_package else relative.with_suffix(".py")
        origin = f"headwater/{relative}"
        text = _header(origin) + _rewrite(source.read_text(encoding="utf-8"))
        files.append(VendoredFile(PurePosixPath(PACKAGE) / relative, origin, text))
    for module, shim in sorted(SHIMS.items()):
        origin = f"a minimal stand-in for headwater/{module.split('.', 1)[1].replace('.', '/')}.py"
        files.append(VendoredFile(PurePosixPath(PACKAGE, f"{shim.module}.py"), origin, _header(origin) + shim.text))
    files.append(VendoredFile(PurePosixPath(PACKAGE, "__init__.py"), "written by headwater vendor",
                              _header("the package's own __init__") + _package_init()))
    for file in files:
        _check_rewritten(file.path, file.text)
    return tuple(sorted(files, key=lambda file: file.path))


def plan() -> list[VendoredFile]:
    """The files of the copy, computed from the installed headwater (nothing is written).

    Raises :class:`VendorError` if a vendored module imports something the copy cannot provide.
    """
    return list(_plan())


# -- writing ----------------------------------------------------------------------------------------


def _display(root: Path) -> str:
    return str(root.resolve()) if str(root) in ("", ".") else str(root)


def _vendored_by_us(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().startswith(MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def _stale(package: Path, planned: Iterable[Path]) -> list[Path]:
    """Files an earlier ``headwater vendor`` wrote that the current copy no longer has."""
    keep = set(planned)
    if not package.is_dir():
        return []
    return sorted(path for path in package.rglob("*.py")
                  if path not in keep and "__pycache__" not in path.parts and _vendored_by_us(path))


def vendor(project: str | os.PathLike[str], *, force: bool = False) -> VendorResult:
    """Write the copy of headwater's helpers into ``project``/:data:`PACKAGE` and say what was written.

    Args:
        project: an existing project folder (normally the one with ``connector.py``).
        force: overwrite the files of an earlier copy (an update); vendored files the new copy no
            longer has are removed. Other files in the folder are left alone. Without ``force``, if
            any file of the copy exists, :class:`ExistingVendoredFilesError` names them and nothing
            is written.

    Raises:
        VendorError: the project folder is missing, something is in the way, or a file cannot be written.
        ExistingVendoredFilesError: files would be overwritten and ``force`` is off.
    """
    root = Path(project)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise VendorError(f"{root} {what}; give the connector project's folder (the one with connector.py)")
    files = plan()
    package = root / PACKAGE
    targets = [root.joinpath(file.path) for file in files]
    existing: list[Path] = []
    for target in targets:
        for parent in reversed(target.relative_to(root).parents[:-1]):
            if root.joinpath(parent).exists() and not root.joinpath(parent).is_dir():
                raise VendorError(f"{root / parent} is a file, but the copy goes in a folder of that name; "
                                  "move it away and run headwater vendor again")
        if target.is_dir():
            raise VendorError(f"{target} is a folder, but the copy writes a file there; move it away and run "
                              "headwater vendor again")
        if target.exists() or target.is_symlink():
            existing.append(target)
    if existing and not force:
        names = ", ".join(str(path.relative_to(root)) for path in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise ExistingVendoredFilesError(
            f"{_display(root)} already has a vendored copy ({names}{more}); nothing was written. Re-run with "
            "--force to replace it with the installed headwater's (that is how to update it)",
            existing,
        )
    result = VendorResult(package)
    try:
        for stale in _stale(package, targets):
            stale.unlink()
            result.removed.append(stale)
        for file, target in zip(files, targets):
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                target.unlink()
            target.write_text(file.text, encoding="utf-8", newline="\n")
            result.written.append(target)
    except OSError as exc:
        where = exc.filename or package
        raise VendorError(f"cannot write {where}: {exc.strerror or exc}; check the folder's permissions") from exc
    return result
