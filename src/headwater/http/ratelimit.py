"""A proactive, per-host request budget that also follows the rate-limit headers hosts send.

Two rules decide when a request to a host may go, and the stricter wins:

- **A budget** ``RateLimit(requests=10, per=1.0)``: at most 10 requests in any 1 second window, to
  each host separately (a sliding window, so there are no bursts at window edges);
- **The host's own word**: when a response says ``X-RateLimit-Remaining: 0`` (or
  ``RateLimit-Remaining: 0``), the next request to that host waits until ``X-RateLimit-Reset``
  (or ``RateLimit-Reset``), read as seconds from now, or as a Unix time when it is that large.

Every attempt counts, retries included: the client takes a slot before each one. When a host's
headers ask for a wait longer than ``max_wait``, :class:`~headwater.http.RateBudgetError` is raised
instead of sleeping through it (the budget's own waits are never longer than ``per``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from headwater.http.errors import HttpConfigError, RateBudgetError
from headwater.log import Level, emit

__all__ = ["RateLimit", "host_key", "host_key_of_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REMAINING_HEADERS = ("x-ratelimit-remaining", "ratelimit-remaining")
_RESET_HEADERS = ("x-ratelimit-reset", "ratelimit-reset")
# A reset value above this is a Unix time (seconds since 1970, i.e. after 2001), not a delay.
_EPOCH_SECONDS = 1_000_000_000
_EPOCH_MILLISECONDS = 1_000_000_000_000


def host_key(scheme: str, host: str, port: int | None) -> str:
    """``host:port`` as the rate limit keys hosts (the port defaults by scheme)."""
    host = host.lower().strip("[]")
    port = port or _DEFAULT_PORTS.get(scheme.lower(), 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_key_of_url(url: str) -> str:
    parts = urlsplit(url)
    return host_key(parts.scheme, parts.hostname or "", parts.port)


@dataclass
class _HostState:
    sent: deque[float] = field(default_factory=deque)
    blocked_until: float = float("-inf")
    blocked_by: str = ""


class RateLimit:
    """At most ``requests`` requests per ``per`` seconds to each host, and a pause whenever a host
    says no requests are left until its reset.

    >>> limit = RateLimit(requests=5, per=1.0)        # 5 requests a second per host
    >>> headers_only = RateLimit()                    # only follow X-RateLimit-* headers

    Args:
        requests: how many requests a host gets per window; ``None`` for no budget of our own.
        per: the window, in seconds.
        use_headers: follow ``X-RateLimit-Remaining``/``-Reset`` and ``RateLimit-Remaining``/``-Reset``.
        max_wait: the longest wait, in seconds, that a host's headers may impose before a request; a
            longer one raises :class:`RateBudgetError` (``None``: wait however long the host says).
        clock, wall_clock, sleep: monotonic time, Unix time and sleep, injectable for tests.
    """

    def __init__(
        self,
        requests: int | None = None,
        per: float = 1.0,
        *,
        use_headers: bool = True,
        max_wait: float | None = 900.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests is not None and (isinstance(requests, bool) or not isinstance(requests, int) or requests < 1):
            raise HttpConfigError(
                f"RateLimit(requests={requests!r}) must be a whole number of at least 1, or None for no budget"
            )
        if not per > 0:
            raise HttpConfigError(f"RateLimit(per={per!r}) must be a number of seconds above 0")
        if max_wait is not None and not max_wait > 0:
            raise HttpConfigError(f"RateLimit(max_wait={max_wait!r}) must be a number of seconds above 0, "
                                  "or None to wait as long as the host says")
        self.requests = requests
        self.per = float(per)
        self.use_headers = use_headers
        self.max_wait = max_wait
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostState] = {}

    def __repr__(self) -> str:
        return (f"RateLimit(requests={self.requests!r}, per={self.per!r}, use_headers={self.use_headers!r}, "
                f"max_wait={self.max_wait!r})")

    def acquire(self, host: str) -> float:
        """Wait until a request to ``host`` (a :func:`host_key`) may go, and count it; returns the
        seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                state = self._hosts.setdefault(host, _HostState())
                now = self._clock()
                while state.sent and state.sent[0] <= now - self.per:
                    state.sent.popleft()
                budget_wait = 0.0
                if self.requests is not None and len(state.sent) >= self.requests:
                    budget_wait = state.sent[0] + self.per - now
                header_wait = state.blocked_until - now
                if budget_wait <= 0 and header_wait <= 0:
                    if self.requests is not None:
                        state.sent.append(now)
                    return waited
                blocked_by = state.blocked_by
            if header_wait >= budget_wait:
                wait = header_wait
                reason = f"{host} has no requests left ({blocked_by})"
                level = Level.INFO
            else:
                wait = budget_wait
                reason = f"{host} is at its budget of {self.requests} requests per {self.per:g} s"
                level = Level.DEBUG
            if self.max_wait is not None and header_wait > self.max_wait:
                raise RateBudgetError(
                    f"{reason}; the next request would wait {wait:.1f} s, longer than "
                    f"RateLimit(max_wait={self.max_wait:g}); run the sync later or raise max_wait",
                    host=host,
                    wait_seconds=wait,
                )
            emit(level, f"rate limit: {reason}; waiting {wait:.2f} s", origin="connector")
            self._sleep(wait)
            waited += wait

    def observe(self, host: str, headers: Mapping[str, str]) -> None:
        """Read a response's rate-limit headers: when none are left, block ``host`` until the reset."""
        if not self.use_headers:
            return
        lowered = {name.lower(): value for name, value in headers.items()}
        remaining_header = next((name for name in _REMAINING_HEADERS if name in lowered), None)
        if remaining_header is None:
            return
        remaining = _number(lowered[remaining_header])
        if remaining is None or remaining > 0:
            return
        reset_header = next((name for name in _RESET_HEADERS if name in lowered), None)
        reset = _number(lowered[reset_header]) if reset_header is not None else None
        if reset is None:
            # Nothing says when to try again: the 429 and its Retry-After will pace the client.
            return
        if reset > _EPOCH_MILLISECONDS:
            delay = reset / 1000 - self._wall_clock()
        elif reset > _EPOCH_SECONDS:
            delay = reset - self._wall_clock()
        else:
            delay = reset
        if delay <= 0:
            return
        with self._lock:
            state = self._hosts.setdefault(host, _HostState())
            until = self._clock() + delay
            if until > state.blocked_until:
                state.blocked_until = until
                state.blocked_by = (f"{_title(remaining_header)}: {lowered[remaining_header]}, "
                                    f"{_title(reset_header or '')}: {lowered[reset_header or '']}")


def _number(text: str) -> float | None:
    # Some hosts send a list ("0, 0;w=60"); the first item is the one that applies.
    head = text.split(",")[0].split(";")[0].strip()
    try:
        value = float(head)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _title(header: str) -> str:
    return "-".join("RateLimit" if part == "ratelimit" else part.upper() if part == "x" else part.title()
                    for part in header.split("-"))
