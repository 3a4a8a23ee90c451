"""Rules on checkpointed state: no secrets in it, and no cursor saved ahead of its records."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator

from headwater.lint.blocks import local_nodes
from headwater.lint.context import SCOPES, ModuleContext, ProjectContext
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.rules.logging import LOG_METHODS
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
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            response = session.get("https://api.example.com/items", params={"since": state.get("cursor")}, timeout=30)
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
    return module.block_position(statement)


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


# ------------------------------------------------------------------------------------ HW082
_READ_ONLY_METHODS = frozenset({"get", "copy", "keys", "values", "items", "__contains__", "__getitem__"})
_PURE_CALLS = frozenset({"len", "str", "repr", "dict", "list", "bool", "print", "json.dumps", "copy.copy",
                         "copy.deepcopy", "isinstance", "sorted", "type", "id", "hash"})


@rule(
    "HW082", "checkpoint-state-unchanged", "warning",
    summary="A loop checkpoints a state that the connector reads a cursor from but never changes.",
    why="""The connector reads its position from the state (`state.get("cursor")`) and checkpoints
    that state inside a loop, yet nothing anywhere stores a new position in it (and no other
    checkpoint saves one): every checkpoint saves the state the sync started with. The cursor never
    moves, so each sync starts over from the same place, and a failure part-way resumes from the very
    beginning. Usually the code meant to store the page's cursor before checkpointing. Checkpoints
    of a state the connector never reads (checkpointing only to commit each batch, as full syncs
    do) are not reported, nor is a state handed to code that may change it.""",
    fix="""Store the position reached before each checkpoint:
    `state[\"cursor\"] = page[-1][\"updated_at\"]`.""",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op

        PAGES = [[{"id": 1, "updated_at": "2024-01-01"}], [{"id": 2, "updated_at": "2024-01-02"}]]


        def update(configuration: dict, state: dict):
            since = state.get("cursor", "")
            for page in PAGES:
                for record in page:
                    if record["updated_at"] > since:
                        op.upsert(table="items", data=record)
                op.checkpoint(state)


        connector = Connector(update=update)
    ''', line=12),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op

        PAGES = [[{"id": 1, "updated_at": "2024-01-01"}], [{"id": 2, "updated_at": "2024-01-02"}]]


        def update(configuration: dict, state: dict):
            since = state.get("cursor", "")
            for page in PAGES:
                for record in page:
                    if record["updated_at"] > since:
                        op.upsert(table="items", data=record)
                state["cursor"] = page[-1]["updated_at"]
                op.checkpoint(state)


        connector = Connector(update=update)
    '''),
)
def check_checkpoint_state_unchanged(project: ProjectContext) -> Iterator[Violation]:
    checkpoints = []
    for module in project.modules:
        for function, calls in _checkpoints_by_function(module).items():
            for call in calls:
                name = _checkpointed_name(module, _state_argument(call))
                if name is None:
                    return  # a dict built on the spot, or a call: it may hold a new position
                checkpoints.append((module, call, _enclosing_loop(module, call, function), name))
    if not any(loop is not None for _, _, loop, _ in checkpoints):
        return
    facts = _StateNames(project)
    found = []
    for module, call, loop, name in checkpoints:
        read = facts.read_without_change(name)
        if read is None:
            return  # some checkpoint can save a new position: the others may just commit batches
        if loop is not None:
            found.append((module, call, loop, name, read))
    for module, call, loop, name, (where, node) in found:
        yield module.violation(
            call, f"op.checkpoint({name}) in the loop at line {getattr(loop, 'lineno', '?')} saves a state that "
            f"nothing changes, though `{where.text(node, 40)}` (line {getattr(node, 'lineno', '?')}) reads a "
            "position from it: the cursor never moves",
            f"store the position reached before each checkpoint, e.g. `{name}[\"cursor\"] = page[-1][\"updated_at\"]`")


def _enclosing_loop(module: ModuleContext, node: ast.AST, function: ast.AST) -> ast.AST | None:
    """The loop whose body holds ``node``, in the same function."""
    child = node
    for ancestor in module.ancestors(node):
        if ancestor is function or isinstance(ancestor, SCOPES):
            return None
        if isinstance(ancestor, (ast.For, ast.AsyncFor, ast.While)) and child in ancestor.body:
            return ancestor
        child = ancestor
    return None


def _checkpointed_name(module: ModuleContext, argument: ast.expr | None) -> str | None:
    """``state`` for ``state``, ``state.copy()``, ``dict(state)``, ``copy.deepcopy(state)``."""
    if isinstance(argument, ast.Name):
        return argument.id
    if isinstance(argument, ast.Call) and not argument.keywords:
        func = argument.func
        if isinstance(func, ast.Attribute) and func.attr == "copy" and not argument.args:
            return _checkpointed_name(module, func.value)
        if len(argument.args) == 1 and ((isinstance(func, ast.Name) and func.id == "dict")
                                        or module.qualname(func) in ("copy.copy", "copy.deepcopy")):
            return _checkpointed_name(module, argument.args[0])
    return None


class _StateNames:
    """For each name, across the project: where a key is read from it, and whether anything may change
    it (a key stored or deleted, a mutating method, a new value bound outside a parameter list,
    an alias changed, or the object handed to code that is not followed)."""

    def __init__(self, project: ProjectContext) -> None:
        self.project = project
        self.reads: dict[str, tuple[ModuleContext, ast.AST]] = {}
        self.changed: set[str] = set()
        aliases: dict[str, set[str]] = defaultdict(set)
        mutated: set[str] = set()  # changed in place: a key or attribute stored, a mutating method
        escaped: set[str] = set()  # handed to code not followed, or stored somewhere else
        rebound: set[str] = set()
        for module in project.modules:
            for node in module.nodes(ast.Subscript):
                owner = _owner(node.value)
                if owner is None:
                    continue
                if isinstance(node.ctx, ast.Load):
                    if isinstance(node.value, ast.Name):
                        self.reads.setdefault(owner, (module, node))
                else:
                    mutated.add(owner)
            for compare in module.nodes(ast.Compare):
                for operator, right in zip(compare.ops, compare.comparators):
                    if isinstance(operator, (ast.In, ast.NotIn)) and isinstance(right, ast.Name):
                        self.reads.setdefault(right.id, (module, compare))
            for name in module.nodes(ast.Name):
                if isinstance(name.ctx, (ast.Store, ast.Del)):
                    rebound.add(name.id)
            for attribute in module.nodes(ast.Attribute):
                if isinstance(attribute.ctx, (ast.Store, ast.Del)):
                    owner = _owner(attribute.value)
                    if owner is not None:
                        mutated.add(owner)
            for call in module.calls:
                func = call.func
                if isinstance(func, ast.Attribute):
                    owner = _owner(func.value)
                    if owner is not None:
                        if func.attr in _READ_ONLY_METHODS:
                            if func.attr == "get" and isinstance(func.value, ast.Name):
                                self.reads.setdefault(owner, (module, call))
                        else:
                            mutated.add(owner)
                if module.op_method(call) == "checkpoint" or self._pure(module, call):
                    continue
                parameters = self._parameters(module, call)
                for index, value in enumerate(call.args):
                    owner = _owner(value.value if isinstance(value, ast.Starred) else value)
                    if owner is not None and (parameters is None or index >= len(parameters)
                                              or parameters[index] != owner or isinstance(value, ast.Starred)):
                        escaped.add(owner)
                for keyword in call.keywords:
                    owner = _owner(keyword.value)
                    if owner is not None and keyword.arg != owner:
                        escaped.add(owner)  # handed on under another name (or to code not followed)
                    elif owner is not None and parameters is None:
                        escaped.add(owner)
            for assign in module.nodes(ast.Assign):
                for stored in _stored_values(assign.value):
                    owner = _owner(stored)
                    if owner is not None:
                        for target in assign.targets:
                            if isinstance(target, ast.Name):
                                aliases[owner].add(target.id)
                            else:
                                escaped.add(owner)  # stored in an attribute or a container
        # A new value bound to the name changes what it checkpoints (parameters are ast.arg, not
        # ast.Name, so they do not count); an alias changes the object only through mutation.
        self.changed = mutated | escaped | rebound | {name for name, names in aliases.items() if names & mutated}

    def _pure(self, module: ModuleContext, call: ast.Call) -> bool:
        func = call.func
        name = func.id if isinstance(func, ast.Name) else module.qualname(func)
        if name in _PURE_CALLS or module.log_method(call) is not None:
            return True
        return isinstance(func, ast.Attribute) and func.attr in LOG_METHODS

    def _parameters(self, module: ModuleContext, call: ast.Call) -> list[str] | None:
        """The positional parameter names of the project function ``call`` runs (``None`` if unknown)."""
        target = self.project.callee(module, call)
        definitions = self.project.definitions(target) if target is not None else []
        if len(definitions) != 1:
            return None
        arguments = definitions[0].args
        names = [arg.arg for arg in arguments.posonlyargs + arguments.args]
        if names and names[0] in ("self", "cls") and isinstance(call.func, ast.Attribute):
            names = names[1:]
        return names

    def read_without_change(self, name: str) -> tuple[ModuleContext, ast.AST] | None:
        """Where a key of ``name`` is read, if ``name`` is read and never changed; else ``None``."""
        if name in self.changed:
            return None
        return self.reads.get(name)


def _owner(node: ast.AST) -> str | None:
    """The name whose object ``node`` is or is part of: ``state`` for ``state``, ``state["a"]``,
    ``state.get("a", {})``, ``state.setdefault("a", {})``."""
    expr: ast.AST = node
    while True:
        if isinstance(expr, (ast.Subscript, ast.Attribute)):
            expr = expr.value
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            expr = expr.func.value
        else:
            return expr.id if isinstance(expr, ast.Name) else None


def _stored_values(value: ast.AST) -> list[ast.AST]:
    """What an assignment stores: the value, or the items of a tuple, list or dict literal."""
    if isinstance(value, (ast.Tuple, ast.List)):
        return list(value.elts)
    if isinstance(value, ast.Dict):
        return list(value.values)
    return [value]
