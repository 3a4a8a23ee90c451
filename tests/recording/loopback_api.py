"""A loopback items API (pytest-httpserver), the connectors the recording tests run against it, and
a helper to record them.

The API: ``GET /api/items?updated_after=TS&limit=N`` with the key twice (``X-Api-Key`` header and
``api_key`` query parameter) and a bearer token. It answers ``{"data": [...], "next": URL|null,
"meta": {"request_key": KEY}}``: items updated after ``TS``, oldest first, at most N, and the
absolute URL of the next page (``updated_after`` = the page's last item) while more remain. The
key is echoed in ``meta`` so that the tests can check response bodies are redacted too.

- :func:`record` records syncs of a project into a recording folder.
- :data:`SOURCES` holds the connectors by name (``correct``, ``cursor_first``, ``no_loop_guard``,
  ``page_limit``, ``resilient``, ``fragile``).

Also served: ``/api/blob`` (binary), ``/api/gzip`` (a gzip-encoded JSON body) and ``POST /api/search``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

API_KEY = "k-93f1c07a55e2"
TOKEN = "tok-5d1e88b2c0a4"
BLOB = bytes(range(256)) * 4


class ItemsApi:
    """The loopback API; ``requests`` counts what it served."""

    def __init__(self, items: int = 10, *, last_next_is_self: bool = False) -> None:
        #: Some APIs answer the last page with a next link to the page itself.
        self.last_next_is_self = last_next_is_self
        self.items = [{"id": i, "name": f"item {i}", "updated_at": f"2024-01-{i:02d}T00:00:00Z"}
                      for i in range(1, items + 1)]
        self.server = HTTPServer(host="127.0.0.1", port=0)
        self.server.expect_request("/api/items").respond_with_handler(self._items)
        self.server.expect_request("/api/blob").respond_with_data(BLOB, content_type="application/octet-stream")
        self.server.expect_request("/api/gzip").respond_with_handler(self._gzip)
        self.server.expect_request("/api/search", method="POST").respond_with_handler(self._search)
        self.requests = 0
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()

    def _gzip(self, request: Request) -> Response:
        self.requests += 1
        data = gzip.compress(json.dumps({"compressed": True, "items": self.items[:2]}).encode())
        return Response(data, status=200, headers={"Content-Encoding": "gzip"}, content_type="application/json")

    def _search(self, request: Request) -> Response:
        self.requests += 1
        body = request.get_json()
        found = [item for item in self.items if body["query"] in item["name"]]
        return Response(json.dumps({"results": found}), status=200, content_type="application/json")

    def _items(self, request: Request) -> Response:
        self.requests += 1
        if (request.headers.get("X-Api-Key") != API_KEY or request.args.get("api_key") != API_KEY
                or request.headers.get("Authorization") != f"Bearer {TOKEN}"):
            return Response(json.dumps({"error": "unauthorized"}), status=401, content_type="application/json")
        after = request.args.get("updated_after", "")
        limit = int(request.args.get("limit", "3"))
        rest = [item for item in self.items if item["updated_at"] > after]
        page = rest[:limit]
        next_url = None
        if len(rest) > limit:
            next_url = f"{self.url}/api/items?updated_after={page[-1]['updated_at']}&limit={limit}"
        elif self.last_next_is_self and after:
            next_url = f"{self.url}/api/items?updated_after={after}&limit={limit}"
        body = {"data": page, "next": next_url, "meta": {"request_key": API_KEY}}
        return Response(json.dumps(body), status=200, content_type="application/json")


_HEAD = '''
import requests
from fivetran_connector_sdk import Connector, Operations as op


def schema(configuration):
    return [{"table": "items", "primary_key": ["id"]}]


def first_request(configuration, state):
    return configuration["base_url"] + "/api/items", {
        "updated_after": state.get("updated_after", ""),
        "limit": configuration.get("page_size", "3"),
        "api_key": configuration["api_key"],
    }


def session_for(configuration):
    session = requests.Session()
    session.headers.update({"X-Api-Key": configuration["api_key"],
                            "Authorization": "Bearer " + configuration["token"]})
    return session
'''

#: Correct: upserts a page, then checkpoints the cursor; stops when a next link repeats.
CORRECT = _HEAD + '''

def update(configuration, state):
    session = session_for(configuration)
    url, params = first_request(configuration, state)
    seen = set()
    while url:
        response = session.get(url, params=params, timeout=10)
        response.raise_for_status()
        page = response.json()
        for item in page["data"]:
            op.upsert("items", item)
        if page["data"]:
            op.checkpoint({"updated_after": page["data"][-1]["updated_at"]})
        url, params = page.get("next"), {"api_key": configuration["api_key"]}
        if url in seen:
            break
        seen.add(url)


connector = Connector(update=update, schema=schema)
'''

#: Planted bug: the cursor is checkpointed before the page's rows are upserted.
CURSOR_FIRST = _HEAD + '''

def update(configuration, state):
    session = session_for(configuration)
    url, params = first_request(configuration, state)
    while url:
        response = session.get(url, params=params, timeout=10)
        response.raise_for_status()
        page = response.json()
        if page["data"]:
            op.checkpoint({"updated_after": page["data"][-1]["updated_at"]})
        for item in page["data"]:
            op.upsert("items", item)
        url, params = page.get("next"), {"api_key": configuration["api_key"]}


connector = Connector(update=update, schema=schema)
'''

#: Planted bug: follows next links blindly, so a next link that repeats is followed forever.
NO_LOOP_GUARD = _HEAD + '''

def update(configuration, state):
    session = session_for(configuration)
    url, params = first_request(configuration, state)
    while url:
        response = session.get(url, params=params, timeout=10)
        response.raise_for_status()
        page = response.json()
        for item in page["data"]:
            op.upsert("items", item)
        if page["data"]:
            op.checkpoint({"updated_after": page["data"][-1]["updated_at"]})
        url, params = page.get("next"), {"api_key": configuration["api_key"]}


connector = Connector(update=update, schema=schema)
'''

#: Planted bug: a page limit instead of a loop guard; it ends, after fetching the last page again and again.
PAGE_LIMIT = NO_LOOP_GUARD.replace("    while url:\n",
                                   "    for _ in range(10):\n        if not url:\n            break\n")

#: Resilient: a urllib3 Retry adapter (429/5xx/Retry-After/timeouts), re-sends on a truncated
#: body, accepts an empty page, and has a loop guard.
RESILIENT = _HEAD + '''
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def resilient_session(configuration):
    session = session_for(configuration)
    retry = Retry(total=5, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                  respect_retry_after_header=True)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def fetch(session, url, params):
    for attempt in range(3):
        response = session.get(url, params=params, timeout=10)
        response.raise_for_status()
        try:
            return response.json()
        except ValueError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def update(configuration, state):
    session = resilient_session(configuration)
    url, params = first_request(configuration, state)
    seen = set()
    while url:
        page = fetch(session, url, params)
        for item in page["data"]:
            op.upsert("items", item)
        if page["data"]:
            op.checkpoint({"updated_after": page["data"][-1]["updated_at"]})
        url, params = page.get("next"), {"api_key": configuration["api_key"]}
        if url in seen:
            break
        seen.add(url)


connector = Connector(update=update, schema=schema)
'''

#: Fragile: module-level requests.get, raise_for_status, no retries; reads the last item of every page.
FRAGILE = '''
import requests
from fivetran_connector_sdk import Connector, Operations as op


def update(configuration, state):
    headers = {"X-Api-Key": configuration["api_key"], "Authorization": "Bearer " + configuration["token"]}
    url = configuration["base_url"] + "/api/items"
    params = {"updated_after": state.get("updated_after", ""), "limit": configuration["page_size"],
              "api_key": configuration["api_key"]}
    while url:
        response = requests.get(url, params=params, headers=headers, timeout=10)
        response.raise_for_status()
        page = response.json()
        for item in page["data"]:
            op.upsert("items", item)
        op.checkpoint({"updated_after": page["data"][-1]["updated_at"]})
        url, params = page.get("next"), {"api_key": configuration["api_key"]}


connector = Connector(update=update)
'''


SOURCES = {"correct": CORRECT, "cursor_first": CURSOR_FIRST, "no_loop_guard": NO_LOOP_GUARD,
           "page_limit": PAGE_LIMIT, "resilient": RESILIENT, "fragile": FRAGILE}


def record(project: Path, configuration: dict[str, str], folder: Path, runs: int = 2) -> list[Any]:
    """Record ``runs`` syncs of ``project`` into ``folder``; returns their SyncResults."""
    from headwater.recording import recording
    from headwater.testing import run_connector

    work = folder.parent / f"{folder.name}-warehouse"
    results = []
    for _ in range(runs):
        with recording(folder, secrets=configuration):
            results.append(run_connector(project, configuration=configuration, warehouse_dir=work))
    return results


def write_project(folder: Path, source: str) -> Path:
    """A project folder holding ``SOURCES[source]`` (or the source text given) as connector.py."""
    import textwrap

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "connector.py").write_text(textwrap.dedent(SOURCES.get(source, source)), encoding="utf-8")
    return folder
