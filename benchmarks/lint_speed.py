"""How long ``headwater lint`` takes on a realistic 2,000-line connector (target: under a second).

    .venv/bin/python benchmarks/lint_speed.py        # prints the result as JSON

``measure()`` writes a generated connector (a REST API with retries, pagination, one sync function
per resource, a schema() with a table per resource, a helper module) into a temporary folder, lints
it 5 times in this process (parse and every rule each time; nothing is cached between runs), and
returns the median wall time. The generated code is clean: tests/lint checks that it has no findings.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from headwater.lint import lint_project

RUNS = 5
TARGET_LINES = 2000

HEADER = '''\
"""Generated benchmark connector: {resources} REST resources synced incrementally."""

import time

import requests
from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

from client import ApiClient

PAGE_SIZE = 100
MAX_ATTEMPTS = 5


def schema(configuration: dict):
    return [
'''

SCHEMA_ENTRY = '''\
        {{
            "table": "{name}",
            "primary_key": ["id"],
            "columns": {{"id": "LONG", "name": "STRING", "amount": {{"type": "DECIMAL", "precision": 12, "scale": 2}},
                        "updated_at": "UTC_DATETIME", "attributes": "JSON"}},
        }},
'''

RESOURCE = '''\


def transform_{name}(record: dict) -> dict:
    """Shape one {name} record for the destination."""
    attributes = record.get("attributes") or {{}}
    return {{
        "id": record["id"],
        "name": (record.get("name") or "").strip(),
        "amount": record.get("amount"),
        "updated_at": record["updated_at"],
        "attributes": {{key: value for key, value in attributes.items() if value is not None}},
    }}


def sync_{name}(client: ApiClient, state: dict) -> int:
    """Sync {name} changed since its cursor, one page at a time."""
    cursor = state.get("{name}_cursor", "1970-01-01T00:00:00Z")
    url = "/v1/{name}"
    params = {{"updated_since": cursor, "limit": PAGE_SIZE}}
    count = 0
    while url:
        try:
            body = client.get(url, params)
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                log.warning("{name}: endpoint not found, skipping")
                return count
            raise
        records = body.get("data", [])
        for record in records:
            op.upsert(table="{name}", data=transform_{name}(record))
        count += len(records)
        if records:
            cursor = records[-1]["updated_at"]
        state["{name}_cursor"] = cursor
        op.checkpoint(state=state)
        url, params = body.get("next"), None
    log.info(f"{name}: {{count}} records, cursor {{cursor}}")
    return count
'''

FOOTER = '''\


def update(configuration: dict, state: dict):
    client = ApiClient(configuration["base_url"], configuration["api_token"])
    started = time.monotonic()
    total = 0
{calls}
    log.info(f"synced {{total}} records in {{time.monotonic() - started:.1f}}s")


connector = Connector(update=update, schema=schema)
'''

CLIENT = '''\
"""HTTP client with retries for the generated benchmark connector."""

import time

import requests
from fivetran_connector_sdk import Logging as log

RETRYABLE = {429, 500, 502, 503, 504}


class ApiClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}"})

    def get(self, path: str, params: dict | None = None, attempts: int = 5) -> dict:
        url = path if path.startswith("http") else self.base_url + path
        for attempt in range(1, attempts + 1):
            response = self.session.get(url, params=params, timeout=(10, 60))
            if response.status_code in RETRYABLE and attempt < attempts:
                wait = int(response.headers.get("Retry-After", 2 ** attempt))
                log.warning(f"GET {url}: {response.status_code}, retrying in {wait}s")
                time.sleep(wait)
                continue
            response.raise_for_status()
            return response.json()
        raise RuntimeError(f"GET {url} failed after {attempts} attempts")
'''


def generate_connector(lines: int = TARGET_LINES) -> tuple[str, str]:
    """``(connector.py, client.py)`` texts; connector.py has at least ``lines`` lines."""
    resource_lines = len(RESOURCE.splitlines()) + len(SCHEMA_ENTRY.splitlines()) + 1
    count = max(1, (lines - 40) // resource_lines + 1)
    names = [f"resource_{index:03d}" for index in range(count)]
    calls = "\n".join(f"    total += sync_{name}(client, state)" for name in names)
    text = (HEADER.format(resources=count) + "".join(SCHEMA_ENTRY.format(name=name) for name in names)
            + "    ]\n" + "".join(RESOURCE.format(name=name) for name in names) + FOOTER.format(calls=calls))
    return text, CLIENT


def measure() -> dict[str, Any]:
    """Median seconds of ``lint_project`` on the generated connector over :data:`RUNS` runs."""
    connector, client = generate_connector()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "connector.py").write_text(connector, encoding="utf-8")
        (project / "client.py").write_text(client, encoding="utf-8")
        (project / "configuration.json").write_text(
            json.dumps({"base_url": "https://api.example.com", "api_token": "<YOUR_API_TOKEN>"}), encoding="utf-8")
        (project / "requirements.txt").write_text(textwrap.dedent("python-dateutil==2.9.0\n"), encoding="utf-8")
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            lint_project(project)
            timings.append(time.perf_counter() - started)
    return {"scenario": "lint 2,000-line connector", "seconds": round(statistics.median(timings), 4), "target": 1.0}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
