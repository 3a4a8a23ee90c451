"""Rules on how data reaches the operations: something is sent, state is checkpointed at sensible
points, records stream page by page instead of piling up in memory."""

from __future__ import annotations

import ast
import bisect
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from headwater.lint.blocks import COMPREHENSIONS, LOOPS, is_conditional, local_nodes, statement_lists
from headwater.lint.context import (
    DATA_OPS,
    RECORD_OPS,
    SCOPES,
    FunctionKey,
    ModuleContext,
    ProjectContext,
    target_key,
)
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.rules.structure import find_update_function

__all__ = ["innermost_loop", "loop_sends_records", "sends_records_in"]


@dataclass(frozen=True)
class _Evidence:
    data: bool
    checkpoint: bool


def _operation_evidence(project: ProjectContext) -> _Evidence:
    """Whether any module sends data / checkpoints. Lenient on purpose: any ``.upsert(...)``-like
    attribute counts, and Operations handed around as a value counts as both."""
    data = checkpoint = False
    for module in project.modules:
        for node in module.nodes(ast.Attribute):
            name = module.sdk_name(node)
            method = name.split(".", 1)[1] if name is not None and name.startswith("Operations.") else node.attr
            if method in DATA_OPS and (name is not None or method in ("upsert", "truncate")):
                data = True
            elif method == "checkpoint":
                checkpoint = True
        for name_node in module.nodes(ast.Name):
            if module.sdk_name(name_node) == "Operations":
                parent = module.parents.get(name_node)
                if not (isinstance(parent, ast.Attribute) and parent.value is name_node):
                    return _Evidence(True, True)
        if data and checkpoint:
            break
    return _Evidence(data, checkpoint)


def innermost_loop(module: ModuleContext, node: ast.AST) -> ast.For | ast.AsyncFor | ast.While | None:
    """The nearest loop around ``node`` in the same function (``None`` if there is none)."""
    for ancestor in module.ancestors(node):
        if isinstance(ancestor, SCOPES) or isinstance(ancestor, COMPREHENSIONS):
            return None
        if isinstance(ancestor, LOOPS):
            return ancestor
    return None


def sends_records_in(project: ProjectContext, module: ModuleContext, roots: list[ast.AST],
                     *, into_loops: bool = True) -> ast.Call | None:
    """The first call under ``roots`` that sends records (op.upsert/update/delete, or a project
    function that does)."""
    for node in local_nodes(roots, into_loops=into_loops):
        if isinstance(node, ast.Call) and project.sends_records(module, node):
            return node
    return None


def loop_sends_records(project: ProjectContext, module: ModuleContext, loop: ast.AST) -> bool:
    """True if every iteration of ``loop`` sends records itself (not only in a nested loop)."""
    return sends_records_in(project, module, list(getattr(loop, "body", [])), into_loops=False) is not None


