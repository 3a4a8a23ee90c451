"""Questions about code structure that several rules ask: what runs on every iteration of a loop,
whether a loop can end, which statement lists a function has."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from headwater.lint.context import SCOPES, ModuleContext

__all__ = ["COMPREHENSIONS", "LOOPS", "has_exit", "is_conditional", "local_nodes", "statement_lists"]

LOOPS = (ast.For, ast.AsyncFor, ast.While)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_CONDITIONAL = (ast.If, ast.IfExp, ast.ExceptHandler, ast.match_case, ast.BoolOp, *LOOPS, *COMPREHENSIONS)


def local_nodes(roots: Iterable[ast.AST], *, into_loops: bool = True) -> Iterator[ast.AST]:
    """``roots`` and the nodes under them that run in the same scope, in source order.

    Nested functions, lambdas and classes are yielded but not entered. With ``into_loops=False``
    the bodies of nested loops and comprehensions are skipped too (their iterable, condition and
    ``else`` block still count): what is left runs once per iteration of the enclosing loop.
    """
    stack = list(roots)[::-1]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, SCOPES):
            continue
        children: list[ast.AST]
        if not into_loops and isinstance(node, (ast.For, ast.AsyncFor)):
            children = [node.iter, *node.orelse]
        elif not into_loops and isinstance(node, ast.While):
            children = [node.test, *node.orelse]
        elif not into_loops and isinstance(node, COMPREHENSIONS):
            children = [node.generators[0].iter]
        else:
            children = list(ast.iter_child_nodes(node))
        stack.extend(reversed(children))


def has_exit(module: ModuleContext, loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    """True if the loop body can leave the loop normally: ``break``, ``return`` or ``sys.exit()``."""
    for node in local_nodes(loop.body, into_loops=False):
        if isinstance(node, ast.Break):
            return True
    for node in local_nodes(loop.body):
        if isinstance(node, ast.Return):
            return True
        if isinstance(node, ast.Call) and module.qualname(node.func) in ("sys.exit", "os._exit"):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("exit", "quit"):
            return True
    return False


def is_conditional(module: ModuleContext, node: ast.AST, stop: ast.AST) -> bool:
    """True if something between ``node`` and its ancestor ``stop`` decides whether it runs."""
    previous = node
    for ancestor in module.ancestors(node):
        if ancestor is stop:
            return False
        if isinstance(ancestor, _CONDITIONAL):
            # The condition itself (an if's test, a loop's iterable) runs unconditionally.
            if isinstance(ancestor, (ast.If, ast.While)) and previous is ancestor.test:
                previous = ancestor
                continue
            if isinstance(ancestor, (ast.For, ast.AsyncFor)) and previous is ancestor.iter:
                previous = ancestor
                continue
            return True
        previous = ancestor
    return False


def statement_lists(function: ast.AST) -> Iterator[list[ast.stmt]]:
    """Every statement list in a function (its body, each block's body, else and handlers), not
    entering nested functions or classes."""
    stack: list[list[ast.stmt]] = [getattr(function, "body", [])]
    while stack:
        body = stack.pop()
        yield body
        for statement in body:
            if isinstance(statement, SCOPES):
                continue
            for name in ("body", "orelse", "finalbody"):
                block = getattr(statement, name, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    stack.append(block)
            for handler in getattr(statement, "handlers", []):
                stack.append(handler.body)
            for case in getattr(statement, "cases", []):
                stack.append(case.body)
