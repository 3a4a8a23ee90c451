"""Rules on log output: the SDK's Logging instead of print() or the standard logging module, and
its current level names."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from headwater.lint.context import ModuleContext, ProjectContext, target_key
from headwater.lint.registry import Example, Violation, rule

__all__ = ["LOG_METHODS", "stdlib_logger_call"]

LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "critical", "exception", "log", "fatal"})


def _loggers(module: ModuleContext) -> set[str]:
    """Names (``logger``, ``self.log``) whose every assignment is ``logging.getLogger(...)``."""
    kinds: dict[str, set[bool]] = {}
    for node in module.nodes(ast.Assign):
        is_logger = isinstance(node.value, ast.Call) and module.qualname(node.value.func) == "logging.getLogger"
        for target in node.targets:
            key = target_key(target)
            if key is not None:
                kinds.setdefault(key, set()).add(is_logger)
    return {key for key, found in kinds.items() if found == {True}}


def stdlib_logger_call(module: ModuleContext, call: ast.Call, loggers: set[str]) -> bool:
    """True for ``logging.info(...)``, ``logging.getLogger(...).info(...)`` and ``logger.info(...)``."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in LOG_METHODS:
        return False
    qualified = module.qualname(func)
    if qualified is not None and qualified == f"logging.{func.attr}":
        return True
    receiver = func.value
    if isinstance(receiver, ast.Call) and module.qualname(receiver.func) == "logging.getLogger":
        return True
    key = target_key(receiver)
    return key is not None and key in loggers


# ------------------------------------------------------------------------------------ HW020
@rule(
    "HW020", "print-call", "warning",
    summary="print() is used instead of the SDK's Logging.",
    why="""A print() line is not a log record: it has no level and no timestamp, it cannot be
    filtered by level, and Fivetran's connector logs are written through Logging (log.info(),
    log.warning(), ...). print() inside `if __name__ == "__main__":` is not reported.""",
    fix="Use `log.info(...)` (or debug/warning/error) with `from fivetran_connector_sdk import Logging as log`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            rows = [{"id": 1}, {"id": 2}]
            print(f"syncing {len(rows)} rows")
            for row in rows:
                op.upsert(table="items", data=row)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=6),
    good=Example('''
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            rows = [{"id": 1}, {"id": 2}]
            log.info(f"syncing {len(rows)} rows")
            for row in rows:
                op.upsert(table="items", data=row)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_print(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        if "print" in module.bindings:
            continue
        for call in module.calls:
            if isinstance(call.func, ast.Name) and call.func.id == "print" and not module.in_main_guard(call):
                yield module.violation(call, f"`{module.text(call, 50)}` prints instead of logging",
                                       "use `log.info(...)` with `from fivetran_connector_sdk import Logging as log`")


# ------------------------------------------------------------------------------------ HW021
@rule(
    "HW021", "stdlib-logging", "warning",
    summary="The standard logging module is used instead of the SDK's Logging.",
    why="""Messages sent through Python's logging module bypass the SDK's Logging: they do not get
    the connector log format and levels, and with logging's defaults INFO and DEBUG messages are
    dropped altogether. Configuring logging (say, quieting a library's logger) is fine and not
    reported; only emitting messages is.""",
    fix="Use `log.info(...)`, `log.warning(...)` ... with `from fivetran_connector_sdk import Logging as log`.",
    bad=Example('''
        import logging

        from fivetran_connector_sdk import Connector, Operations as op

        logger = logging.getLogger(__name__)


        def update(configuration: dict, state: dict):
            logger.info("starting the sync")
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=9),
    good=Example('''
        import logging

        from fivetran_connector_sdk import Connector, Logging as log, Operations as op

        logging.getLogger("urllib3").setLevel(logging.WARNING)


        def update(configuration: dict, state: dict):
            log.info("starting the sync")
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_stdlib_logging(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        if "logging" not in module.source:
            continue
        loggers = _loggers(module)
        for call in module.calls:
            if stdlib_logger_call(module, call, loggers) and not module.in_main_guard(call):
                assert isinstance(call.func, ast.Attribute)
                level = "warning" if call.func.attr in ("warn", "warning") else call.func.attr
                level = {"exception": "error", "fatal": "critical", "log": "info"}.get(level, level)
                yield module.violation(
                    call, f"`{module.text(call.func, 40)}(...)` logs through the standard logging module, "
                    "not the SDK's Logging",
                    f"use `log.{level}(...)` with `from fivetran_connector_sdk import Logging as log`")


# ------------------------------------------------------------------------------------ HW022
@rule(
    "HW022", "deprecated-log-level", "warning",
    summary="log.fine() or log.severe(), the deprecated Java-style levels.",
    why="""The SDK keeps log.fine() and log.severe() only for older connectors; the documented
    levels are debug, info, warning, error and critical.""",
    fix="Use `log.debug()` instead of `log.fine()`, and `log.error()` (or `log.critical()`) instead of `log.severe()`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            log.fine("fetching page 1")
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=5),
    good=Example('''
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            log.debug("fetching page 1")
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_deprecated_levels(project: ProjectContext) -> Iterator[Violation]:
    replacements = {"fine": "log.debug(...)",
                    "severe": "log.error(...) (or log.critical(...) if the sync cannot go on)"}
    for module in project.modules:
        for call in module.calls:
            method = module.log_method(call)
            if method in replacements:
                yield module.violation(call, f"log.{method}() is a deprecated log level",
                                       f"use {replacements[method]}")
