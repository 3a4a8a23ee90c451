"""Rules on checkpointed state: no secrets in it, and no cursor saved ahead of its records."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from headwater.lint.blocks import local_nodes
from headwater.lint.context import SCOPES, ModuleContext, ProjectContext
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.rules.structure import find_update_function
from headwater.lint.sensitive import is_secret_name

__all__: list[str] = []

CONFIGURATION_NAMES = frozenset({"configuration", "config", "cfg", "conf", "configs"})
_CONTAINER_CALLS = frozenset({"max", "min", "sorted", "reversed", "list", "next", "iter"})
_BLOCK_OWNERS = (ast.If, ast.With, ast.AsyncWith, ast.Try)


def _state_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "state":
            return keyword.value
    return call.args[0] if call.args and not isinstance(call.args[0], ast.Starred) else None


def _checkpoints_by_function(module: ModuleContext) -> dict[ast.AST, list[ast.Call]]:
    """``op.checkpoint(...)`` calls grouped by the function they are in."""
    found: dict[ast.AST, list[ast.Call]] = {}
    for call, method in module.op_calls:
        function = module.function_of(call)
        if method == "checkpoint" and function is not None:
            found.setdefault(function, []).append(call)
    return found


# ------------------------------------------------------------------------------------ HW080
@rule(
    "HW080", "secret-in-state", "error",
    summary="A configuration secret (or the whole configuration) is put into checkpointed state.",
    why="""State is saved as plain JSON (files/state.json locally) and shown in logs and the
    Fivetran dashboard; it is not treated as a secret the way the configuration is. The
    configuration is passed to every sync anyway, so there is no reason to store it.""",
    fix="Keep only progress in the state (cursors, page tokens, timestamps); read secrets from `configuration`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1, "updated_at": "2024-01-01T00:00:00Z"})
            op.checkpoint(state={"cursor": "2024-01-01T00:00:00Z", "api_key": configuration["api_key"]})


        connector = Connector(update=update)
    ''', line=6),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            op.upsert(table="items", data={"id": 1, "updated_at": "2024-01-01T00:00:00Z"})
            op.checkpoint(state={"cursor": "2024-01-01T00:00:00Z"})


        connector = Connector(update=update)
    '''),
)
def check_secret_in_state(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        update = find_update_function(module) if module.is_connector else None
        for function, calls in _checkpoints_by_function(module).items():
            assert isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
            sources = _SecretSources(module, function, is_update=function is update)
            if not sources.configuration:
                continue
            seen: set[int] = set()
            for call in calls:
                argument = _state_argument(call)
                if argument is None:
                    continue
                for node, description in sources.in_state(argument):
                    if id(node) not in seen:
                        seen.add(id(node))
                        yield module.violation(node, f"checkpointed state gets {description}",
                                               "keep only progress (cursors, page tokens) in the state; read "
                                               "secrets from `configuration` on every sync")


class _SecretSources:
    """Where configuration secrets flow inside one function."""

    def __init__(self, module: ModuleContext, function: ast.FunctionDef | ast.AsyncFunctionDef,
                 *, is_update: bool) -> None:
        self.module = module
        self.function = function
        arguments = function.args
        positional = arguments.posonlyargs + arguments.args
        self.configuration = {arg.arg for arg in positional + arguments.kwonlyargs if arg.arg in CONFIGURATION_NAMES}
        if is_update and positional:
            self.configuration.add(positional[0].arg)
        self.secret_locals: dict[str, str] = {}
        self.nodes = list(local_nodes(function.body)) if self.configuration else []
        for node in self.nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                whole = self._whole(node.value)
                if whole:
                    self.configuration.add(name)
                key = self._secret_key(node.value)
                if key is not None:
                    self.secret_locals[name] = key

    def _whole(self, expr: ast.AST) -> bool:
        if isinstance(expr, ast.Name):
            return expr.id in self.configuration
        if isinstance(expr, ast.Call):
            func = expr.func
            if isinstance(func, ast.Name) and func.id == "dict" and len(expr.args) == 1:
                return self._whole(expr.args[0])
            if isinstance(func, ast.Attribute) and func.attr == "copy":
                return self._whole(func.value)
        return False

    def _secret_key(self, expr: ast.AST) -> str | None:
        key: ast.AST | None = None
        owner: ast.AST | None = None
        if isinstance(expr, ast.Subscript):
            owner, key = expr.value, expr.slice
        elif (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get"
              and expr.args):
            owner, key = expr.func.value, expr.args[0]
        if owner is None or not (isinstance(owner, ast.Name) and owner.id in self.configuration):
            return None
        key = self.module.constant(key) if isinstance(key, ast.Name) else key
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and is_secret_name(key.value):
            return key.value
        return None

    def describe(self, expr: ast.AST) -> str | None:
        """What secret ``expr`` carries, or ``None``."""
        if self._whole(expr):
            return f"the whole configuration (`{self.module.text(expr, 30)}`)"
        if isinstance(expr, ast.Name) and expr.id in self.secret_locals:
            return f"configuration[{self.secret_locals[expr.id]!r}] (via `{expr.id}`)"
        key = self._secret_key(expr)
        if key is not None:
            return f"configuration[{key!r}]"
        if isinstance(expr, (ast.JoinedStr, ast.FormattedValue, ast.BinOp)):
            for child in ast.iter_child_nodes(expr):
                found = self.describe(child)
                if found is not None:
                    return found
        return None

    def in_state(self, argument: ast.expr) -> Iterator[tuple[ast.AST, str]]:
        yield from self._in_value(argument)
        if isinstance(argument, ast.Name):
            name = argument.id
            for node in self.nodes:
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) \
                                and target.value.id == name:
                            yield from self._in_value(node.value)
                        elif isinstance(target, ast.Name) and target.id == name and isinstance(node.value, ast.Dict):
                            yield from self._in_value(node.value)
                elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr == "update" and isinstance(node.func.value, ast.Name)
                      and node.func.value.id == name):
                    for value in [*node.args, *(keyword.value for keyword in node.keywords)]:
                        yield from self._in_value(value)
                elif (isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)
                      and node.target.id == name):
                    yield from self._in_value(node.value)

    def _in_value(self, value: ast.AST) -> Iterator[tuple[ast.AST, str]]:
        description = self.describe(value)
        if description is not None:
            yield value, description
            return
        if isinstance(value, ast.Dict):
            for item in value.values:
                yield from self._in_value(item)


# ------------------------------------------------------------------------------------ HW081
@rule(
    "HW081", "cursor-before-records", "error",
    summary="A cursor taken from a batch of records is checkpointed before those records are upserted.",
    why="""A checkpoint commits the state with the data sent before it. Saving the new cursor
    first and sending the records after means a failure in between resumes past records that
    never arrived: they are skipped for good.""",
    fix="Upsert the batch first, then move the cursor and checkpoint.",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            response = requests.get("https://api.example.com/items", params={"since": state.get("cursor")}, timeout=30)
            response.raise_for_status()
            items = response.json()["items"]
            state["cursor"] = max(item["updated_at"] for item in items)
            op.checkpoint(state)
            for item in items:
                op.upsert(table="items", data=item)


        connector = Connector(update=update)
    ''', line=10),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            response = requests.get("https://api.example.com/items", params={"since": state.get("cursor")}, timeout=30)
            response.raise_for_status()
            items = response.json()["items"]
            for item in items:
                op.upsert(table="items", data=item)
            state["cursor"] = max(item["updated_at"] for item in items)
            op.checkpoint(state)


        connector = Connector(update=update)
    '''),
)
def check_cursor_before_records(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for call, method in module.op_calls:
            if method != "checkpoint":
                continue
            statement = module.parents.get(call)
            if isinstance(statement, (ast.Yield, ast.Await)):
                statement = module.parents.get(statement)
            if not isinstance(statement, ast.Expr):
                continue
            found = _records_after(project, module, statement, call)
            if found is not None:
                names, record_line = found
                yield module.violation(
                    call, f"op.checkpoint() saves a cursor taken from `{names}` before those records are "
                    f"upserted (line {record_line}); a failure in between skips them for good",
                    "upsert the records first, then move the cursor and checkpoint")


def _records_after(project: ProjectContext, module: ModuleContext, statement: ast.stmt, call: ast.Call
                   ) -> tuple[str, int] | None:
    argument = _state_argument(call)
    block, index = _position(module, statement)
    if argument is None or block is None:
        return None
    cursor_values: list[ast.AST] = []
    if isinstance(argument, ast.Dict):
        cursor_values += argument.values
    elif isinstance(argument, ast.Name):
        for earlier in block[:index]:
            cursor_values += _state_changes(earlier, argument.id)
    containers = set()
    for value in cursor_values:
        containers |= _containers(value)
    if isinstance(argument, ast.Name):
        containers.discard(argument.id)
    if not containers:
        return None
    for later in _following(module, statement):
        record_line = _sends_from(project, module, later, containers)
        if record_line is not None:
            return ", ".join(sorted(containers)), record_line
        containers -= _rebound(later)
        if not containers:
            return None
    return None


def _position(module: ModuleContext, statement: ast.stmt) -> tuple[list[ast.stmt] | None, int]:
    parent = module.parents.get(statement)
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and statement in block:
            return block, block.index(statement)
    return None, 0


def _following(module: ModuleContext, statement: ast.stmt) -> Iterator[ast.stmt]:
    """The statements that run after ``statement`` in the same pass: the rest of its block, then
    the rest of each enclosing if/with/try block (not leaving a loop or function)."""
    current: ast.stmt = statement
    while True:
        block, index = _position(module, current)
        if block is None:
            return
        yield from block[index + 1:]
        owner = module.parents.get(current)
        if not isinstance(owner, _BLOCK_OWNERS) or isinstance(owner, SCOPES):
            return
        current = owner


def _state_changes(statement: ast.stmt, name: str) -> list[ast.AST]:
    """Values written into the dict ``name`` by ``statement``: ``name[k] = v``, ``name.update(...)``."""
    values: list[ast.AST] = []
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == name:
                values.append(statement.value)
            elif isinstance(target, ast.Name) and target.id == name and isinstance(statement.value, ast.Dict):
                values += statement.value.values
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        if isinstance(func, ast.Attribute) and func.attr == "update" and isinstance(func.value, ast.Name) \
                and func.value.id == name:
            for value in [*statement.value.args, *(keyword.value for keyword in statement.value.keywords)]:
                values += value.values if isinstance(value, ast.Dict) else [value]
    return values


def _containers(expr: ast.AST) -> set[str]:
    """Names ``expr`` reads records out of: ``items[-1]``, ``page["next"]``, ``max(... for r in rows)``."""
    found: set[str] = set()
    bound = {name.id for node in ast.walk(expr) if isinstance(node, ast.comprehension)
             for name in ast.walk(node.target) if isinstance(name, ast.Name)}
    for node in ast.walk(expr):
        base: ast.AST | None = None
        if isinstance(node, (ast.Subscript, ast.Attribute)):
            base = node.value
        elif isinstance(node, ast.comprehension):
            base = node.iter
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CONTAINER_CALLS:
            for arg in node.args:
                if isinstance(arg, ast.Name):
                    found.add(arg.id)
        if isinstance(base, ast.Name):
            found.add(base.id)
    return found - bound


def _root(expr: ast.AST) -> str | None:
    """``response`` for ``response.json()["items"]``: through subscripts, attributes and method
    calls without arguments."""
    while True:
        if isinstance(expr, (ast.Subscript, ast.Attribute)):
            expr = expr.value
        elif (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute)
              and not expr.args and not expr.keywords):
            expr = expr.func.value
        else:
            return expr.id if isinstance(expr, ast.Name) else None


def _sends_from(project: ProjectContext, module: ModuleContext, statement: ast.stmt, names: set[str]) -> int | None:
    """The line where ``statement`` sends records taken from one of ``names``, if it does."""
    for node in local_nodes([statement]):
        if isinstance(node, (ast.For, ast.AsyncFor)) and _root(node.iter) in names:
            for inner in local_nodes(node.body):
                if isinstance(inner, ast.Call) and project.sends_records(module, inner):
                    return inner.lineno
        if isinstance(node, ast.Call) and project.sends_records(module, node):
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if any(_root(argument) in names for argument in arguments):
                return node.lineno
    return None


def _rebound(statement: ast.stmt) -> set[str]:
    targets: list[ast.AST] = []
    if isinstance(statement, ast.Assign):
        targets = list(statement.targets)
    elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
        targets = [statement.target]
    elif isinstance(statement, (ast.For, ast.AsyncFor)):
        targets = [statement.target]
    return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}
