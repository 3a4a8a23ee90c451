"""Rules on exception handling: nothing caught blindly, nothing swallowed, causes kept."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from headwater.lint.blocks import LOOPS, local_nodes
from headwater.lint.context import SCOPES, ModuleContext, ProjectContext
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.rules.logging import LOG_METHODS

__all__: list[str] = []

_BROAD = frozenset({"Exception", "BaseException"})
_REPORTING_CALLS = frozenset({"print", "warnings.warn", "traceback.print_exc", "traceback.format_exc",
                              "traceback.print_exception", "sys.exit", "exit", "quit"})
_REPORTING_METHODS = LOG_METHODS | {"fine", "severe"}


def _catches_broadly(module: ModuleContext, handler: ast.ExceptHandler) -> str | None:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught] if caught is not None else []
    for name in names:
        if isinstance(name, ast.Name) and name.id in _BROAD and name.id not in module.bindings:
            return name.id
    return None


def _handler_nodes(handler: ast.ExceptHandler) -> list[ast.AST]:
    return list(local_nodes(handler.body))


# ------------------------------------------------------------------------------------ HW070
@rule(
    "HW070", "bare-except", "warning",
    summary="A bare `except:` that does not re-raise.",
    why="""`except:` also catches KeyboardInterrupt and SystemExit, so Ctrl-C and the platform's
    requests to stop are swallowed, along with every bug in the block. A bare except that ends
    with `raise` (clean up, then re-raise) is not reported.""",
    fix="Catch what you expect: `except requests.RequestException as exc:` (or at most `except Exception`).",
    bad=Example('''
        import json

        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            for line in ['{"id": 1}', "not json"]:
                try:
                    op.upsert(table="items", data=json.loads(line))
                except:
                    log.warning(f"skipping a line that is not JSON: {line!r}")
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=10),
    good=Example('''
        import json

        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            for line in ['{"id": 1}', "not json"]:
                try:
                    op.upsert(table="items", data=json.loads(line))
                except json.JSONDecodeError:
                    log.warning(f"skipping a line that is not JSON: {line!r}")
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_bare_except(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for handler in module.nodes(ast.ExceptHandler):
            if handler.type is not None:
                continue
            if any(isinstance(node, ast.Raise) and node.exc is None for node in _handler_nodes(handler)):
                continue
            yield module.violation(handler, "bare `except:` catches everything, KeyboardInterrupt and SystemExit "
                                   "included", "catch the exceptions you expect, e.g. `except ValueError as exc:`")


# ------------------------------------------------------------------------------------ HW071
@rule(
    "HW071", "swallowed-exception", "warning",
    summary="`except Exception` that neither re-raises nor logs.",
    why="""Catching every exception and carrying on silently turns failures into missing data:
    the sync succeeds, nobody is told, and the rows that failed are never retried. A handler that
    logs, re-raises, or hands the exception on (collecting it, returning it) is not reported, nor is
    one that lets a retry loop try again (the try block returns or breaks on success).""",
    fix="Log it (`log.warning(f\"...: {exc}\")`) or let it propagate; better, catch only the errors you expect.",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            for item_id in (1, 2, 3):
                try:
                    response = requests.get(f"https://api.example.com/items/{item_id}", timeout=30)
                    response.raise_for_status()
                    op.upsert(table="items", data=response.json())
                except Exception:
                    continue
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=11),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            for item_id in (1, 2, 3):
                try:
                    response = requests.get(f"https://api.example.com/items/{item_id}", timeout=30)
                    response.raise_for_status()
                    op.upsert(table="items", data=response.json())
                except requests.HTTPError as exc:
                    log.warning(f"skipping item {item_id}: {exc}")
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_swallowed_exceptions(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for handler in module.nodes(ast.ExceptHandler):
            caught = _catches_broadly(module, handler)
            if caught is None or _reports(module, handler) or _retries(module, handler):
                continue
            bound = f" as {handler.name}" if handler.name else ""
            yield module.violation(handler, f"`except {caught}{bound}:` swallows every error: no raise, no log",
                                   "log it (`log.warning(f\"...: {exc}\")`) or re-raise; better, catch only the "
                                   "exceptions you expect")


def _retries(module: ModuleContext, handler: ast.ExceptHandler) -> bool:
    """True for the retry pattern: the try block leaves the loop on success (return/break), so the
    handler only lets the loop try again, and what happens after the last attempt is not swallowed."""
    attempt = module.parents.get(handler)
    if not isinstance(attempt, ast.Try):
        return False
    loop = next((node for node in module.ancestors(attempt) if isinstance(node, (*LOOPS, *SCOPES))), None)
    if not isinstance(loop, LOOPS):
        return False
    success = list(local_nodes(attempt.body + attempt.orelse, into_loops=False))
    return any(isinstance(node, (ast.Return, ast.Break)) for node in success)


def _reports(module: ModuleContext, handler: ast.ExceptHandler) -> bool:
    for node in _handler_nodes(handler):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Name) and handler.name is not None and node.id == handler.name:
            return True  # the exception is handed on: logged, collected, returned, wrapped
        if isinstance(node, ast.Call):
            if module.op_method(node) in ("warning", "error"):
                return True
            qualified = module.qualname(node.func)
            name = node.func.id if isinstance(node.func, ast.Name) else qualified
            if name in _REPORTING_CALLS or qualified in _REPORTING_CALLS:
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in _REPORTING_METHODS:
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr == "write" and module.text(node.func) in (
                    "sys.stderr.write", "sys.stdout.write"):
                return True
    return False


# ------------------------------------------------------------------------------------ HW072
@rule(
    "HW072", "raise-without-from", "warning",
    summary="A new exception is raised inside `except` without `from`.",
    why="""`raise SomeError(...)` in an except block without `from exc` presents the new error as a
    second failure \"during handling\" of the first, instead of as its consequence; with `from exc`
    the traceback shows the original cause directly, which is what someone reading the sync log
    needs. `from None` says on purpose that the cause is irrelevant.""",
    fix="Chain it: `raise ValueError(\"...\") from exc` (or `from None` to hide the cause on purpose).",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            try:
                page_size = int(configuration.get("page_size", "100"))
            except ValueError:
                raise ValueError("configuration value 'page_size' must be a whole number, e.g. \\"100\\"")
            op.upsert(table="settings", data={"name": "page_size", "value": page_size})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=8),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            try:
                page_size = int(configuration.get("page_size", "100"))
            except ValueError as exc:
                raise ValueError("configuration value 'page_size' must be a whole number, e.g. \\"100\\"") from exc
            op.upsert(table="settings", data={"name": "page_size", "value": page_size})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_raise_without_from(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for handler in module.nodes(ast.ExceptHandler):
            for node in _handler_nodes(handler):
                if not (isinstance(node, ast.Raise) and node.exc is not None and node.cause is None):
                    continue
                if not isinstance(node.exc, ast.Call):
                    continue  # `raise exc` re-raises an existing exception
                if _innermost_handler(module, node) is not handler:
                    continue
                cause = handler.name or "exc"
                as_clause = "" if handler.name else f" (bind it: `except ... as {cause}:`)"
                yield module.violation(node, f"`raise {module.text(node.exc, 50)}` inside an except block has no "
                                       "`from`, so the original error is shown as a second failure",
                                       f"write `raise ... from {cause}`{as_clause}, or `from None` to hide it on "
                                       "purpose")


def _innermost_handler(module: ModuleContext, node: ast.AST) -> ast.ExceptHandler | None:
    for ancestor in module.ancestors(node):
        if isinstance(ancestor, ast.ExceptHandler):
            return ancestor
    return None
