"""A connector project parsed once for every rule.

:func:`load_project` reads ``connector.py`` and every project module it imports (directly or through
other project modules: the code that actually runs as part of the connector), parses each file once,
and indexes it in one walk: a parent map, the nodes by type, the import aliases (so ``op``,
``Operations``, ``log``, ``requests``, ``httpx`` and ``urllib.request`` are recognised under any
name), the module-level constants and the ``# noqa`` comments per line. Rules read these indexes;
nothing is parsed twice.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from headwater._ast import parse as parse_source
from headwater.errors import ConnectorLoadError, ProjectError
from headwater.lint.registry import Violation

__all__ = [
    "DATA_OPS",
    "FUNCTIONS",
    "RECORD_OPS",
    "SCOPES",
    "FunctionKey",
    "HttpCall",
    "ModuleContext",
    "NoqaMap",
    "ParseFailure",
    "ProjectContext",
    "is_main_guard",
    "load_project",
    "noqa_comments",
    "parse_noqa",
    "target_key",
]

NodeT = TypeVar("NodeT", bound=ast.AST)
FunctionKey = tuple[str, str]  # (module's dotted name, function or method name)
NoqaMap = dict[int, frozenset[str] | None]  # line -> silenced codes (None: every code)

SDK_ROOTS = frozenset({"fivetran_connector_sdk", "headwater"})
SDK_CLASSES = frozenset({"Operations", "Logging", "Connector"})
RECORD_OPS = frozenset({"upsert", "update", "delete"})
DATA_OPS = RECORD_OPS | {"truncate"}
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
REQUESTS_SESSIONS = frozenset({"requests.Session", "requests.session", "requests.sessions.Session"})
HTTPX_CLIENTS = frozenset({"httpx.Client", "httpx.AsyncClient"})
URLOPEN = frozenset({"urllib.request.urlopen", "urllib2.urlopen"})
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SHARED = (ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop)
MAX_MODULES = 300
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+\d+(?:[\s,]+[A-Za-z]+\d+)*))?", re.IGNORECASE)


def parse_noqa(comment: str) -> tuple[bool, frozenset[str] | None]:
    """``(found, codes)`` for one comment: ``codes`` is ``None`` for a bare ``# noqa``."""
    match = _NOQA.search(comment)
    if match is None:
        return False, None
    codes = match.group("codes")
    if codes is None:
        return True, None
    return True, frozenset(code.upper() for code in re.split(r"[\s,]+", codes.strip()) if code)


@dataclass(frozen=True)
class ParseFailure:
    """A project file that could not be read or parsed."""

    path: str
    line: int
    col: int
    message: str


@dataclass(frozen=True)
class HttpCall:
    """A recognised HTTP request call.

    ``timeout`` is ``"set"``, ``"missing"``, ``"none"`` (``timeout=None``) or ``"unknown"`` (``**kwargs``).
    ``needs_timeout`` is False where the library has a default timeout (httpx: 5 seconds).
    """

    node: ast.Call
    library: str
    method: str
    timeout: str
    needs_timeout: bool
    via: str  # what was called, for messages: "requests.get", "session.get", "urlopen"


