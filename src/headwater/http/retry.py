"""Retries: :class:`RetryPolicy`, and the urllib3 ``Retry`` it builds for the client's adapter.

What is retried: connection errors (refused, reset, connect and read timeouts), and the statuses
408, 429 and 5xx. Connect errors are retried for every method (the server never saw the request);
read errors and statuses only for the policy's ``methods``, idempotent ones by default, so a POST
that may have been processed is not sent twice unless you say so.

How long to wait: the server's ``Retry-After`` when it sends one (seconds or an HTTP date), but at
least ``min_retry_after`` so ``Retry-After: 0`` cannot make the client spin; otherwise exponential
backoff with full jitter, a uniform random wait between 0 and
``min(backoff_max, backoff_factor * 2 ** (failures - 1))``. When the next wait would end more than
``max_total_seconds`` after the first failure, the client stops retrying and raises.

Why urllib3's ``Retry`` rather than tenacity: requests already depends on urllib3, so this adds no
dependency; and ``Retry`` runs inside the connection pool, where it sees the real cause of a failure
(connect versus read error, before requests wraps it), drains and reuses connections, and rewinds
request bodies. tenacity would have to wrap the whole ``Session.request`` and re-derive all of that
from requests' exceptions. What ``Retry`` lacks, :class:`HeadwaterRetry` adds by overriding a few
of its documented methods: full jitter (``backoff_jitter`` only *adds* up to a fixed random amount
to the exponential value), an injectable clock and sleep, the ``Retry-After`` floor, the cap on the
total time, and a rate-limit slot before every retry.
"""

from __future__ import annotations

import email.utils
import math
import random as _random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from itertools import takewhile
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import requests
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from headwater.http.errors import HttpConfigError
from headwater.http.ratelimit import RateLimit, host_key

if TYPE_CHECKING:
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "IDEMPOTENT_METHODS",
    "HeadwaterRetry",
    "RetriesExhausted",
    "RetryOutcome",
    "RetryPolicy",
]

#: 408 Request Timeout, 429 Too Many Requests and every 5xx.
DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({408, 429, *range(500, 600)})
#: Methods that may be sent twice without changing the result (RFC 9110 9.2.2).
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"})

StopReason = Literal["attempts", "time"]
_R = TypeVar("_R", bound="HeadwaterRetry")