# ------------------------------------------------------------------------------------ HW010
@rule(
    "HW010", "no-operations", "error",
    summary="The connector never calls an operation, so a sync writes nothing.",
    why="""Data reaches the destination only through op.upsert(), op.update(), op.delete() and
    op.truncate(). A connector that calls none of them (in connector.py or a module it imports)
    runs, succeeds, and delivers nothing.""",
    fix="Send each record with `op.upsert(table=\"...\", data=record)` inside update().",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Logging as log


        def update(configuration: dict, state: dict):
            rows = [{"id": 1}, {"id": 2}]
            log.info(f"fetched {len(rows)} rows")


        connector = Connector(update=update)
    ''', line=4),
    good=Example('''
        from fivetran_connector_sdk import Connector, Logging as log, Operations as op


        def update(configuration: dict, state: dict):
            rows = [{"id": 1}, {"id": 2}]
            log.info(f"fetched {len(rows)} rows")
            for row in rows:
                op.upsert(table="items", data=row)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_no_operations(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None or not project.complete:
        return
    update = find_update_function(module)
    if update is None or _operation_evidence(project).data:
        return
    yield module.violation(update, f"{update.name}() never calls op.upsert/update/delete/truncate (nor does any "
                           "module it imports), so the sync writes nothing",
                           "send each record with `op.upsert(table=\"...\", data=record)`")


# ------------------------------------------------------------------------------------ HW011
@rule(
    "HW011", "no-checkpoint", "warning",
    summary="Data is sent but op.checkpoint() is never called.",
    why="""op.checkpoint(state) saves the state together with the data sent before it. Without
    any checkpoint the state is never saved: every sync starts again from the beginning, and a
    failure late in a long sync loses all of its progress.""",
    fix="Call `op.checkpoint(state=...)` with the new cursor after each page or batch, and at the end.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            for row in [{"id": 1}, {"id": 2}]:
                op.upsert(table="items", data=row)


        connector = Connector(update=update)
    ''', line=4),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            for row in [{"id": 1}, {"id": 2}]:
                op.upsert(table="items", data=row)
            op.checkpoint(state={"last_id": 2})


        connector = Connector(update=update)
    '''),
)
def check_no_checkpoint(project: ProjectContext) -> Iterator[Violation]:
    module = project.connector
    if module is None or not project.complete:
        return
    update = find_update_function(module)
    evidence = _operation_evidence(project)
    if update is None or not evidence.data or evidence.checkpoint:
        return
    yield module.violation(update, f"{update.name}() sends data but nothing calls op.checkpoint(): the state is "
                           "never saved, so every sync starts from scratch",
                           "call `op.checkpoint(state={...cursor...})` after each page or batch and at the end")


# ------------------------------------------------------------------------------------ HW012
@rule(
    "HW012", "checkpoint-per-row", "warning",
    summary="op.checkpoint() runs on every iteration of a per-record loop.",
    why="""Each checkpoint is a commit in the destination. Checkpointing after every row makes
    the sync many times slower and buys nothing: resuming from the last page is just as good.""",
    fix="""Checkpoint once per page or batch: after the loop, or every N rows
    (`if count % 1000 == 0: op.checkpoint(state)`).""",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op

        ROWS = [{"id": n, "updated_at": f"2024-01-{n:02d}"} for n in range(1, 29)]


        def update(configuration: dict, state: dict):
            for row in ROWS:
                op.upsert(table="items", data=row)
                op.checkpoint(state={"cursor": row["updated_at"]})


        connector = Connector(update=update)
    ''', line=9),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op

        ROWS = [{"id": n, "updated_at": f"2024-01-{n:02d}"} for n in range(1, 29)]


        def update(configuration: dict, state: dict):
            for row in ROWS:
                op.upsert(table="items", data=row)
            op.checkpoint(state={"cursor": ROWS[-1]["updated_at"]})


        connector = Connector(update=update)
    '''),
)
def check_checkpoint_per_row(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for call, method in module.op_calls:
            if method != "checkpoint":
                continue
            loop = innermost_loop(module, call)
            if not isinstance(loop, (ast.For, ast.AsyncFor)) or not _in_body(module, call, loop):
                continue
            if is_conditional(module, call, loop):
                continue
            direct = [node for node in local_nodes(loop.body, into_loops=False)
                      if isinstance(node, ast.Call) and module.op_method(node) in RECORD_OPS]
            if not direct:
                continue
            nested = [node for node in local_nodes(loop.body, into_loops=False)
                      if (isinstance(node, (*LOOPS, *COMPREHENSIONS))
                          and sends_records_in(project, module, [node]) is not None)
                      or (isinstance(node, ast.Call) and module.op_method(node) is None
                          and project.sends_records(module, node))]
            if nested:
                continue  # a page or table loop: rows go out in an inner loop or a helper
            target = module.text(loop.target, 30)
            yield module.violation(
                call, f"op.checkpoint() runs for every record of `for {target} in ...` (line {loop.lineno}), "
                "one commit per row",
                "checkpoint once per page or batch: after the loop, or `if count % 1000 == 0: op.checkpoint(...)`")


def _in_body(module: ModuleContext, node: ast.AST, loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    child = node
    for ancestor in module.ancestors(node):
        if ancestor is loop:
            return child in loop.body
        child = ancestor
    return False


# ------------------------------------------------------------------------------------ HW013
@rule(
    "HW013", "yield-operations", "info",
    summary="Operations are yielded (`yield op.upsert(...)`), the pre-2.0 generator style.",
    why="""Since Connector SDK 2.0 operations are plain calls; `yield` is optional and still
    supported, so this is not a bug. The plain style is simpler: helpers can send rows without
    becoming generators and needing `yield from`.""",
    fix="Drop the `yield`: `op.upsert(table=..., data=...)`; `yield from helper()` becomes `helper()`.",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            for n in range(3):
                yield op.upsert(table="items", data={"id": n})
            yield op.checkpoint(state={"last_id": 2})


        connector = Connector(update=update)
    ''', line=6),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            for n in range(3):
                op.upsert(table="items", data={"id": n})
            op.checkpoint(state={"last_id": 2})


        connector = Connector(update=update)
    '''),
)
def check_yield_operations(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        by_function: dict[str, list[ast.Yield]] = {}
        for node in module.nodes(ast.Yield):
            if node.value is not None and module.op_method(node.value) is not None:
                owner = module.function_of(node)
                if owner is not None:
                    by_function.setdefault(owner.name, []).append(node)
        for name, yields in by_function.items():
            count = f" ({len(yields)} yields in this function)" if len(yields) > 1 else ""
            yield module.violation(
                yields[0], f"{name}() yields its operations, e.g. `{module.text(yields[0], 40)}`{count}: "
                "the old generator style, still supported",
                "call operations directly without `yield` (and `yield from helper()` becomes `helper()`)")


# ------------------------------------------------------------------------------------ HW014
@rule(
    "HW014", "accumulate-then-upsert", "warning",
    summary="What every request of a pagination loop returns is collected in one list, upserted only after the loop.",
    why="""Holding the whole source in memory defeats pagination: memory grows with the data,
    large syncs run out of memory, and nothing can be checkpointed until every page has been
    fetched, so a failure on the last page loses all of them. Reported when values flow from a
    response inside a loop that makes a request per iteration into a list that grows across
    iterations and is upserted later (in the same function, or by a caller the list is returned
    to). Lists of ids, dates or table names built without a request, and lists whose items are
    each fetched again before anything is upserted, are not reported.""",
    fix="""Upsert each page's records inside the loop and checkpoint after each page (or make the
    fetching function a generator that yields one page at a time).""",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            records = []
            url = "https://api.example.com/items"
            while url:
                response = requests.get(url, timeout=30)
                response.raise_for_status()
                body = response.json()
                records.extend(body["items"])
                url = body.get("next")
            for record in records:
                op.upsert(table="items", data=record)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=12),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            url = state.get("next_url", "https://api.example.com/items")
            while url:
                response = session.get(url, timeout=30)
                response.raise_for_status()
                body = response.json()
                for record in body["items"]:
                    op.upsert(table="items", data=record)
                url = body.get("next")
                op.checkpoint(state={"next_url": url})


        connector = Connector(update=update)
    '''),
)
def check_accumulate_then_upsert(project: ProjectContext) -> Iterator[Violation]:
    found: list[_Accumulation] = []
    for module in project.modules:
        for function in module.all_functions:
            found += _accumulations(project, module, function)
    if not found:
        return
    # Functions that return a list of every page (also inside a tuple or dict), and what feeds what.
    accumulators: dict[FunctionKey, list[_Accumulation]] = defaultdict(list)
    reported: dict[int, tuple[_Accumulation, str]] = {}
    for accumulation in found:
        if accumulation.sink is not None:
            reported[id(accumulation)] = (accumulation, accumulation.sink)
        elif accumulation.returned:
            accumulators[accumulation.key].append(accumulation)
    _follow_returns(project, accumulators, reported)
    # An accumulation whose pages come from a function that itself returns every page: both hold it all.
    for accumulation, _ in list(reported.values()):
        for source in accumulation.fed_by(project, accumulators):
            for inner in accumulators.get(source, []):
                if id(inner) not in reported:
                    reported[id(inner)] = (inner, f"returned whole by {inner.key[1]}() to "
                                           f"{accumulation.function.name}(), which collects it again "
                                           f"(line {_line(accumulation.grow)})")
    seen: set[tuple[str, int, int]] = set()
    for accumulation, tail in sorted(reported.values(), key=lambda item: (item[0].module.display,
                                                                         _line(item[0].grow))):
        module = accumulation.module
        place = (module.display, *module.position(accumulation.grow))
        if place in seen:
            continue
        seen.add(place)
        yield module.violation(
            accumulation.grow, f"`{accumulation.name}` collects what every request of the loop at line "
            f"{accumulation.loop.lineno} returns and is {tail}: the whole source sits in memory and nothing "
            "is checkpointed until the last page",
            "upsert each page's records inside the loop and checkpoint per page (or yield page by page)")


@dataclass
class _Accumulation:
    """A list that grows, inside a loop making a network request per iteration, with what came back."""

    module: ModuleContext
    function: ast.FunctionDef | ast.AsyncFunctionDef
    loop: ast.For | ast.AsyncFor | ast.While
    name: str
    grow: ast.AST
    sink: str | None = None     # "upserted only after it (line N)"
    returned: bool = False      # the function returns it (possibly inside a tuple or dict)

    @property
    def key(self) -> FunctionKey:
        return (self.module.dotted, self.function.name)

    def fed_by(self, project: ProjectContext, accumulators: dict[FunctionKey, list[_Accumulation]]
               ) -> set[FunctionKey]:
        """Accumulator functions called in the loop (their whole result is collected again here)."""
        keys = set()
        for node in local_nodes(self.loop.body):
            if isinstance(node, ast.Call):
                target = project.callee(self.module, node)
                if target is not None and target in accumulators:
                    keys.add(target)
        return keys


def _accumulations(project: ProjectContext, module: ModuleContext, function: ast.FunctionDef | ast.AsyncFunctionDef
                   ) -> Iterator[_Accumulation]:
    for block in statement_lists(function):
        for index, statement in enumerate(block):
            if not isinstance(statement, LOOPS):
                continue
            names = _fresh_lists(block[:index])
            if not names:
                continue
            growths = {name: _growths(statement, name) for name in names}
            growths = {name: grows for name, grows in growths.items() if grows}
            if not growths or not _requests_per_iteration(project, module, statement):
                continue
            fetched = _fetched_names(project, module, statement)
            for name, grows in growths.items():
                grow = next((node for node, value in grows if _from_network(project, module, value, fetched)), None)
                if grow is None or _drained(project, module, statement, name):
                    continue
                accumulation = _Accumulation(module, function, statement, name, grow)
                _after_loop(project, module, function, statement, {name}, accumulation)
                yield accumulation


def _requests_per_iteration(project: ProjectContext, module: ModuleContext, loop: ast.AST) -> bool:
    """True if each iteration makes a request (an HTTP call, a cursor page, a project function doing
    one), or the loop iterates a generator that does (one page per item)."""
    if isinstance(loop, (ast.For, ast.AsyncFor)) and isinstance(loop.iter, ast.Call):
        generator = project.calls_generator(module, loop.iter)
        if generator is not None and generator in project.network_functions:
            return True
    return any(isinstance(node, ast.Call) and project.calls_network(module, node)
               for node in local_nodes(getattr(loop, "body", [])))


def _fetched_names(project: ProjectContext, module: ModuleContext, loop: ast.AST) -> set[str]:
    """Names bound in the loop to what a request made in the loop returned, directly or derived."""
    fetched: set[str] = set()
    if (isinstance(loop, (ast.For, ast.AsyncFor)) and isinstance(loop.iter, ast.Call)
            and project.calls_generator(module, loop.iter) is not None):
        fetched |= _bound_names(loop.target)
    bindings: list[tuple[ast.AST, ast.AST]] = []
    for node in local_nodes(getattr(loop, "body", [])):
        if isinstance(node, ast.Assign):
            bindings += [(target, node.value) for target in node.targets]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            bindings.append((node.target, node.value))
        elif isinstance(node, ast.NamedExpr):
            bindings.append((node.target, node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            bindings.append((node.target, node.iter))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            bindings.append((node.optional_vars, node.context_expr))
    changed = True
    while changed:
        changed = False
        for target, value in bindings:
            names = _bound_names(target) - fetched
            if names and _from_network(project, module, value, fetched):
                fetched |= names
                changed = True
    return fetched


def _bound_names(target: ast.AST) -> set[str]:
    """The names an assignment target binds or fills: ``a, (b, *c)``; ``d`` for ``d[key] = ...``."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_bound_names(element) for element in target.elts))
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    root = _root_name(target)
    return {root} if root is not None else set()


def _from_network(project: ProjectContext, module: ModuleContext, value: ast.AST, fetched: set[str]) -> bool:
    for node in local_nodes([value]):
        if isinstance(node, ast.Name) and node.id in fetched:
            return True
        if isinstance(node, ast.Call) and project.calls_network(module, node):
            return True
    return False


def _growths(loop: ast.AST, name: str) -> list[tuple[ast.AST, ast.AST]]:
    """``(node, value)`` for each place the loop adds to the list: append, extend, insert, ``+=``."""
    found: list[tuple[ast.AST, ast.AST]] = []
    for node in local_nodes(getattr(loop, "body", [])):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend", "insert") and isinstance(node.func.value, ast.Name)
                and node.func.value.id == name and node.args):
            found.append((node, node.args[-1]))
        elif (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add)
              and isinstance(node.target, ast.Name) and node.target.id == name):
            found.append((node, node.value))
    return found


def _after_loop(project: ProjectContext, module: ModuleContext, function: ast.AST, after: ast.AST,
                holders: set[str], accumulation: _Accumulation) -> None:
    """What becomes of the list once ``after`` (the loop, or the statement receiving a returned list)
    is done: upserted (``sink``), returned (``returned``), or neither."""
    end = (getattr(after, "end_lineno", 0) or 0, getattr(after, "end_col_offset", 0) or 0)
    holders = set(holders)
    for node in _nodes_after(module, function, end):
        if isinstance(node, ast.Assign) and _holds(node.value, holders):
            for target in node.targets:
                while isinstance(target, ast.Subscript):  # data["rows"] = records: data holds them
                    target = target.value
                holders |= _bound_names(target) if isinstance(target, (ast.Name, ast.Tuple, ast.List)) else set()
        elif isinstance(node, ast.Return) and node.value is not None and _holds(node.value, holders):
            accumulation.returned = True
        elif accumulation.sink is None:
            user = _sink(project, module, node, holders)
            if user is not None:
                accumulation.sink = f"upserted only after it (line {_line(user)})"


def _nodes_after(module: ModuleContext, function: ast.AST, end: tuple[int, int]) -> list[ast.AST]:
    """The function's nodes (same scope) that start at or after ``end``, in source order."""
    cache: dict[ast.AST, tuple[list[tuple[int, int]], list[ast.AST]]] = module.memo.setdefault("nodes_in_order", {})
    if function not in cache:
        nodes = sorted(local_nodes(getattr(function, "body", [])), key=_source_position)
        cache[function] = ([_source_position(node) for node in nodes], nodes)
    positions, nodes = cache[function]
    return nodes[bisect.bisect_left(positions, end):]


_PASS_THROUGH = frozenset({"get", "copy", "values", "items", "pop"})


def _holds(value: ast.AST, holders: set[str]) -> bool:
    """True if ``value`` is (part of) a holder: the name, an item or slice of it (``data["rows"]``,
    ``data.get("rows", [])``), ``list(...)`` of it, or a tuple, list or dict literal with one inside."""
    if isinstance(value, ast.Name):
        return value.id in holders
    if isinstance(value, (ast.Subscript, ast.Attribute)):
        return _holds(value.value, holders)
    if isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in _PASS_THROUGH:
            return _holds(func.value, holders)
        if isinstance(func, ast.Name) and func.id in ("list", "sorted", "tuple") and len(value.args) == 1:
            return _holds(value.args[0], holders)
        return False
    if isinstance(value, (ast.Tuple, ast.List)):
        return any(_holds(element, holders) for element in value.elts)
    if isinstance(value, ast.Dict):
        return any(element is not None and _holds(element, holders) for element in value.values)
    return False


def _root_name(expr: ast.AST) -> str | None:
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


def _sink(project: ProjectContext, module: ModuleContext, node: ast.AST, holders: set[str]) -> ast.AST | None:
    """Where ``node`` upserts the held records: a loop over them that sends records (see
    :func:`_records_loop`), or a call that sends records and gets them as an argument."""
    if isinstance(node, (ast.For, ast.AsyncFor)) and _holds(node.iter, holders):
        return _records_loop(project, module, node)
    if isinstance(node, ast.Call) and project.sends_records(module, node) and not project.calls_network(module, node):
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        if any(isinstance(argument, ast.Name) and argument.id in holders for argument in arguments):
            return node
    return None


def _records_loop(project: ProjectContext, module: ModuleContext, loop: ast.For | ast.AsyncFor) -> ast.AST | None:
    """The first record-sending call of a loop that makes no request of its own (one that does walks
    a list of ids or tables, not of records); ``None`` otherwise."""
    body = list(local_nodes(loop.body))
    if any(isinstance(node, ast.Call) and project.calls_network(module, node) for node in body):
        return None
    return next((node for node in body if isinstance(node, ast.Call) and project.sends_records(module, node)), None)


def _follow_returns(project: ProjectContext, accumulators: dict[FunctionKey, list[_Accumulation]],
                    reported: dict[int, tuple[_Accumulation, str]]) -> None:
    """Callers of functions that return every page: upserting the result reports the accumulation;
    returning it again makes the caller an accumulator too (to a fixed point)."""
    calls: dict[FunctionKey, list[tuple[ModuleContext, ast.Call]]] = defaultdict(list)
    for module in project.modules:
        for call in module.calls:
            target = project.callee(module, call)
            if target is not None:
                calls[target].append((module, call))
    pending = dict(accumulators)
    done: set[FunctionKey] = set()
    while pending:
        key, accumulations = pending.popitem()
        done.add(key)
        for module, call in calls.get(key, []):
            function = module.function_of(call)
            if function is None:
                continue
            probe = _Accumulation(module, function, accumulations[0].loop, accumulations[0].name, call)
            parent = module.parents.get(call)
            caller = f"its caller {function.name}()"
            if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is call:
                user = _records_loop(project, module, parent)
                if user is not None:
                    probe.sink = f"upserted by {caller} (line {_line(user)})"
            elif isinstance(parent, ast.Assign) and parent.value is call:
                holders = set().union(*(_bound_names(target) for target in parent.targets))
                _after_loop(project, module, function, parent, holders, probe)
                if probe.sink is not None:
                    probe.sink = probe.sink.replace("upserted only after it", f"upserted by {caller}")
            elif isinstance(parent, ast.Return):
                probe.returned = True
            elif (isinstance(parent, ast.Call) and project.sends_records(module, parent)
                  and not project.calls_network(module, parent)):
                probe.sink = f"upserted by {caller} (line {_line(parent)})"
            if probe.sink is not None:
                for accumulation in accumulations:
                    if id(accumulation) not in reported:
                        via = "" if accumulation.key == key else f" through {key[1]}()"
                        reported[id(accumulation)] = (accumulation, f"returned whole by "
                                                      f"{accumulation.function.name}(){via} and {probe.sink}")
            elif probe.returned:
                outer = (module.dotted, function.name)
                if outer not in done and outer not in pending:
                    pending[outer] = accumulations
                    accumulators.setdefault(outer, accumulations)


def _line(node: ast.AST) -> int:
    return int(getattr(node, "lineno", 0))


def _fresh_lists(statements: list[ast.stmt]) -> list[str]:
    """Names these statements bind to a new empty list: ``x = []``, ``x = list()``, ``n, x = 0, []``."""
    names = []
    for statement in statements:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names += _empty_list_targets(target, statement.value)
    return names


def _empty_list_targets(target: ast.AST, value: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        empty = (isinstance(value, ast.List) and not value.elts) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "list"
            and not value.args and not value.keywords)
        return [target.id] if empty else []
    if (isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts)):
        return [name for part, item in zip(target.elts, value.elts) for name in _empty_list_targets(part, item)]
    return []


def _drained(project: ProjectContext, module: ModuleContext, loop: ast.AST, name: str) -> bool:
    """True if the loop also empties the list (a buffer flushed every N rows, not an accumulation):
    it is re-assigned, cleared, or handed to something that sends records."""
    for node in local_nodes(getattr(loop, "body", [])):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                return True
        elif isinstance(node, ast.Delete):
            if any(_mentions(target, name) for target in node.targets):
                return True
        elif isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "clear" and isinstance(func.value, ast.Name)
                    and func.value.id == name):
                return True
            if project.sends_records(module, node) and _mentions(node, name):
                return True
    return False


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(child, ast.Name) and child.id == name for child in local_nodes([node]))


def _loops_over_calls(project: ProjectContext, module: ModuleContext, function: ast.AST
                      ) -> Iterator[tuple[ast.For | ast.AsyncFor, FunctionKey]]:
    """Loops in ``function`` that iterate over what a project function returned."""
    assigned: dict[str, FunctionKey] = {}
    body = list(getattr(function, "body", []))
    for node in local_nodes(body):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1:
            target = node.targets[0]
            callee = project.callee(module, node.value)
            if isinstance(target, ast.Name) and callee is not None:
                assigned[target.id] = callee
    for node in local_nodes(body):
        if isinstance(node, (ast.For, ast.AsyncFor)):
            iterable = node.iter
            if isinstance(iterable, ast.Call):
                callee = project.callee(module, iterable)
                if callee is not None:
                    yield node, callee
            elif isinstance(iterable, ast.Name) and iterable.id in assigned:
                yield node, assigned[iterable.id]


# ------------------------------------------------------------------------------------ HW015
@rule(
    "HW015", "fetchall", "warning",
    summary="Rows are read with cursor.fetchall() and then upserted.",
    why="""fetchall() loads the entire result set into memory before the first row is sent, so
    memory grows with the table and nothing can be checkpointed until the query is done. A bounded
    fetch is fine: a query with LIMIT, FETCH, TOP or OFFSET, or a `while` loop that runs the query
    and fetches one batch per iteration (`FETCH 1000 FROM cur`, keyset pages).""",
    fix="""Read in batches with `cursor.fetchmany(1000)` (or iterate the cursor), upsert each
    batch, and checkpoint after each batch.""",
    bad=Example('''
        import sqlite3

        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            connection = sqlite3.connect(configuration["database"])
            cursor = connection.execute("SELECT id, name, updated_at FROM customers ORDER BY updated_at")
            rows = cursor.fetchall()
            for row_id, name, updated_at in rows:
                op.upsert(table="customers", data={"id": row_id, "name": name, "updated_at": updated_at})
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=9),
    good=Example('''
        import sqlite3

        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            connection = sqlite3.connect(configuration["database"])
            cursor = connection.execute("SELECT id, name, updated_at FROM customers ORDER BY updated_at")
            while batch := cursor.fetchmany(1000):
                for row_id, name, updated_at in batch:
                    op.upsert(table="customers", data={"id": row_id, "name": name, "updated_at": updated_at})
                op.checkpoint(state={"updated_at": batch[-1][2]})


        connector = Connector(update=update)
    '''),
)
def check_fetchall(project: ProjectContext) -> Iterator[Violation]:
    returned: dict[FunctionKey, tuple[ModuleContext, ast.Call]] = {}
    for module in project.modules:
        for call in module.calls:
            if not (isinstance(call.func, ast.Attribute) and call.func.attr == "fetchall" and not call.args):
                continue
            if _bounded_fetch(module, call):
                continue
            function = module.function_of(call)
            parent = module.parents.get(call)
            if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is call:
                if loop_sends_records(project, module, parent):
                    yield _fetchall_violation(module, call, parent.lineno)
                continue
            if function is None:
                continue
            if isinstance(parent, ast.Return):
                returned[(module.dotted, function.name)] = (module, call)
                continue
            if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
                name = parent.targets[0].id
                for node in local_nodes(function.body):
                    if (isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.iter, ast.Name)
                            and node.iter.id == name and loop_sends_records(project, module, node)):
                        yield _fetchall_violation(module, call, node.lineno)
                        break
                    if isinstance(node, ast.Return) and isinstance(node.value, ast.Name) and node.value.id == name:
                        returned[(module.dotted, function.name)] = (module, call)
    if not returned:
        return
    for module in project.modules:
        for function in module.all_functions:
            for loop, callee in _loops_over_calls(project, module, function):
                if callee in returned and loop_sends_records(project, module, loop):
                    owner, call = returned.pop(callee)
                    yield _fetchall_violation(owner, call, loop.lineno, f" by {function.name}()")