class ModuleContext:
    """One parsed Python module of the project, indexed for the rules."""

    def __init__(self, project: ProjectContext, path: Path, dotted: str, source: str, tree: ast.Module,
                 *, is_connector: bool) -> None:
        self.project = project
        self.path = path
        self.dotted = dotted
        self.display = project.display(path)
        self.source = source
        # Split as the parser counts lines (not str.splitlines, which also splits at \f, \x1c ...).
        self.lines = _LINE_BREAK.split(source)
        self.tree = tree
        self.is_connector = is_connector
        self.parents: dict[ast.AST, ast.AST] = {}
        self._by_type: dict[type[ast.AST], list[ast.AST]] = defaultdict(list)
        # One pre-order walk (source order): parents and nodes by type. Operator and context nodes
        # are shared singletons in CPython's trees and carry nothing a rule needs.
        stack: list[ast.AST] = [tree]
        by_type = self._by_type
        parents = self.parents
        while stack:
            node = stack.pop()
            by_type[type(node)].append(node)
            children = [child for child in ast.iter_child_nodes(node) if not isinstance(child, _SHARED)]
            for child in children:
                parents[child] = node
            stack.extend(reversed(children))
        self.noqa = noqa_comments(source)
        self.imports: dict[str, str] = {}
        self._collect_imports()
        self.bindings = self._module_bindings()
        self.constants = self._module_constants()
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.methods: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = defaultdict(list)
        self.classes: dict[str, ast.ClassDef] = {}
        for statement in _module_level_statements(tree.body):
            if isinstance(statement, FUNCTIONS):
                self.functions[statement.name] = statement
            elif isinstance(statement, ast.ClassDef):
                self.classes[statement.name] = statement
                for item in statement.body:
                    if isinstance(item, FUNCTIONS):
                        self.methods[item.name].append(item)
        self._qualnames: dict[ast.AST, str | None] = {}
        #: Results rules share within one run (e.g. the parsed schema() entries), by name.
        self.memo: dict[str, Any] = {}
        self._scopes: dict[ast.AST, ast.AST | None] = {}

    # ----------------------------------------------------------------------------- node access
    def nodes(self, *kinds: type[NodeT]) -> list[NodeT]:
        """Every node of these types in the module, in source order."""
        if len(kinds) == 1:
            return self._by_type.get(kinds[0], [])  # type: ignore[return-value]
        found: list[NodeT] = []
        for kind in kinds:
            found.extend(self._by_type.get(kind, []))  # type: ignore[arg-type]
        found.sort(key=_source_order)
        return found

    @cached_property
    def calls(self) -> list[ast.Call]:
        return self.nodes(ast.Call)

    @cached_property
    def all_functions(self) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """Every function and method, nested ones included."""
        return self.nodes(ast.FunctionDef, ast.AsyncFunctionDef)

    def scope_of(self, node: ast.AST) -> ast.AST | None:
        """The innermost function, lambda or class around ``node``; ``None`` at module level."""
        if node in self._scopes:
            return self._scopes[node]
        walked: list[ast.AST] = []
        current = self.parents.get(node)
        result: ast.AST | None = None
        while current is not None:
            if isinstance(current, SCOPES):
                result = current
                break
            # Cached answers of non-scope nodes are the scope around them. (A scope node's own
            # entry is the scope around *it*, not the one it opens: never read it on the way up.)
            if current in self._scopes:
                result = self._scopes[current]
                break
            walked.append(current)
            current = self.parents.get(current)
        self._scopes[node] = result
        for step in walked:
            self._scopes[step] = result
        return result

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The innermost ``def`` around ``node`` (lambdas and classes are looked through)."""
        scope = self.scope_of(node)
        while scope is not None and not isinstance(scope, FUNCTIONS):
            scope = self.scope_of(scope)
        return scope

    def block_position(self, statement: ast.AST) -> tuple[list[ast.stmt] | None, int]:
        """The statement list (a ``body``, ``orelse`` or ``finalbody``) that holds ``statement``, and
        its index there; ``(None, 0)`` for anything else. Indexed once per module, so asking for many
        statements of one long block stays linear."""
        positions: dict[ast.AST, tuple[list[ast.stmt], int]] | None = self.memo.get("block_positions")
        if positions is None:
            positions = {}
            for kind, owners in self._by_type.items():
                if not any(field in kind._fields for field in ("body", "orelse", "finalbody")):
                    continue
                for owner in owners:
                    for field in ("body", "orelse", "finalbody"):
                        block = getattr(owner, field, None)
                        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                            for index, child in enumerate(block):
                                positions[child] = (block, index)
            self.memo["block_positions"] = positions
        return positions.get(statement, (None, 0))

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def in_main_guard(self, node: ast.AST) -> bool:
        """True inside a module-level ``if __name__ == "__main__":`` block."""
        return any(isinstance(step, ast.If) and is_main_guard(step.test) for step in self.ancestors(node))

    # ----------------------------------------------------------------------------- names
    def _collect_imports(self) -> None:
        for node in self.nodes(ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imports[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    self.imports[head] = head
        for imported in self.nodes(ast.ImportFrom):
            base = self._absolute_module(imported)
            if base is None:
                continue
            for alias in imported.names:
                if alias.name != "*":
                    self.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
        # Module-level aliases such as ``op = Operations`` or ``get = requests.get``.
        for statement in _module_level_statements(self.tree.body):
            if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and isinstance(statement.value, (ast.Name, ast.Attribute))):
                name = statement.targets[0].id
                if name not in self.imports:
                    target = self._resolve(statement.value)
                    if target is not None:
                        self.imports[name] = target

    def _absolute_module(self, node: ast.ImportFrom) -> str | None:
        if not node.level:
            return node.module
        package = self.dotted.split(".")
        if not self.path.name == "__init__.py":
            package = package[:-1]
        if node.level - 1 > len(package):
            return None
        package = package[: len(package) - (node.level - 1)]
        parts = [*package, *([node.module] if node.module else [])]
        return ".".join(parts) if parts else None

    def _resolve(self, expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Name):
            return self.imports.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = self._resolve(expr.value)
            return f"{base}.{expr.attr}" if base is not None else None
        return None

    def qualname(self, expr: ast.AST) -> str | None:
        """The imported thing ``expr`` names, e.g. ``requests.get`` for ``rq.get`` after ``import requests as rq``."""
        if expr not in self._qualnames:
            self._qualnames[expr] = self._resolve(expr)
        return self._qualnames[expr]

    def sdk_name(self, expr: ast.AST) -> str | None:
        """``"Operations.upsert"``, ``"Logging"``, ``"Connector"`` ... for SDK objects under any alias."""
        qualified = self.qualname(expr)
        if qualified is None:
            return None
        parts = qualified.split(".")
        if parts[0] not in SDK_ROOTS:
            return None
        for index, part in enumerate(parts[1:], start=1):
            if part in SDK_CLASSES:
                return ".".join(parts[index:])
            if not part.islower():
                return None
        return None

    def op_method(self, call: ast.AST) -> str | None:
        """``"upsert"`` for ``op.upsert(...)`` (any alias of ``Operations``), else ``None``."""
        if not isinstance(call, ast.Call):
            return None
        name = self.sdk_name(call.func)
        if name is not None and name.startswith("Operations.") and name.count(".") == 1:
            return name.split(".")[1]
        return None

    def log_method(self, call: ast.AST) -> str | None:
        """``"info"`` for ``log.info(...)`` (any alias of ``Logging``), else ``None``."""
        if not isinstance(call, ast.Call):
            return None
        name = self.sdk_name(call.func)
        if name is not None and name.startswith("Logging.") and name.count(".") == 1:
            return name.split(".")[1]
        return None

    def is_connector_call(self, call: ast.AST) -> bool:
        return isinstance(call, ast.Call) and self.sdk_name(call.func) == "Connector"

    @cached_property
    def connector_calls(self) -> list[ast.Call]:
        """Every ``Connector(...)`` call (under any alias), in source order."""
        return [call for call in self.calls if self.is_connector_call(call)]

    @cached_property
    def op_calls(self) -> list[tuple[ast.Call, str]]:
        """Every ``Operations`` call with its method name, in source order."""
        found = []
        for call in self.calls:
            method = self.op_method(call)
            if method is not None:
                found.append((call, method))
        return found

    def _module_bindings(self) -> set[str]:
        """Names bound at import time: imports, defs, classes, assignments, loop and with targets."""
        names: set[str] = set(self.imports)
        for statement in _module_level_statements(self.tree.body):
            bound: list[ast.AST] = []
            if isinstance(statement, (*FUNCTIONS, ast.ClassDef)):
                names.add(statement.name)
            elif isinstance(statement, (ast.For, ast.AsyncFor)):
                bound = [statement.target]
            elif isinstance(statement, (ast.With, ast.AsyncWith)):
                bound = [item.optional_vars for item in statement.items if item.optional_vars is not None]
            elif not isinstance(statement, (ast.If, ast.While, ast.Try)):
                bound = [statement]
            for part in bound:
                for node in ast.walk(part):
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        names.add(node.id)
        return names

    @cached_property
    def has_star_import(self) -> bool:
        return any(alias.name == "*" for node in self.nodes(ast.ImportFrom) for alias in node.names)

    def _module_constants(self) -> dict[str, ast.expr]:
        """Module-level names assigned exactly once (``MONEY = {...}``), with the assigned value."""
        values: dict[str, ast.expr] = {}
        counts: dict[str, int] = defaultdict(int)
        for statement in _module_level_statements(self.tree.body):
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(statement, ast.Assign):
                targets, value = statement.targets, statement.value
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                targets, value = [statement.target], statement.value
            elif isinstance(statement, ast.AugAssign):
                targets = [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    counts[target.id] += 1
                    if value is not None:
                        values[target.id] = value
                elif isinstance(target, (ast.Tuple, ast.List)):
                    for element in ast.walk(target):
                        if isinstance(element, ast.Name):
                            counts[element.id] += 2
        for node in self.nodes(ast.Global):
            for name in node.names:
                counts[name] += 2
        return {name: value for name, value in values.items() if counts[name] == 1}

    def constant(self, expr: ast.expr) -> ast.expr:
        """``expr`` with a module constant's name replaced by its value (one level)."""
        if isinstance(expr, ast.Name) and expr.id in self.constants:
            return self.constants[expr.id]
        return expr

    # ----------------------------------------------------------------------------- HTTP
    @cached_property
    def _clients(self) -> dict[str, str]:
        """Names (``session``, ``self.session``) whose every assignment is a requests/httpx client.

        The value is ``"requests"``, ``"requests-mounted"`` (an adapter is mounted on it), ``"httpx"`` or
        ``"httpx-no-timeout"`` (``httpx.Client(timeout=None)``).
        """
        kinds: dict[str, set[str]] = defaultdict(set)

        def record(target: ast.AST, value: ast.AST | None) -> None:
            key = target_key(target)
            if key is None:
                return
            kinds[key].add(self._client_kind(value) if value is not None else "other")

        for node in self.nodes(ast.Assign):
            for target in node.targets:
                record(target, node.value)
        for ann in self.nodes(ast.AnnAssign):
            record(ann.target, ann.value)
        for with_item in self.nodes(ast.withitem):
            if with_item.optional_vars is not None:
                record(with_item.optional_vars, with_item.context_expr)
        # A session with a mounted adapter may get its timeout from the adapter: its timeouts are
        # not judged, but its requests still count as requests.
        mounted = set()
        for call in self.calls:
            if isinstance(call.func, ast.Attribute) and call.func.attr == "mount":
                key = target_key(call.func.value)
                if key is not None:
                    mounted.add(key)
        clients = {key: next(iter(found)) for key, found in kinds.items() if len(found) == 1 and "other" not in found}
        return {key: f"{kind}-mounted" if key in mounted and kind == "requests" else kind
                for key, kind in clients.items()}

    def _client_kind(self, value: ast.AST) -> str:
        if not isinstance(value, ast.Call):
            return "other"
        qualified = self.qualname(value.func)
        if qualified in REQUESTS_SESSIONS:
            return "requests"
        if qualified in HTTPX_CLIENTS:
            return "httpx-no-timeout" if _timeout_state(value, positional=None) == "none" else "httpx"
        return "other"

    @cached_property
    def http_calls(self) -> list[HttpCall]:
        """Every recognised HTTP request: ``requests.*``, ``httpx.*``, ``urlopen`` and client methods."""
        found = []
        for call in self.calls:
            recognised = self._http_call(call)
            if recognised is not None:
                found.append(recognised)
        return found

    @cached_property
    def http_call_nodes(self) -> frozenset[ast.Call]:
        """The call nodes of :attr:`http_calls`, for membership tests."""
        return frozenset(found.node for found in self.http_calls)

    def is_generator(self, function: ast.AST) -> bool:
        """True if ``function`` itself (not a nested function) contains ``yield``: calling it runs nothing."""
        cache: dict[ast.AST, bool] = self.memo.setdefault("generators", {})
        if function not in cache:
            body = getattr(function, "body", [])
            cache[function] = isinstance(body, list) and any(
                isinstance(node, (ast.Yield, ast.YieldFrom)) for node in _nodes_in_scope(body))
        return cache[function]

    def _http_call(self, call: ast.Call) -> HttpCall | None:
        qualified = self.qualname(call.func)
        if qualified is not None:
            parts = qualified.split(".")
            if parts[0] == "requests" and parts[-1] in HTTP_METHODS and len(parts) in (2, 3):
                if len(parts) == 2 or parts[1] == "api":
                    return HttpCall(call, "requests", parts[-1], _timeout_state(call, None), True, qualified)
            if parts[0] == "httpx" and len(parts) == 2 and parts[1] in HTTP_METHODS | {"stream"}:
                return HttpCall(call, "httpx", parts[1], _timeout_state(call, None), False, qualified)
            if qualified in URLOPEN:
                return HttpCall(call, "urllib", "urlopen", _timeout_state(call, 2), True, "urlopen")
        if isinstance(call.func, ast.Attribute) and call.func.attr in HTTP_METHODS | {"stream"}:
            key = target_key(call.func.value)
            kind = self._clients.get(key) if key is not None else None
            if kind in ("requests", "requests-mounted") and call.func.attr != "stream":
                timeout = _timeout_state(call, None) if kind == "requests" else "unknown"
                return HttpCall(call, "requests", call.func.attr, timeout, True, f"{key}.{call.func.attr}")
            if kind in ("httpx", "httpx-no-timeout"):
                return HttpCall(call, "httpx", call.func.attr, _timeout_state(call, None),
                                kind == "httpx-no-timeout", f"{key}.{call.func.attr}")
        return None

    # ----------------------------------------------------------------------------- output
    def position(self, node: ast.AST) -> tuple[int, int]:
        """1-based line and character column of ``node``."""
        line = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if not text.isascii():
            offset = len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))
        return line, offset + 1

    def violation(self, node: ast.AST, message: str, hint: str | None = None) -> Violation:
        line, col = self.position(node)
        return Violation(self.display, line, col, message, hint)

    def text(self, node: ast.AST, limit: int = 60) -> str:
        """The source text of ``node`` on one line, shortened to ``limit`` characters.

        Cut from the already split lines: ``ast.get_source_segment`` splits the whole source on
        every call, which made a run quadratic in the number of findings.
        """
        segment = self._segment(node) or ast.unparse(node)
        segment = " ".join(segment.split())
        return segment if len(segment) <= limit else segment[: limit - 3] + "..."

    def _segment(self, node: ast.AST) -> str | None:
        first: int | None = getattr(node, "lineno", None)
        last: int | None = getattr(node, "end_lineno", None)
        start: int | None = getattr(node, "col_offset", None)
        end: int | None = getattr(node, "end_col_offset", None)
        if first is None or last is None or start is None or end is None or not 0 < first <= last <= len(self.lines):
            return None
        # Offsets count UTF-8 bytes; only the (few) lines of the node are encoded.
        if first == last:
            return self.lines[first - 1].encode("utf-8")[start:end].decode("utf-8", errors="replace")
        pieces = [self.lines[first - 1].encode("utf-8")[start:].decode("utf-8", errors="replace")]
        pieces += self.lines[first:last - 1]
        if last - first > 20:  # only the start is ever shown
            return "\n".join(pieces[:20])
        pieces.append(self.lines[last - 1].encode("utf-8")[:end].decode("utf-8", errors="replace"))
        return "\n".join(pieces)


