"""Rules on exception handling: nothing caught blindly, nothing swallowed, causes kept."""

from __future__ import annotations

import ast
import re
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
    summary="`except Exception` around requests or operations that neither re-raises nor logs.",
    why="""Catching every exception and carrying on silently turns failures into missing data:
    the sync succeeds, nobody is told, and the rows that failed are never retried. Reported when
    the try block does sync work (a request, an operation, or a project function doing either). A
    handler that logs, re-raises, or hands the exception on (collecting it, returning it) is not
    reported, nor is one that lets a retry loop try again (the try block returns or breaks on
    success), nor a local fallback such as `try: return float(text) except Exception: return None`.""",
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
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            for item_id in (1, 2, 3):
                try:
                    response = session.get(f"https://api.example.com/items/{item_id}", timeout=30)
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
            if not _does_sync_work(project, module, handler):
                continue  # a local fallback (parse a value or use None): a choice, not a lost failure
            bound = f" as {handler.name}" if handler.name else ""
            yield module.violation(handler, f"`except {caught}{bound}:` swallows every error: no raise, no log",
                                   "log it (`log.warning(f\"...: {exc}\")`) or re-raise; better, catch only the "
                                   "exceptions you expect")


def _does_sync_work(project: ProjectContext, module: ModuleContext, handler: ast.ExceptHandler) -> bool:
    """True if the try block makes a request, sends records or checkpoints (itself or through a
    project function): what fails there is data, not a value being parsed."""
    attempt = module.parents.get(handler)
    if not isinstance(attempt, ast.Try):
        return False
    for node in local_nodes(attempt.body):
        if isinstance(node, ast.Call) and (project.calls_network(module, node) or project.sends_records(module, node)
                                           or module.op_method(node) is not None):
            return True
    return False


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
    "HW072", "raise-without-from", "info",
    summary="A new exception is raised inside `except` without `from` (style: the cause is still shown).",
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


# ------------------------------------------------------------------------------------ HW073
_REQUEST_ERRORS = re.compile(r"^(?:requests|httpx|urllib3|urllib\.error|aiohttp)\.|"
                             r"(?:^|\.)(?:RequestException|HTTPError|ConnectionError|Timeout|ReadTimeout|"
                             r"ConnectTimeout|URLError|HTTPStatusError|TransportError)$")
_EMPTY_RETURNS = (None, "", False, 0)


def _caught(module: ModuleContext, handler: ast.ExceptHandler) -> tuple[str, bool] | None:
    """``(what, broad)`` for a handler that catches everything or request errors, else ``None``."""
    if handler.type is None:
        return "except:", True
    broad = _catches_broadly(module, handler)
    if broad is not None:
        return f"except {module.text(handler.type, 40)}", True
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for name in caught:
        qualified = module.qualname(name) or module.text(name)
        if _REQUEST_ERRORS.search(qualified):
            return f"except {module.text(handler.type, 40)}", False
    return None


