"""Inside urllib3's connection pools: the deadline of each attempt, and the body read within it.

A socket's read timeout restarts with every byte, so a server that trickles its headers or its body
a byte at a time never trips it. Each attempt therefore also gets a deadline: a watchdog thread
shuts the attempt's socket down when the deadline passes, which wakes the blocked read, and the
attempt raises :class:`DeadlineExceeded` (a read timeout, so urllib3 retries it as one).

The body of a response that is not streamed is read inside the attempt too (requests would read it
after urllib3 returns, outside the retries): a body cut short then raises
:class:`ResponseBodyBroken` (a protocol error, so urllib3 retries it like a dropped connection, for
the methods the policy retries), and the deadline covers connect, headers and body together.

The pools are urllib3's own with one method overridden; an :class:`AttemptTimeout` passed as the
request's timeout turns the behaviour on, anything else leaves urllib3 as it is.
"""

from __future__ import annotations

import heapq
import io
import itertools
import socket
import threading
import time
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from urllib3 import connectionpool
from urllib3.exceptions import ConnectTimeoutError, ProtocolError, ReadTimeoutError
from urllib3.poolmanager import PoolManager
from urllib3.poolmanager import pool_classes_by_scheme as _URLLIB3_POOL_CLASSES
from urllib3.response import BaseHTTPResponse, HTTPResponse
from urllib3.util.timeout import Timeout

if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = ["AttemptTimeout", "DeadlineExceeded", "ResponseBodyBroken", "use_attempt_pools"]

# How often a deadline that passed before the connection had a socket checks again for one.
_RECHECK_SECONDS = 0.05


class DeadlineExceeded(ReadTimeoutError):
    """An attempt took longer than its deadline (connect, headers and body together)."""

    def __init__(self, pool: Any, url: str | None, deadline: float) -> None:
        super().__init__(pool, url, f"the attempt took longer than its deadline of {deadline:g} s "
                                    "(connect, headers and body together)")
        self.deadline = deadline


class ResponseBodyBroken(ProtocolError):
    """The connection broke while the response body was read: fewer bytes than ``Content-Length``
    announced, or a chunked body without its last chunk."""


class AttemptTimeout(Timeout):
    """A urllib3 ``Timeout`` that also carries the deadline of each attempt and whether the
    response body is read within the attempt (not for a streamed response)."""

    def __init__(self, connect: float | None, read: float | None, *, deadline: float | None,
                 buffer_body: bool = True) -> None:
        # Connecting can never use more than the whole deadline.
        if deadline is not None and connect is not None:
            connect = min(connect, deadline)
        super().__init__(connect=connect, read=read)
        self.deadline = deadline
        self.buffer_body = buffer_body

    def clone(self) -> AttemptTimeout:
        # urllib3 clones the timeout for every attempt; a plain clone would lose the deadline.
        return AttemptTimeout(self.connect_timeout, self.read_timeout,  # type: ignore[arg-type]
                              deadline=self.deadline, buffer_body=self.buffer_body)

    def __repr__(self) -> str:
        return f"AttemptTimeout(connect={self._connect!r}, read={self._read!r}, deadline={self.deadline!r})"