class ProjectContext:
    """A connector project: its folder, its parsed modules and its other files."""

    def __init__(self, root: Path, display_root: str) -> None:
        self.root = root
        self.display_root = display_root
        self.modules: list[ModuleContext] = []
        self.connector: ModuleContext | None = None
        self.failures: list[ParseFailure] = []
        self.other_files: list[str] = []

    def display(self, path: Path) -> str:
        relative = path.relative_to(self.root).as_posix()
        if self.display_root in ("", "."):
            return relative
        return f"{self.display_root.rstrip('/')}/{relative}"

    @property
    def complete(self) -> bool:
        """True when every module was parsed (project-wide rules need the whole picture)."""
        return self.connector is not None and not self.failures

    def module(self, dotted: str) -> ModuleContext | None:
        return self._by_dotted.get(dotted)

    @cached_property
    def _by_dotted(self) -> dict[str, ModuleContext]:
        return {module.dotted: module for module in self.modules}

    def files(self) -> list[str]:
        return [module.display for module in self.modules] + [f.path for f in self.failures] + self.other_files

    # ----------------------------------------------------------------------------- call graph
    def callee(self, module: ModuleContext, call: ast.Call) -> FunctionKey | None:
        """The project function a call runs, when it can be told from the code; else ``None``.

        Follows plain calls, ``self.method()``, imported project functions, and methods of objects
        whose class is known: ``client = ApiClient(...)``, ``client: ApiClient`` parameters and
        ``self.client = ApiClient(...)`` attributes.
        """
        func = call.func
        if isinstance(func, ast.Name):
            if func.id in module.functions:
                return (module.dotted, func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
            if func.attr in module.methods:
                return (module.dotted, func.attr)
        if isinstance(func, ast.Attribute):
            key = target_key(func.value)
            if key is not None:
                owner_class = self._instance_types(module, module.function_of(call)).get(key)
                if owner_class is None:
                    owner_class = self._attribute_types(module).get(key)
                if owner_class is not None:
                    owner_module = self.module(owner_class[0])
                    if owner_module is not None and func.attr in owner_module.methods:
                        return (owner_class[0], func.attr)
        qualified = module.qualname(func)
        if qualified is not None and "." in qualified:
            owner, name = qualified.rsplit(".", 1)
            target = self.module(owner)
            if target is not None and (name in target.functions or name in target.methods):
                return (owner, name)
        return None

    def class_of(self, module: ModuleContext, expr: ast.AST | None) -> tuple[str, str] | None:
        """``(module, class)`` for a reference to a class defined in the project."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str) and expr.value.isidentifier():
            expr = ast.Name(id=expr.value)
        if isinstance(expr, ast.Name) and expr.id in module.classes:
            return (module.dotted, expr.id)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            qualified = module.qualname(expr)
            if qualified is not None and "." in qualified:
                owner, name = qualified.rsplit(".", 1)
                target = self.module(owner)
                if target is not None and name in target.classes:
                    return (owner, name)
        return None

    def _instance_types(self, module: ModuleContext, function: ast.AST | None) -> dict[str, tuple[str, str]]:
        """Names in ``function`` (or at module level) that hold an instance of a project class."""
        if "instance_types" not in module.memo:
            by_scope: dict[ast.AST | None, dict[str, tuple[str, str]]] = defaultdict(dict)
            for node in module.nodes(ast.Assign):
                target = node.targets[0]
                if len(node.targets) == 1 and isinstance(target, ast.Name) and isinstance(node.value, ast.Call):
                    known = self.class_of(module, node.value.func)
                    if known is not None:
                        by_scope[module.function_of(node)][target.id] = known
            for defined in module.all_functions:
                arguments = defined.args
                for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs:
                    known = self.class_of(module, arg.annotation)
                    if known is not None:
                        by_scope[defined][arg.arg] = known
            module.memo["instance_types"] = by_scope
        scopes: dict[ast.AST | None, dict[str, tuple[str, str]]] = module.memo["instance_types"]
        if function is None:
            return scopes.get(None, {})
        return {**scopes.get(None, {}), **scopes.get(function, {})}

    def _attribute_types(self, module: ModuleContext) -> dict[str, tuple[str, str]]:
        """``self.x`` attributes whose every assignment is an instance of the same project class."""
        if "attribute_types" not in module.memo:
            kinds: dict[str, set[tuple[str, str] | None]] = defaultdict(set)
            for node in module.nodes(ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute):
                        key = target_key(target)
                        if key is not None:
                            value = node.value
                            kinds[key].add(self.class_of(module, value.func) if isinstance(value, ast.Call) else None)
            module.memo["attribute_types"] = {key: next(iter(found)) for key, found in kinds.items()
                                              if len(found) == 1 and None not in found}
        types: dict[str, tuple[str, str]] = module.memo["attribute_types"]
        return types

    def _propagate(self, direct: set[FunctionKey]) -> frozenset[FunctionKey]:
        marked = set(direct)
        changed = True
        while changed:
            changed = False
            for caller, callees in self._call_graph.items():
                if caller not in marked and callees & marked:
                    marked.add(caller)
                    changed = True
        return frozenset(marked)

    @cached_property
    def _call_graph(self) -> dict[FunctionKey, set[FunctionKey]]:
        graph: dict[FunctionKey, set[FunctionKey]] = defaultdict(set)
        for module in self.modules:
            for call in module.calls:
                function = module.function_of(call)
                if function is None:
                    continue
                target = self.callee(module, call)
                if target is not None:
                    graph[(module.dotted, function.name)].add(target)
        return graph

    @cached_property
    def network_functions(self) -> frozenset[FunctionKey]:
        """Project functions that make an HTTP request or page a database cursor, directly or not."""
        direct: set[FunctionKey] = set()
        for module in self.modules:
            fetches = [call.node for call in module.http_calls]
            fetches += [call for call in module.calls
                        if isinstance(call.func, ast.Attribute) and call.func.attr == "fetchmany"]
            for call in fetches:
                function = module.function_of(call)
                if function is not None:
                    direct.add((module.dotted, function.name))
        return self._propagate(direct)

    @cached_property
    def record_functions(self) -> frozenset[FunctionKey]:
        """Project functions that call ``op.upsert``/``update``/``delete``, directly or not."""
        direct: set[FunctionKey] = set()
        for module in self.modules:
            for call, method in module.op_calls:
                function = module.function_of(call)
                if method in RECORD_OPS and function is not None:
                    direct.add((module.dotted, function.name))
        return self._propagate(direct)

    def calls_network(self, module: ModuleContext, call: ast.Call) -> bool:
        """True if ``call`` is an HTTP request, a cursor page, or a project function doing either."""
        if isinstance(call.func, ast.Attribute) and call.func.attr == "fetchmany":
            return True
        if call in module.http_call_nodes:
            return True
        target = self.callee(module, call)
        return target is not None and target in self.network_functions

    def definitions(self, key: FunctionKey) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        """Every function or method of the project named by ``key``."""
        module = self.module(key[0])
        if module is None:
            return []
        found = list(module.methods.get(key[1], []))
        if key[1] in module.functions:
            found.append(module.functions[key[1]])
        return found

    def calls_generator(self, module: ModuleContext, call: ast.Call) -> FunctionKey | None:
        """The project function ``call`` runs if every definition of it is a generator, else ``None``."""
        target = self.callee(module, call)
        if target is None:
            return None
        definitions = self.definitions(target)
        owner = self.module(target[0])
        if owner is None or not definitions or not all(owner.is_generator(function) for function in definitions):
            return None
        if any(not (isinstance(decorator, ast.Name) and decorator.id in ("staticmethod", "classmethod"))
               for function in definitions for decorator in function.decorator_list):
            return None  # @contextmanager, @retry ...: the decorator decides what calling it does
        return target

    def sends_records(self, module: ModuleContext, call: ast.Call) -> bool:
        """True if ``call`` is ``op.upsert/update/delete`` or a project function that calls one."""
        if module.op_method(call) in RECORD_OPS:
            return True
        target = self.callee(module, call)
        return target is not None and target in self.record_functions


# --------------------------------------------------------------------------------- helpers
def _source_order(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
    has_main = any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides)
    return has_name and has_main


def target_key(node: ast.AST) -> str | None:
    """``"name"`` for a name, ``"self.attr"`` for an attribute of a name, else ``None``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _timeout_state(call: ast.Call, positional: int | None) -> str:
    for keyword in call.keywords:
        if keyword.arg == "timeout":
            if isinstance(keyword.value, ast.Constant) and keyword.value.value is None:
                return "none"
            return "set"
    if any(keyword.arg is None for keyword in call.keywords):
        return "unknown"
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        return "unknown"
    if positional is not None and len(call.args) > positional:
        value = call.args[positional]
        return "none" if isinstance(value, ast.Constant) and value.value is None else "set"
    return "missing"


def _nodes_in_scope(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of a function body, not entering nested functions, lambdas or classes."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time: the module body and its if/try/with/for blocks."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If) and is_main_guard(statement.test):
            continue
        if isinstance(statement, (ast.If, ast.For, ast.While, ast.With)):
            yield from _module_level_statements(statement.body)
            yield from _module_level_statements(getattr(statement, "orelse", []))
        elif isinstance(statement, ast.Try):
            yield from _module_level_statements(statement.body)
            for handler in statement.handlers:
                yield from _module_level_statements(handler.body)
            yield from _module_level_statements(statement.orelse)
            yield from _module_level_statements(statement.finalbody)


def noqa_comments(source: str) -> NoqaMap:
    """``# noqa`` comments per line (tokenized, so ``"# noqa"`` inside a string does not count)."""
    if "noqa" not in source.lower():
        return {}
    found: NoqaMap = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                present, codes = parse_noqa(token.string)
                if present:
                    found[token.start[0]] = codes
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


# --------------------------------------------------------------------------------- loading
SKIPPED_DIRS = frozenset({"files", "__pycache__", "node_modules", "site-packages", "build", "dist",
                          "headwater_helpers"})  # vendored headwater code (headwater vendor); HW009 checks it


def load_project(path: str | Path) -> ProjectContext:
    """Read and parse a project folder (or its ``connector.py``) and the project modules it imports.

    Raises :class:`~headwater.errors.ProjectError` if ``path`` does not exist and
    :class:`~headwater.errors.ConnectorLoadError` if there is no ``connector.py``.
    """
    given = Path(path)
    if not given.exists():
        raise ProjectError(f"{given} does not exist; pass a connector project folder or its connector.py")
    if given.is_file():
        connector_path = given
        display_root = str(given.parent) if str(given.parent) != "." else ""
    else:
        connector_path = given / "connector.py"
        display_root = str(given)
        if not connector_path.is_file():
            raise ConnectorLoadError(
                f"no connector.py in {given}; pass a connector project folder (the one with connector.py)"
            )
    root = connector_path.parent.resolve()
    project = ProjectContext(root, display_root)
    queue: list[tuple[Path, str]] = [(connector_path.resolve(), connector_path.stem)]
    seen: set[Path] = set()
    while queue and len(seen) < MAX_MODULES:
        file, dotted = queue.pop(0)
        if file in seen:
            continue
        seen.add(file)
        module = _parse(project, file, dotted, is_connector=not project.modules and not project.failures)
        if module is None:
            continue
        if module.is_connector:
            project.connector = module
        project.modules.append(module)
        for imported in _imported_modules(module):
            located = _locate(root, imported)
            if located is not None and located[0] not in seen:
                queue.append(located)
    for name in ("configuration.json", "requirements.txt"):
        if (root / name).is_file():
            project.other_files.append(project.display(root / name))
    return project


def _parse(project: ProjectContext, file: Path, dotted: str, *, is_connector: bool) -> ModuleContext | None:
    display = project.display(file)
    try:
        data = file.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        source = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
        project.failures.append(ParseFailure(display, 1, 1, f"cannot read {display}: {exc}"))
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning about user code is not ours to raise
            tree = parse_source(source, filename=str(file))
    except SyntaxError as exc:
        project.failures.append(
            ParseFailure(display, exc.lineno or 1, exc.offset or 1, f"{display} does not parse: {exc.msg}")
        )
        return None
    except ValueError as exc:  # null bytes
        project.failures.append(ParseFailure(display, 1, 1, f"{display} does not parse: {exc}"))
        return None
    return ModuleContext(project, file, dotted, source, tree, is_connector=is_connector)


def _imported_modules(module: ModuleContext) -> Iterator[str]:
    for node in module.nodes(ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            for length in range(1, len(parts) + 1):
                yield ".".join(parts[:length])
    for imported in module.nodes(ast.ImportFrom):
        base = module._absolute_module(imported)
        if base is None:
            continue
        parts = base.split(".")
        for length in range(1, len(parts) + 1):
            yield ".".join(parts[:length])
        for alias in imported.names:
            if alias.name != "*":
                yield f"{base}.{alias.name}"


def _locate(root: Path, dotted: str) -> tuple[Path, str] | None:
    parts = dotted.split(".")
    if parts[0] in SDK_ROOTS or any(not part.isidentifier() for part in parts):
        return None
    base = root.joinpath(*parts)
    for candidate, name in ((base.with_suffix(".py"), dotted), (base / "__init__.py", dotted)):
        if candidate.is_file() and not (set(candidate.relative_to(root).parts[:-1]) & SKIPPED_DIRS):
            return candidate.resolve(), name
    return None
