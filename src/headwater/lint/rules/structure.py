"""Rules on the connector's shape: it parses, defines update(), and declares ``connector = Connector(...)``."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Iterator

from headwater._ast import parse as parse_source
from headwater.lint.context import ModuleContext, ProjectContext
from headwater.lint.registry import Example, Violation, rule
from headwater.vendor import PACKAGE as VENDORED_PACKAGE
from headwater.vendor import vendored_name

__all__ = [
    "connector_argument",
    "connector_calls",
    "find_schema_function",
    "find_update_function",
]

UNKNOWN = ast.Constant(value=...)  # an argument hidden in *args / **kwargs
_BUILTINS = frozenset(dir(builtins))


def connector_calls(module: ModuleContext) -> list[ast.Call]:
    """Every ``Connector(...)`` call in the module (under any alias)."""
    return module.connector_calls


def connector_argument(call: ast.Call, name: str, position: int) -> ast.expr | None:
    """The expression passed as ``name`` (keyword or positional), ``None`` if absent, or
    :data:`UNKNOWN` if it may be hidden in ``*args``/``**kwargs``."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            return UNKNOWN
        if index == position:
            return arg
    if any(keyword.arg is None for keyword in call.keywords):
        return UNKNOWN
    return None


def _named_function(module: ModuleContext, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    return module.functions.get(name)


def find_update_function(module: ModuleContext) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function passed to ``Connector(update=...)``, or the module's ``def update``."""
    for call in connector_calls(module):
        argument = connector_argument(call, "update", 0)
        if isinstance(argument, ast.Name):
            found = _named_function(module, argument.id)
            if found is not None:
                return found
    return _named_function(module, "update")


def find_schema_function(module: ModuleContext) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function passed to ``Connector(schema=...)``, or the module's ``def schema``."""
    for call in connector_calls(module):
        argument = connector_argument(call, "schema", 1)
        if isinstance(argument, ast.Name):
            found = _named_function(module, argument.id)
            if found is not None:
                return found
    return _named_function(module, "schema")


# ------------------------------------------------------------------------------------ HW000
@rule(
    "HW000", "syntax-error", "error",
    summary="A module of the connector does not parse.",
    why="""Python cannot import a file with a syntax error, so the sync fails before it starts.
    Every other rule needs the parsed code, so they are skipped for that file.""",
    fix="Fix the syntax at the line shown (a missing colon, bracket or quote is the usual cause).",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            for row in [{"id": 1}]
                op.upsert(table="items", data=row)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=5),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            for row in [{"id": 1}]:
                op.upsert(table="items", data=row)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_syntax(project: ProjectContext) -> Iterator[Violation]:
    for failure in project.failures:
        yield Violation(failure.path, failure.line, failure.col, failure.message,
                        "fix the syntax at this line; the file must import cleanly")


# ------------------------------------------------------------------------------------ HW001
@rule(
    "HW001", "update-missing", "error",
    summary="connector.py has no update() function for the Connector to call.",
    why="""update(configuration, state) is the one required method: the SDK calls it for every
    sync. Without it (or when Connector(update=...) names a function that does not exist)
    connector.py fails to load.""",
    fix="Define `def update(configuration: dict, state: dict):` and pass it: `Connector(update=update)`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def sync(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=9),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_update_missing(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None or module.has_star_import:
        return
    usable = "update" in module.bindings
    for call in connector_calls(module):
        argument = connector_argument(call, "update", 0)
        if isinstance(argument, ast.Name):
            if argument.id in module.bindings or argument.id in _BUILTINS:
                usable = True
            else:
                usable = True  # reported here, not again below
                yield module.violation(
                    argument,
                    f"Connector(update={argument.id}) names `{argument.id}`, which connector.py never defines",
                    f"define `def {argument.id}(configuration: dict, state: dict):`, or pass the function "
                    "that syncs: `Connector(update=<your function>)`",
                )
        elif argument is not None and argument is not UNKNOWN and not isinstance(argument, ast.Constant):
            usable = True
    if not usable:
        yield Violation(module.display, 1, 1, "connector.py defines no update(configuration, state) function",
                        "add `def update(configuration: dict, state: dict):` that sends the data, and "
                        "`connector = Connector(update=update)`")


# ------------------------------------------------------------------------------------ HW002
@rule(
    "HW002", "connector-missing", "error",
    summary="No module-level `connector = Connector(...)`.",
    why="""The SDK and headwater look for the module-level variable named `connector` holding a
    Connector. A Connector under another name, inside a function, or only under
    `if __name__ == "__main__":` is not found, and the sync fails to load.""",
    fix="Add `connector = Connector(update=update, schema=schema)` at the top level of connector.py.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        my_connector = Connector(update=update)
    ''', line=9),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_connector_missing(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None or "connector" in module.bindings or module.has_star_import:
        return
    hint = "assign it at the top level of connector.py: `connector = Connector(update=update)`"
    for call in connector_calls(module):
        parent = module.parents.get(call)
        function = module.function_of(call)
        if function is not None:
            message = (f"Connector(...) is created inside {function.name}(), so connector.py has no "
                       "module-level `connector` when it is imported")
        elif module.in_main_guard(call):
            message = ("Connector(...) is only created under `if __name__ == \"__main__\":`, which does not "
                       "run when the SDK imports connector.py")
        elif isinstance(parent, ast.Assign) and isinstance(parent.targets[0], ast.Name):
            name = parent.targets[0].id
            message = f"the Connector is assigned to `{name}`; the SDK looks for the name `connector`"
            hint = f"rename `{name}` to `connector`"
        else:
            message = "the Connector(...) is not assigned to the module-level name `connector`"
        yield module.violation(call, message, hint)
        return
    yield Violation(module.display, 1, 1, "connector.py never creates `connector = Connector(update=...)`",
                    "add `connector = Connector(update=update, schema=schema)` at the end of connector.py")


# ------------------------------------------------------------------------------------ HW003
@rule(
    "HW003", "update-not-passed", "error",
    summary="Connector(...) is created without a usable update function.",
    why="""`Connector(update, schema=None)` needs the update function itself. Leaving it out raises
    a TypeError when connector.py is imported; passing None, a string, or the result of calling
    update() (which runs the sync at import time) fails the sync.""",
    fix="Pass the function object: `Connector(update=update, schema=schema)`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(schema=schema)
    ''', line=13),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    '''),
)
def check_update_not_passed(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None:
        return
    for call in connector_calls(module):
        argument = connector_argument(call, "update", 0)
        if argument is None:
            yield module.violation(call, f"`{module.text(call)}` does not pass an update function",
                                   "pass it: `Connector(update=update, schema=schema)`")
        elif argument is UNKNOWN:
            continue
        elif isinstance(argument, ast.Constant):
            kind = "None" if argument.value is None else f"a {type(argument.value).__name__}"
            yield module.violation(argument, f"Connector(update={module.text(argument)}) passes {kind}, "
                                   "not a function",
                                   "pass the function object itself: `Connector(update=update)`")
        elif isinstance(argument, ast.Call) and isinstance(argument.func, ast.Name):
            called = module.functions.get(argument.func.id)
            if called is not None and _looks_like_update(called):
                yield module.violation(
                    argument, f"Connector(update={module.text(argument)}) calls {called.name}() while "
                    "connector.py is imported and passes its result",
                    f"pass the function without calling it: `Connector(update={called.name})`")


def _looks_like_update(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    names = [arg.arg for arg in function.args.posonlyargs + function.args.args]
    return len(names) == 2 and names[1] == "state"


# ------------------------------------------------------------------------------------ HW004
@rule(
    "HW004", "callable-signature", "error",
    summary="update() or schema() cannot be called the way the SDK calls it.",
    why="""The SDK calls `update(configuration=..., state=...)` with keyword arguments, so the
    parameters must be named exactly `configuration` and `state`; it calls `schema(configuration)`
    with one positional argument; and it never awaits, so an `async def` update or schema does not
    run. Any of these fails the sync.""",
    fix="Write `def update(configuration: dict, state: dict):` and `def schema(configuration: dict):` (plain def).",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(config: dict, state: dict):
            op.upsert(table="items", data={"id": 1, "region": config.get("region")})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=4),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1, "region": configuration.get("region")})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_signatures(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None:
        return
    calls = connector_calls(module)
    updates = _passed_functions(module, calls, "update", 0)
    if not calls and "update" in module.functions:
        updates = [module.functions["update"]]
    for update in updates:
        yield from _check_update_signature(module, update)
    for schema in _passed_functions(module, calls, "schema", 1):
        yield from _check_schema_signature(module, schema)


def _passed_functions(module: ModuleContext, calls: list[ast.Call], name: str, position: int
                      ) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The module functions passed as ``name`` to any Connector(...) call, each once."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for call in calls:
        argument = connector_argument(call, name, position)
        if isinstance(argument, ast.Name) and argument.id in module.functions:
            function = module.functions[argument.id]
            if function not in found:
                found.append(function)
    return found


def _check_update_signature(module: ModuleContext, function: ast.FunctionDef | ast.AsyncFunctionDef
                            ) -> Iterator[Violation]:
    name = function.name
    if isinstance(function, ast.AsyncFunctionDef):
        yield module.violation(function, f"{name}() is `async def`; the SDK calls update synchronously, "
                               "so its body never runs", f"make it a plain `def {name}(configuration, state):`")
        return
    arguments = function.args
    keyword_names = [arg.arg for arg in arguments.args + arguments.kwonlyargs]
    positional = arguments.posonlyargs + arguments.args
    reported: set[str] = set()
    if arguments.kwarg is None:
        for index, expected in enumerate(("configuration", "state")):
            if expected in keyword_names:
                continue
            wrong = positional[index] if index < len(positional) else None
            if wrong is not None and wrong.arg not in ("configuration", "state"):
                reported.add(wrong.arg)
                yield module.violation(
                    wrong, f"{name}() names its parameter `{wrong.arg}`, but the SDK calls "
                    f"{name}(configuration=..., state=...) by keyword",
                    f"rename `{wrong.arg}` to `{expected}`: `def {name}(configuration: dict, state: dict):`")
            else:
                yield module.violation(
                    function, f"{name}() has no parameter `{expected}` it can take by keyword, but the SDK "
                    f"calls {name}(configuration=..., state=...)",
                    f"write `def {name}(configuration: dict, state: dict):`")
    for arg, has_default in _required_flags(arguments):
        if has_default or arg.arg in ("configuration", "state") or arg.arg in reported:
            continue
        yield module.violation(arg, f"{name}() requires a parameter `{arg.arg}` that the SDK never passes",
                               f"remove `{arg.arg}` or give it a default value")


def _required_flags(arguments: ast.arguments) -> Iterator[tuple[ast.arg, bool]]:
    positional = arguments.posonlyargs + arguments.args
    first_default = len(positional) - len(arguments.defaults)
    for index, arg in enumerate(positional):
        yield arg, index >= first_default
    for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults):
        yield arg, default is not None


def _check_schema_signature(module: ModuleContext, function: ast.FunctionDef | ast.AsyncFunctionDef
                            ) -> Iterator[Violation]:
    name = function.name
    if isinstance(function, ast.AsyncFunctionDef):
        yield module.violation(function, f"{name}() is `async def`; the SDK calls schema synchronously and "
                               "gets a coroutine instead of a list", f"make it a plain `def {name}(configuration):`")
        return
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    if not positional and arguments.vararg is None:
        yield module.violation(function, f"{name}() takes no argument, but the SDK calls {name}(configuration)",
                               f"write `def {name}(configuration: dict):`")
        return
    required = [arg for arg, has_default in _required_flags(arguments) if not has_default]
    for arg in required[1:] if required and required[0] in positional else required:
        yield module.violation(arg, f"{name}() requires `{arg.arg}`, but the SDK calls it with the "
                               "configuration only", f"write `def {name}(configuration: dict):`")


# ------------------------------------------------------------------------------------ HW005
@rule(
    "HW005", "schema-not-passed", "warning",
    summary="connector.py defines schema() but does not pass it to Connector.",
    why="""schema() only takes effect when it is passed: `Connector(update=update, schema=schema)`.
    Otherwise its primary keys and column types are silently ignored: every table is keyless (rows
    are never replaced, only appended) and every type is inferred.""",
    fix="Pass it: `connector = Connector(update=update, schema=schema)`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=13),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def schema(configuration: dict):
            return [{"table": "items", "primary_key": ["id"]}]


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update, schema=schema)
    '''),
)
def check_schema_not_passed(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None or "schema" not in module.functions:
        return
    calls = connector_calls(module)
    if any(connector_argument(call, "schema", 1) is not None for call in calls):
        return
    for call in calls:
        if connector_argument(call, "schema", 1) is None:
            yield module.violation(call, "connector.py defines schema() but "
                                   f"`{module.text(call)}` does not pass it, so it is never called",
                                   "pass it: `Connector(update=update, schema=schema)`")



# ------------------------------------------------------------------------------------ HW006
def _name_guard(test: ast.expr) -> str | None:
    """The string a ``__name__ == "..."`` test compares with (either way round), else ``None``."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return None
    sides = [test.left, test.comparators[0]]
    if not any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides):
        return None
    return next((side.value for side in sides if isinstance(side, ast.Constant) and isinstance(side.value, str)),
                None)


def _connector_names(module: ModuleContext) -> set[str]:
    """Module-level names bound to ``Connector(...)``."""
    names = set()
    for call in connector_calls(module):
        parent = module.parents.get(call)
        if isinstance(parent, (ast.Assign, ast.AnnAssign)) and module.function_of(call) is None:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


@rule(
    "HW006", "debug-without-main-guard", "error",
    summary="connector.debug() runs at import time, not under `if __name__ == \"__main__\":`.",
    why="""The platform imports connector.py to find `connector`. A `connector.debug()` at the top
    level then starts a local debug sync during that import, every time the connector is loaded.
    Under `if __name__ == "__main__":` it runs only when the file is run directly. A guard that
    compares `__name__` with anything else (`"main"`) is never true, so debug() never runs at all.""",
    fix="Put it under the guard: `if __name__ == \"__main__\":` then `connector.debug()`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
        connector.debug()
    ''', line=10),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)

        if __name__ == "__main__":
            connector.debug()
    '''),
)
def check_debug_guard(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None:
        return
    names = _connector_names(module)
    for call in module.calls:
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "debug"):
            continue
        receiver = func.value
        if not ((isinstance(receiver, ast.Name) and receiver.id in names) or module.is_connector_call(receiver)):
            continue
        if module.function_of(call) is not None or module.in_main_guard(call):
            continue
        wrong = next((value for step in module.ancestors(call) if isinstance(step, ast.If)
                      for value in [_name_guard(step.test)] if value is not None), None)
        if wrong is not None:
            yield module.violation(call, f"`if __name__ == {wrong!r}:` is never true (the name is \"__main__\"), "
                                   f"so `{module.text(call, 40)}` never runs",
                                   "compare with \"__main__\": `if __name__ == \"__main__\":`")
        else:
            yield module.violation(call, f"`{module.text(call, 40)}` runs whenever connector.py is imported, "
                                   "starting a debug sync inside the platform's import",
                                   "put it under `if __name__ == \"__main__\":`")


# ------------------------------------------------------------------------------------ HW007
_EXITS = {"sys.exit": "sys.exit()", "os._exit": "os._exit()"}


@rule(
    "HW007", "exit-call", "warning",
    summary="exit(), quit(), sys.exit() or os._exit() in connector code.",
    why="""exit() and quit() are helpers for the interactive shell (added by the site module, not
    always present), and all of these end the process instead of failing the sync with a message:
    the sync stops wherever it was, without an error that says why. Raising an exception fails the
    sync cleanly and shows the reason; returning ends it normally. Calls under
    `if __name__ == "__main__":` are not reported.""",
    fix="Raise an exception that says what went wrong (`raise ValueError(\"...\")`), or return.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            if "api_key" not in configuration:
                log.severe("api_key is missing")
                exit(1)
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=7),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            if "api_key" not in configuration:
                raise ValueError("configuration value 'api_key' is missing; set it in configuration.json")
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_exit_calls(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for call in module.calls:
            func = call.func
            if isinstance(func, ast.Name) and func.id in ("exit", "quit") and func.id not in module.bindings:
                name = f"{func.id}()"
            else:
                qualified = module.qualname(func)
                if qualified not in _EXITS:
                    continue
                name = _EXITS[qualified]
            if module.in_main_guard(call) or module.function_of(call) is None:
                continue
            yield module.violation(call, f"`{module.text(call, 40)}` ends the whole process: the sync stops without "
                                   "an error that says why" + (" (and exit()/quit() are interactive-shell helpers)"
                                                                if name in ("exit()", "quit()") else ""),
                                   "raise an exception that says what went wrong, or return")


# ------------------------------------------------------------------------------------ HW008
@rule(
    "HW008", "connector-not-module-level", "warning",
    summary="A Connector(...) is created inside a function or under `if __name__ == \"__main__\":`.",
    why="""The platform uses the module-level `connector` and nothing else. Another Connector built
    inside a function, a class or the main guard is not the one that runs in production, so code
    or settings that only reach it (a different update function, another schema) are silently
    ignored there. (When there is no module-level `connector` at all, HW002 reports it.)""",
    fix="Create one `connector = Connector(update=update, schema=schema)` at the top level and use it everywhere.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)

        if __name__ == "__main__":
            connector = Connector(update=update)
            connector.debug()
    ''', line=12),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)

        if __name__ == "__main__":
            connector.debug()
    '''),
)
def check_connector_not_module_level(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None or "connector" not in module.bindings:
        return  # HW002 reports the missing module-level connector
    for call in connector_calls(module):
        scope = module.scope_of(call)
        if scope is not None:
            where = f"inside {scope.name}()" if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) else \
                f"inside class {scope.name}" if isinstance(scope, ast.ClassDef) else "inside a lambda"
        elif module.in_main_guard(call):
            where = "under `if __name__ == \"__main__\":`"
        else:
            continue
        yield module.violation(call, f"`{module.text(call, 40)}` is created {where}; only the module-level "
                               "`connector` runs on the platform",
                               "create one `connector = Connector(...)` at the top level and use it everywhere")


# ------------------------------------------------------------------------------------ HW009
def _imported_modules(nodes: Iterable[ast.AST]) -> list[tuple[ast.stmt, list[str]]]:
    """``(statement, absolute module names)`` of the import statements among ``nodes``, in source order."""
    imports: list[tuple[ast.stmt, list[str]]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            imports.append((node, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom) and not node.level:
            imports.append((node, [node.module or ""]))
    return sorted(imports, key=lambda item: (item[0].lineno, item[0].col_offset))


def _root_named(names: list[str], root: str) -> str | None:
    return next((name for name in names if name.split(".")[0] == root), None)


@rule(
    "HW009", "headwater-import", "warning",
    summary="The connector imports headwater, which is not there when it is deployed.",
    why="""headwater runs connectors locally; the Connector SDK runtime where connectors are deployed
    does not have it, so `import headwater...` fails there and the connector cannot load. The SDK's
    own names come from `fivetran_connector_sdk`, which works in both places. Not reported when the
    project vendors its own copy (a `headwater/` package or `headwater.py` in the project folder).""",
    fix="""Import from `fivetran_connector_sdk` (Connector, Operations, Logging); copy any helper you
    need into the project.""",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op
        from headwater.incremental import Cursor


        def update(configuration: dict, state: dict):
            cursor = Cursor(state, "items", field="updated_at", primary_key="id")
            for item in [{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}]:
                op.upsert(table="items", data=item)
                cursor.track(item)
            cursor.commit()
            op.checkpoint(state)


        connector = Connector(update=update)
    ''', line=2),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            items = [{"id": 1, "updated_at": "2024-01-01T00:00:00Z"}]
            for item in items:
                op.upsert(table="items", data=item)
            state["updated_at"] = max(item["updated_at"] for item in items)
            op.checkpoint(state)


        connector = Connector(update=update)
    '''),
)
def check_headwater_import(project: ProjectContext) -> Iterator[Violation]:
    if (project.root / "headwater" / "__init__.py").is_file() or (project.root / "headwater.py").is_file():
        return
    # The copy `headwater vendor` writes: fine as long as it does not import headwater itself. It is
    # checked file by file below, whether or not lint read its modules.
    vendored = project.root / VENDORED_PACKAGE
    uses_copy = False
    for module in project.modules:
        if vendored in module.path.parents:
            uses_copy = True
            continue
        for node, names in _imported_modules([*module.nodes(ast.Import), *module.nodes(ast.ImportFrom)]):
            uses_copy = uses_copy or _root_named(names, VENDORED_PACKAGE) is not None
            name = _root_named(names, "headwater")
            if name is None:
                continue
            copied = vendored_name(name)
            hint = (f"import it from the project's vendored copy instead (`{copied}`; run `headwater vendor .` "
                    f"if there is no {VENDORED_PACKAGE}/ folder yet)" if copied is not None else
                    "import SDK names from fivetran_connector_sdk; copy any helper you need into the project")
            yield module.violation(node, f"`{module.text(node, 50)}` imports {name}, which the platform "
                                   "does not have: the connector fails to load once deployed", hint)
    if not uses_copy or not vendored.is_dir():
        return
    for path in sorted(vendored.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            tree = parse_source(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue  # HW000 reports it when the connector's imports reach it
        for node, names in _imported_modules(ast.walk(tree)):
            name = _root_named(names, "headwater")
            if name is not None:
                yield Violation(project.display(path), node.lineno, node.col_offset + 1,
                                f"the vendored copy imports {name}, which the platform does not have: the "
                                "connector fails to load once deployed",
                                "rewrite the copy with `headwater vendor --force .`; do not edit its files")
