"""Rules on how data reaches the operations: something is sent, state is checkpointed at sensible
points, records stream page by page instead of piling up in memory."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from headwater.lint.blocks import COMPREHENSIONS, LOOPS, is_conditional, local_nodes, statement_lists
from headwater.lint.context import DATA_OPS, RECORD_OPS, SCOPES, FunctionKey, ModuleContext, ProjectContext
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
    summary="Every page is collected into one list, which is upserted only after the pagination loop.",
    why="""Holding the whole source in memory defeats pagination: memory grows with the data,
    large syncs run out of memory, and nothing can be checkpointed until every page has been
    fetched, so a failure on the last page loses all of them.""",
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


        def update(configuration: dict, state: dict):
            url = state.get("next_url", "https://api.example.com/items")
            while url:
                response = requests.get(url, timeout=30)
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
    accumulators: dict[FunctionKey, tuple[ModuleContext, ast.AST, str, int]] = {}
    reported: set[tuple[str, int, int]] = set()
    for module in project.modules:
        for function in module.all_functions:
            for block in statement_lists(function):
                for index, statement in enumerate(block):
                    if not _is_pagination_loop(project, module, statement):
                        continue
                    for name in _fresh_lists(block[:index]):
                        grow = _growth(statement, name)
                        if grow is None or _drained(project, module, statement, name):
                            continue
                        later: list[ast.AST] = list(block[index + 1:])
                        user = _later_upsert(project, module, later, name)
                        if user is not None:
                            key = (module.display, *module.position(grow))
                            if key not in reported:
                                reported.add(key)
                                yield _accumulate_violation(module, grow, name, statement.lineno,
                                                            f"upserted only after it (line {_line(user)})")
                        elif any(isinstance(node, ast.Return) and _mentions(node, name)
                                 for node in local_nodes(later)):
                            accumulators[(module.dotted, function.name)] = (module, grow, name, statement.lineno)
    if not accumulators:
        return
    for module in project.modules:
        for function in module.all_functions:
            for loop, callee in _loops_over_calls(project, module, function):
                found = accumulators.get(callee)
                if found is None or sends_records_in(project, module, list(loop.body)) is None:
                    continue
                owner, grow, name, loop_line = found
                key = (owner.display, *owner.position(grow))
                if key not in reported:
                    reported.add(key)
                    where = "" if owner is module else f" of {module.display}"
                    yield _accumulate_violation(
                        owner, grow, name, loop_line,
                        f"returned whole by {callee[1]}() and upserted by its caller {function.name}() "
                        f"(line {loop.lineno}{where})")


def _line(node: ast.AST) -> int:
    return int(getattr(node, "lineno", 0))


def _accumulate_violation(module: ModuleContext, grow: ast.AST, name: str, loop_line: int, tail: str) -> Violation:
    return module.violation(
        grow, f"`{name}` collects every page of the loop at line {loop_line} and is {tail}: the whole "
        "source sits in memory and nothing is checkpointed until the last page",
        "upsert each page's records inside the loop and checkpoint per page (or yield page by page)")


def _is_pagination_loop(project: ProjectContext, module: ModuleContext, statement: ast.AST) -> bool:
    if isinstance(statement, ast.While):
        return True
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return any(isinstance(node, ast.Call) and project.calls_network(module, node)
                   for node in local_nodes(statement.body))
    return False


def _fresh_lists(statements: list[ast.stmt]) -> list[str]:
    names = []
    for statement in statements:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = statement.value
            empty = (isinstance(value, ast.List) and not value.elts) or (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "list"
                and not value.args and not value.keywords)
            if empty:
                names += [target.id for target in targets if isinstance(target, ast.Name)]
    return names


def _growth(loop: ast.AST, name: str) -> ast.AST | None:
    for node in local_nodes(getattr(loop, "body", [])):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend", "insert")
                and isinstance(node.func.value, ast.Name) and node.func.value.id == name):
            return node
        if (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add)
                and isinstance(node.target, ast.Name) and node.target.id == name):
            return node
    return None


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


def _later_upsert(project: ProjectContext, module: ModuleContext, later: list[ast.AST], name: str) -> ast.AST | None:
    for statement in later:
        if _mentions(statement, name) and sends_records_in(project, module, [statement]) is not None:
            return statement
    return None


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
    memory grows with the table and nothing can be checkpointed until the query is done.""",
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


def _fetchall_violation(module: ModuleContext, call: ast.Call, loop_line: int, where: str = "") -> Violation:
    return module.violation(
        call, f"`{module.text(call, 40)}` loads the whole result into memory before the rows are "
        f"upserted{where} (loop at line {loop_line})",
        "read batches with `cursor.fetchmany(1000)` (or iterate the cursor), upsert each batch, "
        "and checkpoint after each batch")
