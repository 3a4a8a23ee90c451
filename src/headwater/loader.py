"""Import a project's connector.py the way production does (API-1 to API-5, API-12).

``connector.py`` is imported once as the module ``connector``, with the project folder first on
``sys.path`` and ``fivetran_connector_sdk`` resolving to headwater's implementation (API-2).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
import types
from pathlib import Path
from typing import Any

from headwater.connector import Connector
from headwater.errors import ConnectorLoadError

__all__ = ["check_connector", "connector_frame", "install_sdk_modules", "load_connector"]

SDK_MODULES = {
    "fivetran_connector_sdk": "headwater._sdk_package",
    "fivetran_connector_sdk.form_field": "headwater.sdk.form_field",
    "fivetran_connector_sdk.operations": "headwater.operations",
    "fivetran_connector_sdk.configuration_form": "headwater.sdk.configuration_form",
    "fivetran_connector_sdk.test": "headwater.sdk.test",
    "fivetran_connector_sdk.file_upload": "headwater.sdk.file_upload",
}


def install_sdk_modules() -> None:
    """Register headwater's implementation under the ``fivetran_connector_sdk`` names (API-2)."""
    for name, target in SDK_MODULES.items():
        sys.modules[name] = importlib.import_module(target)


def connector_frame(exc: BaseException, project: Path) -> tuple[str, int] | None:
    """The innermost traceback frame inside the project folder: (file, line), for error messages."""
    found: tuple[str, int] | None = None
    root = str(project)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(root) and frame.lineno is not None:
            found = (frame.filename, frame.lineno)
    if found is None and isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        found = (exc.filename, exc.lineno)
    return found


def _where(exc: BaseException, project: Path) -> str:
    frame = connector_frame(exc, project)
    if frame is None:
        return ""
    path = Path(frame[0])
    try:
        shown = str(path.relative_to(project))
    except ValueError:
        shown = str(path)
    return f" ({shown}, line {frame[1]})"


def exception_name(exc: BaseException) -> str:
    """The type name to show: headwater's operation errors show the builtin the spec names."""
    from headwater.errors import OperationError

    if isinstance(exc, OperationError):
        for base in type(exc).__mro__:
            if base.__module__ == "builtins" and base not in (Exception, BaseException, object):
                return base.__name__
    return type(exc).__name__


def describe_exception(exc: BaseException, project: Path) -> str:
    """``TypeName: message (file, line N)`` on one line."""
    message = str(exc).replace("\n", " ").strip()
    name = exception_name(exc)
    return f"{name}: {message}{_where(exc, project)}" if message else f"{name}{_where(exc, project)}"


def load_connector(project: Path) -> tuple[types.ModuleType, Connector]:
    """Import ``project/connector.py`` as module ``connector`` and return it with its Connector."""
    path = project / "connector.py"
    if not path.is_file():
        raise ConnectorLoadError(
            f"connector.py not found in {project}; create it (headwater init) or pass the project folder"
        )
    install_sdk_modules()
    sys.dont_write_bytecode = True
    project_dir = str(project)
    if project_dir in sys.path:
        sys.path.remove(project_dir)
    sys.path.insert(0, project_dir)
    spec = importlib.util.spec_from_file_location("connector", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get("connector")
    sys.modules["connector"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - any failure while importing user code is ERR-LOAD-2
        if previous is not None:
            sys.modules["connector"] = previous
        else:
            sys.modules.pop("connector", None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = ConnectorLoadError(f"error in connector.py: {describe_exception(exc, project)}")
        error.__cause__ = exc
        raise error from exc
    candidate = getattr(module, "connector", None)
    if not isinstance(candidate, Connector):
        others = sorted(name for name, value in vars(module).items() if isinstance(value, Connector))
        hint = (
            f"; found a Connector named {', '.join(others)}: rename it to `connector`"
            if others
            else "; add `connector = Connector(update=update, schema=schema)` at module level"
        )
        raise ConnectorLoadError(f"connector object not found in connector.py{hint}")
    return module, candidate


def unload_project(project: Path) -> None:
    """Forget connector.py and the modules imported from the project folder, and its sys.path entry.

    For in-process syncs (tests, ``headwater.testing``): the next project may have modules with the
    same names (``helpers``, ``source``), which must not resolve to this project's.
    """
    root = str(project)
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if filename and filename.startswith(root + "/") and name != "__main__":
            del sys.modules[name]
    while root in sys.path:
        sys.path.remove(root)


def check_connector(connector: Any) -> None:
    """ERR-LOAD-4 to ERR-LOAD-6: update callable and not async, schema None or callable."""
    update = connector.update
    if not callable(update):
        raise ConnectorLoadError(
            f"update is not callable (got {type(update).__name__}); pass the function itself: "
            "Connector(update=update)"
        )
    if inspect.iscoroutinefunction(update) or inspect.isasyncgenfunction(update):
        raise ConnectorLoadError(
            "update is an async def function; headwater calls update() synchronously, so define it "
            "with plain def (run async code inside it with asyncio.run)"
        )
    schema = connector.schema
    if schema is not None and not callable(schema):
        raise ConnectorLoadError(
            f"schema is not callable (got {type(schema).__name__}); pass a function that returns the "
            "list of tables: Connector(update=update, schema=schema)"
        )