class _Watch:
    """The deadline of one attempt on one connection."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.fired = False
        self.stopped = False

    def stop(self) -> bool:
        """End the watch; whether the deadline had passed."""
        with self._lock:
            self.stopped = True
            return self.fired

    def fire(self) -> bool:
        """The deadline passed: shut the socket down. False when there is no socket yet (the connect
        is under way, bounded by the connect timeout), to be tried again shortly."""
        with self._lock:
            if self.stopped:
                return True
            self.fired = True
            sock = getattr(self._conn, "sock", None)
            if sock is None:
                return False
            raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
            if isinstance(raw, socket.socket):
                try:
                    # socket.socket's own shutdown, also for an SSLSocket: only the descriptor is
                    # shut down, which wakes a read blocked on it in another thread.
                    socket.socket.shutdown(raw, socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed
            return True


class _Watchdog:
    """One daemon thread firing the watches whose deadlines passed, in deadline order."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._compact_at = 256

    def watch(self, conn: Any, seconds: float) -> _Watch:
        watch = _Watch(conn)
        self._schedule(time.monotonic() + seconds, watch)
        return watch

    def _schedule(self, when: float, watch: _Watch) -> None:
        with self._condition:
            if len(self._heap) >= self._compact_at:  # drop the stopped watches that piled up
                self._heap = [entry for entry in self._heap if not entry[2].stopped]
                heapq.heapify(self._heap)
                self._compact_at = max(256, 2 * len(self._heap))
            heapq.heappush(self._heap, (when, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="headwater-http-deadlines", daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][2].stopped:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                when, _, watch = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                heapq.heappop(self._heap)
            if not watch.fire():
                self._schedule(time.monotonic() + _RECHECK_SECONDS, watch)


_WATCHDOG = _Watchdog()


def _attempt(pool: connectionpool.HTTPConnectionPool, make: Callable[..., BaseHTTPResponse], conn: Any,
             method: str, url: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> BaseHTTPResponse:
    """One attempt (``_make_request``) under its deadline, the body read within it unless streamed."""
    limits = kwargs.get("timeout")
    if not isinstance(limits, AttemptTimeout) or limits.deadline is None:
        return make(conn, method, url, *args, **kwargs)
    buffer_body = limits.buffer_body and kwargs.get("preload_content") is False
    keeper = kwargs.get("response_conn")
    if buffer_body:
        # The body is read here, so the connection goes back to the pool here, once the read is done.
        kwargs["response_conn"] = None
    watch = _WATCHDOG.watch(conn, limits.deadline)
    try:
        response = make(conn, method, url, *args, **kwargs)
        if buffer_body:
            response = _read_body(pool, response, method)
    except BaseException as exc:
        # A connect that timed out or failed stays a connect error (retried for every method: the
        # server never saw the request), even when the deadline passed meanwhile.
        if watch.stop() and not isinstance(exc, ConnectTimeoutError):
            raise DeadlineExceeded(pool, url, limits.deadline) from exc
        raise
    if watch.stop():
        # The read ended when the socket was shut down, as if the server had closed the connection.
        raise DeadlineExceeded(pool, url, limits.deadline)
    if buffer_body and keeper is not None:
        pool._put_conn(keeper)
    return response


def _read_body(pool: connectionpool.HTTPConnectionPool, response: BaseHTTPResponse, method: str) -> BaseHTTPResponse:
    """The whole (undecoded) body read now, in a response that serves it from memory."""
    try:
        data = response.read(decode_content=False)
    except ProtocolError as exc:
        inner = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], BaseException) else None
        detail = repr(inner) if inner is not None else str(exc)
        raise ResponseBodyBroken(f"the connection broke while the response body was read ({detail})") from exc
    except HTTPException as exc:  # not wrapped by urllib3 in every version
        raise ResponseBodyBroken(f"the connection broke while the response body was read ({exc!r})") from exc
    # urllib3 before 2.3 has no version_string.
    version_string: dict[str, Any] = (
        {"version_string": response.version_string} if hasattr(response, "version_string") else {})
    return HTTPResponse(
        body=io.BytesIO(data),
        headers=response.headers,
        status=response.status,
        version=response.version,
        reason=response.reason,
        preload_content=False,
        decode_content=False,
        # requests reads the cookies from the http.client response.
        original_response=getattr(response, "_original_response", None),
        pool=pool,
        connection=None,
        msg=getattr(response, "msg", None),
        retries=response.retries,
        request_method=method,
        request_url=response.url,
        **version_string,
    )


# Named as urllib3's, since their names show in exception messages ("HTTPConnectionPool(host=...)").
class HTTPConnectionPool(connectionpool.HTTPConnectionPool):
    """urllib3's pool, each attempt under its deadline and reading the body within it."""

    def _make_request(self, conn: Any, method: str, url: str, *args: Any,
                      **kwargs: Any) -> BaseHTTPResponse:
        return _attempt(self, super()._make_request, conn, method, url, args, kwargs)


class HTTPSConnectionPool(connectionpool.HTTPSConnectionPool):
    """urllib3's pool, each attempt under its deadline and reading the body within it."""

    def _make_request(self, conn: Any, method: str, url: str, *args: Any,
                      **kwargs: Any) -> BaseHTTPResponse:
        return _attempt(self, super()._make_request, conn, method, url, args, kwargs)


_POOL_CLASSES = {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}


def use_attempt_pools(manager: PoolManager) -> None:
    """Have ``manager`` create the pools above (unless it uses pools of its own, as for SOCKS)."""
    if manager.pool_classes_by_scheme == _URLLIB3_POOL_CLASSES:
        manager.pool_classes_by_scheme = _POOL_CLASSES