_BOUNDED_QUERY = re.compile(r"\b(?:LIMIT|FETCH|TOP|ROWNUM|OFFSET)\b", re.IGNORECASE)


def _bounded_fetch(module: ModuleContext, call: ast.Call) -> bool:
    """True for a batch, not a whole table: fetchall() repeated by a `while` loop that also runs the
    query (`FETCH 1000 FROM cur`, keyset pages), or after a query with LIMIT/FETCH/TOP/OFFSET."""
    assert isinstance(call.func, ast.Attribute)
    function = module.function_of(call)
    index = _function_index(module, function)
    receiver = call.func.value
    execute: ast.Call | None = None
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute) and receiver.func.attr == "execute":
        execute = receiver
    else:
        key = target_key(receiver)
        if key is not None:
            found = index.executes[key].last_before(call) if key in index.executes else None
            execute = found if isinstance(found, ast.Call) else None
    if execute is None or not execute.args:
        return False
    loop = innermost_loop(module, call)
    if isinstance(loop, ast.While) and innermost_loop(module, execute) is loop:
        return True
    return _BOUNDED_QUERY.search(_query_text(module, index, execute.args[0], call)) is not None


class _Ordered:
    """Nodes in source order, to find the last one before a place in O(log n)."""

    def __init__(self) -> None:
        self.positions: list[tuple[int, int]] = []
        self.nodes: list[ast.AST] = []

    def add(self, node: ast.AST, value: ast.AST) -> None:
        self.positions.append(_source_position(node))
        self.nodes.append(value)

    def last_before(self, node: ast.AST) -> ast.AST | None:
        index = bisect.bisect_left(self.positions, _source_position(node))
        return self.nodes[index - 1] if index else None