def _log_call(module: ModuleContext, node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if module.log_method(node) is not None or (isinstance(func, ast.Name) and func.id == "print"):
        return True
    return isinstance(func, ast.Attribute) and func.attr in _REPORTING_METHODS - {"exit"}


def _logs_and_carries_on(module: ModuleContext, handler: ast.ExceptHandler) -> str | None:
    """How the handler carries on after logging (``"continue"``, ``"break"``, ``"return None"``,
    ``"pass"``) when that is all it does: log, count, and go on; ``None`` otherwise."""
    logged = False
    ending = "pass"
    for statement in handler.body:
        if isinstance(statement, ast.Expr) and _log_call(module, statement.value):
            logged = True
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a comment-like string
        elif isinstance(statement, ast.AugAssign) and isinstance(statement.value, ast.Constant):
            continue  # failures += 1
        elif isinstance(statement, ast.Pass):
            continue
        elif isinstance(statement, (ast.Continue, ast.Break)):
            ending = "continue" if isinstance(statement, ast.Continue) else "break"
        elif isinstance(statement, ast.Return):
            value = statement.value
            if value is None or (isinstance(value, ast.Constant) and value.value in _EMPTY_RETURNS) or (
                    isinstance(value, (ast.List, ast.Dict, ast.Tuple)) and not getattr(value, "elts", None)
                    and not getattr(value, "keys", None)):
                ending = f"return {module.text(value, 10) if value is not None else ''}".strip()
            else:
                return None
        else:
            return None
    return ending if logged else None


@rule(
    "HW073", "log-and-continue", "warning",
    summary="A failure is logged and the sync carries on without the data (`except: log; continue`).",
    why="""Logging an error is not handling it. When the code that fails is an upsert, or the request
    that fetches a page, and the handler only logs and goes on (continue, pass, `return None` from a
    fetch helper), the records are skipped, the sync succeeds, and its checkpoints move past them:
    they are never synced, and the only trace is a log line. Not reported: handlers that re-raise,
    decide something (an `if` on the status code), catch a specific parsing error, or let a retry
    loop try again.""",
    fix="""Let the error fail the sync (re-raise, or do not catch it): the next sync resumes from the
    last checkpoint and gets the data. Skip a record only on purpose, for an error you name.""",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def fetch_page(url: str):
            try:
                response = requests.get(url, timeout=30)
                response.raise_for_status()
                return response.json()
            except requests.RequestException as exc:
                log.warning(f"request failed: {exc}")
                return None


        def update(configuration: dict, state: dict):
            page = fetch_page("https://api.example.com/items") or {"items": []}
            for item in page["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=10),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def fetch_page(url: str):
            response = session.get(url, timeout=30)
            response.raise_for_status()  # fails the sync; the next one resumes from the last checkpoint
            return response.json()


        def update(configuration: dict, state: dict):
            page = fetch_page("https://api.example.com/items")
            for item in page["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_log_and_continue(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for handler in module.nodes(ast.ExceptHandler):
            attempt = module.parents.get(handler)
            if not isinstance(attempt, ast.Try):
                continue
            caught = _caught(module, handler)
            if caught is None:
                continue
            ending = _logs_and_carries_on(module, handler)
            if ending is None or _retries(module, handler):
                continue
            what, broad = caught
            sends = next((node for node in local_nodes(attempt.body)
                          if isinstance(node, ast.Call) and project.sends_records(module, node)), None)
            if sends is not None and broad:
                yield module.violation(
                    handler, f"`{what}` logs and carries on ({ending}): the records sent in the try block "
                    f"(`{module.text(sends.func, 30)}(...)`, line {sends.lineno}) are skipped and the sync "
                    "still succeeds", "let the error fail the sync (re-raise); the next sync resumes from the "
                    "last checkpoint")
                continue
            fetch = next((node for node in local_nodes(attempt.body)
                          if isinstance(node, ast.Call) and project.calls_network(module, node)), None)
            if fetch is None or sends is not None:
                continue
            function = module.function_of(handler)
            if ending in ("continue", "break"):
                if innermost_loop_of(module, handler) is None:
                    continue
                effect = "that page is skipped" if ending == "continue" else "the remaining pages are skipped"
            elif ending.startswith("return") or (ending == "pass" and _ends_function(module, attempt, function)):
                if function is None or not _returns_data(function):
                    continue
                effect = f"{function.name}() returns {ending[7:] or 'None'} as if there were no data"
            else:
                continue
            yield module.violation(
                handler, f"`{what}` around `{module.text(fetch.func, 30)}(...)` (line {fetch.lineno}) logs and "
                f"carries on: {effect}, and the sync succeeds without it",
                "let the error fail the sync (re-raise); the next sync resumes from the last checkpoint")


def innermost_loop_of(module: ModuleContext, node: ast.AST) -> ast.AST | None:
    for ancestor in module.ancestors(node):
        if isinstance(ancestor, SCOPES):
            return None
        if isinstance(ancestor, LOOPS):
            return ancestor
    return None


def _ends_function(module: ModuleContext, attempt: ast.Try, function: ast.AST | None) -> bool:
    """True if nothing runs after the try statement in its function (the handler falls off the end)."""
    if function is None:
        return False
    current: ast.AST = attempt
    while current is not function:
        block, index = module.block_position(current)
        if block is None or index != len(block) - 1:
            return False
        parent = module.parents.get(current)
        if parent is None or isinstance(parent, LOOPS):
            return False
        current = parent
    return True


def _returns_data(function: ast.AST) -> bool:
    """True if the function returns a value somewhere (a fetch helper, not a procedure)."""
    return any(isinstance(node, ast.Return) and node.value is not None
               and not (isinstance(node.value, ast.Constant) and node.value.value is None)
               for node in local_nodes(getattr(function, "body", [])))
