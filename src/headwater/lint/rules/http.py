"""Rules on network calls: every request has a timeout, something retries, and no endless polling loop."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from headwater.lint.blocks import has_exit, local_nodes
from headwater.lint.context import ProjectContext
from headwater.lint.registry import Example, Violation, rule
from headwater.lint.rules.requirements import read_requirements

__all__: list[str] = []


# ------------------------------------------------------------------------------------ HW060
@rule(
    "HW060", "http-no-timeout", "warning",
    summary="An HTTP request (requests, a requests Session, urllib) has no timeout.",
    why="""requests and urllib wait forever by default. One stalled connection then hangs the
    sync until the platform kills it, with no error to act on. httpx has a 5 second default and is
    reported only with an explicit `timeout=None`.""",
    fix="Pass a timeout on every call: `requests.get(url, timeout=30)` (or a (connect, read) tuple).",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            response = requests.get("https://api.example.com/items")
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=6),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            response = session.get("https://api.example.com/items", timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_http_timeout(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for call in module.http_calls:
            if call.timeout == "none":
                message = f"{call.via}() is called with timeout=None, so it can wait forever"
            elif call.timeout == "missing" and call.needs_timeout:
                message = f"{call.via}() has no timeout, so a stalled connection hangs the sync forever"
            else:
                continue
            yield module.violation(call.node, message,
                                   f"pass one: `{call.via}(..., timeout=30)`" if call.library != "urllib"
                                   else "pass one: `urlopen(request, timeout=30)`")


# ------------------------------------------------------------------------------------ HW061
@rule(
    "HW061", "unbounded-network-loop", "warning",
    summary="A `while True` loop calls the network and has no break or return.",
    why="""A polling or pagination loop that never leaves (no `break`, no `return`; only an
    exception ends it) syncs forever when the API keeps answering, for example a cursor that
    does not advance or an empty page that is not the last.""",
    fix="Leave the loop when the API says there is nothing more: `if not body.get(\"next\"): break`, or cap the pages.",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            page = 1
            while True:
                response = requests.get("https://api.example.com/items", params={"page": page}, timeout=30)
                response.raise_for_status()
                for item in response.json()["items"]:
                    op.upsert(table="items", data=item)
                op.checkpoint(state={"page": page})
                page += 1


        connector = Connector(update=update)
    ''', line=7),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            page = 1
            while True:
                response = session.get("https://api.example.com/items", params={"page": page}, timeout=30)
                response.raise_for_status()
                items = response.json()["items"]
                for item in items:
                    op.upsert(table="items", data=item)
                op.checkpoint(state={"page": page})
                if not items:
                    break
                page += 1


        connector = Connector(update=update)
    '''),
)
def check_unbounded_loops(project: ProjectContext) -> Iterator[Violation]:
    for module in project.modules:
        for loop in module.nodes(ast.While):
            if not (isinstance(loop.test, ast.Constant) and loop.test.value is True or (
                    isinstance(loop.test, ast.Constant) and loop.test.value == 1)):
                continue
            if has_exit(module, loop):
                continue
            body = list(local_nodes(loop.body))
            if any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in body):
                continue  # a generator: its consumer decides when to stop
            network = next((node for node in body
                            if isinstance(node, ast.Call) and project.calls_network(module, node)), None)
            if network is None:
                continue
            yield module.violation(
                loop, f"`while True:` calls the network (`{module.text(network.func, 40)}(...)`, line "
                f"{network.lineno}) but has no break or return, so only an error can end it",
                "leave when the API says there is nothing more: `if not body.get(\"next\"): break`, "
                "or stop after a maximum number of pages")


# ------------------------------------------------------------------------------------ HW062
_RETRY_WORDS = re.compile(r"retry|retries|retrying|attempt|backoff|tenacity", re.IGNORECASE)
_SLEEPS = frozenset({"time.sleep", "asyncio.sleep"})
_RETRY_PACKAGES = frozenset({"tenacity", "backoff", "retrying", "retry", "requests-retry", "opnieuw", "stamina",
                             "retry2"})


def _mentions_retry(project: ProjectContext) -> bool:
    """Any sign of retrying in the project: a retry library or urllib3's Retry, a name about
    retries or attempts, or a loop that waits (sleep) between network calls."""
    found = read_requirements(project)
    if found is not None and any(requirement.normalized in _RETRY_PACKAGES for requirement in found[1]):
        return True
    for module in project.modules:
        for node in module.nodes(ast.Import):
            if any(_RETRY_WORDS.search(alias.name) or _RETRY_WORDS.search(alias.asname or "") for alias in node.names):
                return True
        for imported in module.nodes(ast.ImportFrom):
            if _RETRY_WORDS.search(imported.module or "") or any(_RETRY_WORDS.search(alias.name)
                                                                 for alias in imported.names):
                return True
        if any(_RETRY_WORDS.search(name.id) for name in module.nodes(ast.Name)):
            return True
        if any(_RETRY_WORDS.search(attribute.attr) for attribute in module.nodes(ast.Attribute)):
            return True
        if any(_RETRY_WORDS.search(function.name) for function in module.all_functions):
            return True
        if any(_RETRY_WORDS.search(arg.arg) for arg in module.nodes(ast.arg)):
            return True
        if any(keyword.arg is not None and _RETRY_WORDS.search(keyword.arg) for keyword in module.nodes(ast.keyword)):
            return True
        loops: list[ast.For | ast.AsyncFor | ast.While] = [*module.nodes(ast.For), *module.nodes(ast.AsyncFor),
                                                            *module.nodes(ast.While)]
        for loop in loops:
            body = list(local_nodes(loop.body))
            if (any(isinstance(node, ast.Call) and module.qualname(node.func) in _SLEEPS for node in body)
                    and any(isinstance(node, ast.Call) and project.calls_network(module, node) for node in body)):
                return True
    return False


@rule(
    "HW062", "http-no-retry", "warning",
    summary="The connector makes HTTP requests but never retries one.",
    why="""APIs answer 429 (rate limit) and 5xx now and then, and connections drop. Without any
    retry, one such answer anywhere fails the whole sync, which then starts again from the last
    checkpoint on the next schedule: long syncs may never finish. Reported once per project, when
    no request is retried anywhere: no urllib3 `Retry` mounted on a session, no retry library
    (tenacity, backoff), no loop that waits and tries again (nothing named retry, attempt or
    backoff).""",
    fix="""Retry transient failures with backoff: mount `HTTPAdapter(max_retries=Retry(total=5,
    backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504]))` on a requests Session, or loop
    over attempts with `time.sleep(2 ** attempt)`.""",
    bad=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op


        def update(configuration: dict, state: dict):
            response = requests.get("https://api.example.com/items", timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    ''', line=6),
    good=Example('''
        import requests
        from fivetran_connector_sdk import Connector, Operations as op
        from requests.adapters import HTTPAdapter
        from urllib3.util import Retry

        RETRY = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=RETRY))


        def update(configuration: dict, state: dict):
            response = session.get("https://api.example.com/items", timeout=30)
            response.raise_for_status()
            for item in response.json()["items"]:
                op.upsert(table="items", data=item)
            op.checkpoint(state={"done": True})


        connector = Connector(update=update)
    '''),
)
def check_http_no_retry(project: ProjectContext) -> Iterator[Violation]:
    first = next(((module, call) for module in project.modules for call in module.http_calls
                  if module.function_of(call.node) is not None), None)
    if first is None or _mentions_retry(project):
        return
    module, call = first
    count = sum(len(module.http_calls) for module in project.modules)
    others = f" (and {count - 1} other request{'s' if count > 2 else ''})" if count > 1 else ""
    yield module.violation(call.node, f"`{call.via}()`{others} is never retried: one 429, 5xx or dropped "
                           "connection fails the whole sync",
                           "mount `HTTPAdapter(max_retries=Retry(total=5, backoff_factor=1, status_forcelist=[429, "
                           "500, 502, 503, 504]))` on a requests Session, or retry in a loop with backoff")