@dataclass
class _FunctionIndex:
    """Per function, in source order: `x.execute(...)` calls by receiver, values assigned by name."""

    executes: dict[str, _Ordered]
    assigned: dict[str, _Ordered]


def _function_index(module: ModuleContext, function: ast.AST | None) -> _FunctionIndex:
    memo: dict[ast.AST | None, _FunctionIndex] = module.memo.setdefault("function_index", {})
    if function in memo:
        return memo[function]
    index = _FunctionIndex({}, {})
    nodes = sorted(local_nodes(getattr(function, "body", [])), key=_source_position) if function is not None else []
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute":
            key = target_key(node.func.value)
            if key is not None:
                index.executes.setdefault(key, _Ordered()).add(node, node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    index.assigned.setdefault(target.id, _Ordered()).add(node, node.value)
    memo[function] = index
    return index


def _source_position(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def _query_text(module: ModuleContext, index: _FunctionIndex, query: ast.AST | None, before: ast.AST,
                depth: int = 0) -> str:
    """The literal parts of a SQL text: string constants, f-string pieces, concatenations, and
    what a local name (last assigned before ``before``) or module constant holds."""
    if depth > 4 or query is None:
        return ""
    if isinstance(query, ast.Constant):
        return query.value if isinstance(query.value, str) else ""
    if isinstance(query, ast.JoinedStr):
        return " ".join(_query_text(module, index, part, before, depth + 1) for part in query.values)
    if isinstance(query, ast.BinOp):
        return (_query_text(module, index, query.left, before, depth + 1) + " "
                + _query_text(module, index, query.right, before, depth + 1))
    if isinstance(query, ast.Call) and isinstance(query.func, ast.Attribute) and query.func.attr == "format":
        return _query_text(module, index, query.func.value, before, depth + 1)
    if isinstance(query, ast.Call) and query.args and module.qualname(query.func) in ("sqlalchemy.text",
                                                                                        "sqlalchemy.sql.text"):
        return _query_text(module, index, query.args[0], before, depth + 1)
    if isinstance(query, ast.Name):
        assigned = index.assigned[query.id].last_before(before) if query.id in index.assigned else None
        value = assigned or module.constants.get(query.id)
        return _query_text(module, index, value, before, depth + 1)
    return ""


def _fetchall_violation(module: ModuleContext, call: ast.Call, loop_line: int, where: str = "") -> Violation:
    return module.violation(
        call, f"`{module.text(call, 40)}` loads the whole result into memory before the rows are "
        f"upserted{where} (loop at line {loop_line})",
        "read batches with `cursor.fetchmany(1000)` (or iterate the cursor), upsert each batch, "
        "and checkpoint after each batch")


# ------------------------------------------------------------------------------------ HW016
@rule(
    "HW016", "generator-not-consumed", "error",
    summary="A helper that is a generator is called as a plain statement, so none of its code runs.",
    why="""A function containing `yield` is a generator: calling it only creates a generator object,
    and its body (requests, op.upsert(), op.checkpoint()) runs when something iterates it. Called as
    a plain statement, `sync_items(state)` does nothing at all: its operations are silently dropped
    and the sync succeeds without them. In the yield style this needs `yield from`; otherwise drop
    the helper's `yield`s.""",
    fix="""Write `yield from sync_items(state)` (yield style), or remove the `yield`s from the helper and
    call it plainly.""",
    bad=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def sync_items(state: dict):
            for n in range(3):
                yield op.upsert(table="items", data={"id": n})
            yield op.checkpoint(state={"last_id": 2})


        def update(configuration: dict, state: dict):
            sync_items(state)


        connector = Connector(update=update)
    ''', line=11),
    good=Example('''
        from fivetran_connector_sdk import Connector, Operations as op


        def sync_items(state: dict):
            for n in range(3):
                op.upsert(table="items", data={"id": n})
            op.checkpoint(state={"last_id": 2})


        def update(configuration: dict, state: dict):
            sync_items(state)


        connector = Connector(update=update)
    '''),
)
def check_generator_not_consumed(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for call in module.calls:
            statement = module.parents.get(call)
            if not isinstance(statement, ast.Expr):
                continue
            target = project.calls_generator(module, call)
            if target is None:
                continue
            owner = project.module(target[0])
            sends = target in project.record_functions or (owner is not None and any(
                module_call for module_call, method in owner.op_calls
                if (function := owner.function_of(module_call)) is not None and function.name == target[1]))
            what = "its operations are silently dropped" if sends else "none of its code runs"
            yield module.violation(
                call, f"`{module.text(call, 50)}` only creates a generator ({target[1]}() contains `yield`), so "
                f"{what}", f"write `yield from {module.text(call, 50)}`, or remove the `yield`s from {target[1]}()")
