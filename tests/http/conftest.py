"""Fixtures of the headwater.http tests (helpers are in http_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from http_helpers import FakeTime, LogCapture, RawServer, capture_logs
from pytest_httpserver import HTTPServer


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    with capture_logs() as capture:
        yield capture


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """pytest-httpserver, failing the test if a request matched no handler or came out of order."""
    yield httpserver
    httpserver.check_assertions()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Start a :class:`RawServer`: ``raw_server(["drop", "ok"])``, ``raw_server(["trickle-body"], interval=0.5)``."""
    started: list[RawServer] = []

    def start(script: list[str], *, interval: float = 0.5) -> RawServer:
        raw = RawServer(script, interval=interval)
        started.append(raw)
        return raw

    yield start
    for raw in started:
        raw.stop()
