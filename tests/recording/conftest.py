"""Fixtures for the recording tests; the API and the connectors are in ``loopback_api.py``.

- ``api``: a started :class:`loopback_api.ItemsApi` on its own port; ``api.stop()`` takes it offline.
- ``configuration``: the configuration for ``api``.
- ``make_project(name)``: a project folder with ``connector.py`` from ``SOURCES`` (by name) or
  from the source text given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from loopback_api import API_KEY, SOURCES, TOKEN, ItemsApi, write_project


@pytest.fixture
def api() -> Iterator[ItemsApi]:
    server = ItemsApi()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def configuration(api: ItemsApi) -> dict[str, str]:
    return {"base_url": api.url, "api_key": API_KEY, "token": TOKEN, "page_size": "3"}


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Path]:
    """``make_project("correct")``: a project folder holding one of :data:`SOURCES` (or any source)."""

    def make(source: str) -> Path:
        return write_project(tmp_path / (source if source in SOURCES else "project"), source)

    return make


