"""Rules on network calls: every request has a timeout, and no endless polling loop."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from headwater.lint.blocks import has_exit, local_nodes
from headwater.lint.context import ProjectContext
from headwater.lint.registry import Example, Violation, rule

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


        def update(configuration: dict, state: dict):
            response = requests.get("https://api.example.com/items", timeout=30)
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


        def update(configuration: dict, state: dict):
            page = 1
            while True:
                response = requests.get("https://api.example.com/items", params={"page": page}, timeout=30)
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