@dataclass(frozen=True)
class RetryPolicy:
    """How an :class:`HttpClient` retries: attempts, backoff, ``Retry-After`` and a time cap.

    >>> RetryPolicy()                                        # 5 attempts, at most 300 s of retrying
    >>> RetryPolicy(max_attempts=8, max_total_seconds=900)   # a patient sync
    >>> RetryPolicy(methods=None)                            # also retry POST (a search endpoint)
    >>> RetryPolicy(max_attempts=1)                          # no retries

    Args:
        max_attempts: how many times a request is sent at most, the first time included.
        backoff_factor: the first retry waits up to this many seconds; each further one up to twice
            as long as the one before (full jitter: a uniform random wait below that ceiling).
        backoff_max: the ceiling never grows past this many seconds.
        max_total_seconds: no wait starts that would end more than this many seconds after the
            first failed attempt; ``None`` for no cap.
        min_retry_after: the shortest wait when the server sends ``Retry-After`` (also ``0``).
        statuses: the statuses that are retried.
        methods: the methods whose read errors and statuses are retried (connect errors always are);
            ``None`` for every method.
        clock, wall_clock, sleep, random: monotonic time, Unix time (for ``Retry-After`` dates), the
            sleep between attempts and the jitter's random source, injectable for tests.
    """

    max_attempts: int = 5
    backoff_factor: float = 1.0
    backoff_max: float = 60.0
    max_total_seconds: float | None = 300.0
    min_retry_after: float = 1.0
    statuses: Collection[int] = DEFAULT_RETRY_STATUSES
    methods: Collection[str] | None = IDEMPOTENT_METHODS
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise HttpConfigError(
                f"RetryPolicy(max_attempts={self.max_attempts!r}) must be a whole number of at least 1 "
                "(1 means no retries)"
            )
        for name in ("backoff_factor", "backoff_max"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise HttpConfigError(f"RetryPolicy({name}={value!r}) must be a number of seconds, 0 or more")
        if self.max_total_seconds is not None and not self.max_total_seconds > 0:
            raise HttpConfigError(
                f"RetryPolicy(max_total_seconds={self.max_total_seconds!r}) must be above 0, or None for no cap"
            )
        if not (isinstance(self.min_retry_after, (int, float)) and self.min_retry_after > 0):
            raise HttpConfigError(
                f"RetryPolicy(min_retry_after={self.min_retry_after!r}) must be above 0, so that "
                "'Retry-After: 0' cannot make the client retry in a tight loop"
            )
        statuses = frozenset(self.statuses)
        bad = sorted(status for status in statuses if not (isinstance(status, int) and 100 <= status <= 599))
        if bad:
            raise HttpConfigError(f"RetryPolicy(statuses=...) holds {bad}, which are not HTTP statuses (100-599)")
        object.__setattr__(self, "statuses", statuses)
        if self.methods is not None:
            if isinstance(self.methods, str) or not self.methods:
                raise HttpConfigError(
                    f"RetryPolicy(methods={self.methods!r}) must be a non-empty collection of method names "
                    "such as {'GET', 'POST'}, or None to retry every method"
                )
            object.__setattr__(self, "methods", frozenset(method.upper() for method in self.methods))

    def retries_method(self, method: str) -> bool:
        """Whether read errors and statuses of ``method`` are retried."""
        return self.methods is None or method.upper() in self.methods

    def parse_retry_after(self, value: str) -> float | None:
        """Seconds to wait for a ``Retry-After`` value (delay-seconds or an HTTP date), ``None``
        when it is neither. A date in the past gives 0."""
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            parsed = email.utils.parsedate_tz(text)
            if parsed is None:
                return None
            seconds = email.utils.mktime_tz(parsed) - self.wall_clock()
        if not math.isfinite(seconds):
            return None
        return max(seconds, 0.0)

    def build(self, limiter: RateLimit | None = None) -> HeadwaterRetry:
        """The urllib3 ``Retry`` to mount on an ``HTTPAdapter``; ``limiter`` gets a slot before each retry."""
        return HeadwaterRetry(
            total=self.max_attempts - 1,
            # Errors that are neither connect nor read errors (a TLS certificate refused) never heal.
            other=0,
            allowed_methods=self.methods,
            status_forcelist=self.statuses,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            # The last response comes back, so the client raises a typed error with its status and body.
            raise_on_status=False,
            respect_retry_after_header=True,
            policy=self,
            limiter=limiter,
        )


class RetriesExhausted(MaxRetryError):
    """urllib3's ``MaxRetryError`` that also says how many attempts were made and what stopped them."""

    def __init__(
        self,
        pool: ConnectionPool | None,
        url: str | None,
        reason: Exception | None,
        *,
        attempts: int,
        stopped_by: StopReason,
    ) -> None:
        super().__init__(pool, url, reason)  # type: ignore[arg-type]  # urllib3 allows pool None at runtime
        self.attempts = attempts
        self.stopped_by: StopReason = stopped_by


class HeadwaterRetry(Retry):
    """urllib3 ``Retry`` following a :class:`RetryPolicy`; built by :meth:`RetryPolicy.build`.

    Besides the counters urllib3 keeps, each instance carries the policy, the rate limit, the time
    of the first failure and the host, which :meth:`new` hands on to the next instance.
    """

    def __init__(
        self,
        *args: Any,
        policy: RetryPolicy | None = None,
        limiter: RateLimit | None = None,
        first_failure_at: float | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy if policy is not None else RetryPolicy()
        self.limiter = limiter
        self.first_failure_at = first_failure_at
        self.host = host
        #: The wait chosen by :meth:`increment` for the retry this instance stands for.
        self.planned_wait: float | None = None

    def new(self: _R, **kw: Any) -> _R:
        kw.setdefault("policy", self.policy)
        kw.setdefault("limiter", self.limiter)
        kw.setdefault("first_failure_at", self.first_failure_at)
        kw.setdefault("host", self.host)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # Only the policy's statuses: urllib3 would also retry 413 when it carries Retry-After.
        return self.policy.retries_method(method) and status_code in self.status_forcelist

    def get_backoff_time(self) -> float:
        """Full jitter: uniform in [0, min(backoff_max, backoff_factor * 2 ** (failures - 1)))."""
        failures = sum(1 for _ in takewhile(lambda item: item.redirect_location is None, reversed(self.history)))
        if failures == 0:
            return 0.0
        ceiling = min(float(self.backoff_max), self.backoff_factor * 2.0 ** (failures - 1))
        return self.policy.random() * ceiling

    def parse_retry_after(self, retry_after: str) -> float:
        seconds = self.policy.parse_retry_after(retry_after)
        if seconds is None:
            raise InvalidHeader(f"Invalid Retry-After header: {retry_after}")
        return min(seconds, float(self.retry_after_max))

    def wait_before_retry(self, response: BaseHTTPResponse | None) -> float:
        """The wait before the next attempt: the server's Retry-After (at least
        ``min_retry_after``), or else the jittered backoff."""
        if response is not None and self.respect_retry_after_header:
            try:
                asked = self.get_retry_after(response)
            except InvalidHeader:
                asked = None  # unreadable: back off as if the server had said nothing
            if asked is not None:
                return max(asked, self.policy.min_retry_after)
        return self.get_backoff_time()

    def increment(
        self: _R,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> _R:
        host = self.host
        if _pool is not None and _pool.host:
            host = host_key(_pool.scheme or "http", _pool.host, _pool.port)
        if response is not None and self.limiter is not None and host is not None:
            self.limiter.observe(host, response.headers)
        now = self.policy.clock()
        first_failure_at = self.first_failure_at if self.first_failure_at is not None else now
        attempts = len(self.history) + 1
        try:
            retry = super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError as exc:
            raise RetriesExhausted(_pool, url, exc.reason, attempts=attempts, stopped_by="attempts") from exc.reason
        retry.first_failure_at = first_failure_at
        retry.host = host
        wait = retry.wait_before_retry(response)
        cap = self.policy.max_total_seconds
        if cap is not None and now - first_failure_at + wait > cap:
            reason = error or ResponseError(ResponseError.SPECIFIC_ERROR.format(
                status_code=response.status if response is not None else "unknown"))
            raise RetriesExhausted(_pool, url, reason, attempts=attempts, stopped_by="time")
        retry.planned_wait = wait
        return retry

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = self.planned_wait if self.planned_wait is not None else self.wait_before_retry(response)
        if wait > 0:
            self.policy.sleep(wait)
        if self.limiter is not None and self.host is not None:
            self.limiter.acquire(self.host)


@dataclass(frozen=True)
class RetryOutcome:
    """How a request's retries went, for messages: attempts made, what stopped the retries
    (``"attempts"``, ``"time"``, or ``None`` when the failure was not retried), and the wait the
    server asked for last (``Retry-After``), in seconds."""

    attempts: int = 1
    stopped_by: StopReason | None = None
    retry_after: float | None = None

    @classmethod
    def of_response(cls, policy: RetryPolicy, method: str, response: requests.Response) -> RetryOutcome:
        """The outcome of a request that ended with ``response``.

        urllib3 hands back the last response when retrying stops, with the ``Retry`` that sent it;
        its history counts the failed attempts before it. If the status was retryable and attempts
        were left, the time cap is what stopped the retries."""
        retries = getattr(response.raw, "retries", None)
        history = retries.history if isinstance(retries, Retry) else ()
        attempts = sum(1 for item in history if item.redirect_location is None) + 1
        header = response.headers.get("Retry-After")
        retry_after = policy.parse_retry_after(header) if header is not None else None
        stopped_by: StopReason | None = None
        if response.status_code in policy.statuses and policy.retries_method(method):
            stopped_by = "attempts" if attempts >= policy.max_attempts else "time"
        return cls(attempts, stopped_by, retry_after)

    @classmethod
    def of_exception(cls, exc: BaseException) -> RetryOutcome:
        """The outcome of a request that raised ``exc`` (a requests exception wrapping urllib3's)."""
        seen: set[int] = set()
        pending: list[BaseException] = [exc]
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            if isinstance(current, RetriesExhausted):
                return cls(current.attempts, current.stopped_by)
            pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
            pending.extend(link for link in (current.__cause__, current.__context__) if link is not None)
        return cls()
