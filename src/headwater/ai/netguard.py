"""Watch and limit the HTTP requests a connector makes while the gates run it.

:class:`HttpObserver` wraps ``requests.adapters.HTTPAdapter.send`` (what every ``requests`` call goes
through) for the duration of a ``with`` block:

- without ``allow_any_host`` only loopback hosts are reachable: a run against a recording or a local
  fixture server can never reach a real API by accident; other hosts raise
  :class:`NetworkBlockedError` (a ``requests`` ``ConnectionError``);
- ``max_requests`` and ``max_seconds`` cap a live run; past them :class:`RequestCapError` is raised;
- every exchange is kept as an :class:`Exchange`: method, redacted URL, status or error, and whether
  the request carried one of the configured credentials. That is what tells a credentials problem
  (a 401 to a request that sent the configured key) from a code problem.

Entered after ``headwater.recording``'s ``recording()``/``replaying()``, it sees what they serve.

The module is also a pytest plugin: ``pytest -p headwater.ai.netguard`` runs a project's tests with
only loopback hosts reachable.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from headwater.ai.redaction import Redactor, is_sensitive_name

__all__ = [
    "Exchange",
    "HttpObserver",
    "NetworkBlockedError",
    "RequestCapError",
    "credential_values",
    "is_loopback",
]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkBlockedError(requests.exceptions.ConnectionError):
    """A request to a non-loopback host while only a recording or a local fixture may be used."""


class RequestCapError(requests.exceptions.ConnectionError):
    """A live run reached its request or time cap."""


@dataclass
class Exchange:
    """One request the connector sent, and what came back."""

    method: str
    url: str
    host: str
    status: int | None = None
    error: str | None = None
    carried_credentials: bool = False
    header_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def credential_values(configuration: Mapping[str, Any]) -> list[str]:
    """The configuration values that are credentials: under sensitive names, or named like keys and users.

    URLs are never credentials here (a base URL is sent with every request).
    """
    found: list[str] = []
    for key, value in configuration.items():
        if not isinstance(value, str) or not value.strip() or value.strip().lower().startswith(("http://", "https://")):
            continue
        lowered = str(key).lower()
        if is_sensitive_name(lowered) or any(word in lowered for word in ("key", "user", "login", "client_id")):
            found.append(value)
    return found


def _request_text(request: Any) -> str:
    parts = [str(getattr(request, "url", "") or "")]
    headers = getattr(request, "headers", None) or {}
    parts.extend(str(value) for value in headers.values())
    body = getattr(request, "body", None)
    if isinstance(body, bytes):
        parts.append(body.decode("latin-1"))
    elif isinstance(body, str):
        parts.append(body)
    return "\n".join(parts)


class HttpObserver:
    """A context manager that watches, and may limit, every ``requests`` call in this process."""

    def __init__(
        self,
        *,
        allow_any_host: bool = False,
        max_requests: int | None = None,
        max_seconds: float | None = None,
        redactor: Redactor | None = None,
        credentials: Redactor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allow_any_host = allow_any_host
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.redactor = redactor or Redactor()
        self.credentials = credentials or Redactor()
        self.clock = clock
        self.exchanges: list[Exchange] = []
        self.blocked: list[str] = []
        self.capped: str | None = None
        self._original: Any = None
        self._started = 0.0

    def __enter__(self) -> HttpObserver:
        self._original = HTTPAdapter.send
        self._started = self.clock()
        observer = self
        original = self._original

        def send(adapter: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
            return observer._send(original, adapter, request, *args, **kwargs)

        HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._original is not None:
            HTTPAdapter.send = self._original  # type: ignore[method-assign]
            self._original = None

    def _send(self, original: Any, adapter: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        url = str(getattr(request, "url", "") or "")
        host = urlsplit(url).hostname or ""
        exchange = Exchange(
            method=str(getattr(request, "method", "") or ""),
            url=self.redactor.query(url),
            host=host,
            carried_credentials=self.credentials.contains_secret(_request_text(request)),
            header_names=sorted(str(name) for name in (getattr(request, "headers", None) or {})),
        )
        self.exchanges.append(exchange)
        if not self.allow_any_host and not is_loopback(host):
            self.blocked.append(host)
            exchange.error = "blocked"
            raise NetworkBlockedError(
                f"headwater blocked a request to {host}: without --live only a recording or a local (loopback) "
                "server may be used", request=request)
        if self.max_requests is not None and len(self.exchanges) > self.max_requests:
            self.capped = f"{self.max_requests} requests"
            exchange.error = "capped"
            raise RequestCapError(f"headwater's live-run cap of {self.max_requests} requests was reached",
                                  request=request)
        if self.max_seconds is not None and self.clock() - self._started > self.max_seconds:
            self.capped = f"{self.max_seconds:g} seconds"
            exchange.error = "capped"
            raise RequestCapError(f"headwater's live-run cap of {self.max_seconds:g} seconds was reached",
                                  request=request)
        try:
            response = original(adapter, request, *args, **kwargs)
        except Exception as exc:
            exchange.error = type(exc).__name__
            raise
        exchange.status = int(getattr(response, "status_code", 0) or 0) or None
        return response


_PLUGIN_GUARD: HttpObserver | None = None


def pytest_configure(config: Any) -> None:
    """pytest plugin hook: only loopback hosts are reachable while the tests run."""
    global _PLUGIN_GUARD
    _PLUGIN_GUARD = HttpObserver(allow_any_host=False).__enter__()


def pytest_unconfigure(config: Any) -> None:
    """pytest plugin hook: restore ``HTTPAdapter.send``."""
    global _PLUGIN_GUARD
    if _PLUGIN_GUARD is not None:
        _PLUGIN_GUARD.__exit__(None, None, None)
        _PLUGIN_GUARD = None
