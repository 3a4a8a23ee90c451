"""Helpers for the headwater.http tests: a fake clock, a raw socket server, a log capture.

Every test talks to a real server on the loopback interface: pytest-httpserver's ``httpserver`` for
HTTP behaviour, :class:`RawServer` for what HTTP servers don't do on purpose (drop the connection,
never answer). Time is faked by :class:`FakeTime`, so ``Retry-After: 30`` is a recorded 30 s sleep.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from headwater.http import HttpClient, RateLimit, RetryPolicy
from headwater.log import Level, LogPrinter, use_printer

WALL_START = 1_700_000_000.0


class FakeTime:
    """A monotonic clock, a wall clock and a sleep that only moves the clocks and records the wait."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL_START + (self.now - 1_000.0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def policy(self, **options: Any) -> RetryPolicy:
        """A RetryPolicy on this clock, with jitter fixed at half the ceiling unless given."""
        options.setdefault("random", lambda: 0.5)
        return RetryPolicy(clock=self.monotonic, wall_clock=self.time, sleep=self.sleep, **options)

    def rate_limit(self, *args: Any, **options: Any) -> RateLimit:
        return RateLimit(*args, clock=self.monotonic, wall_clock=self.time, sleep=self.sleep, **options)

    def client(self, base_url: str, *, retry: RetryPolicy | None = None, **options: Any) -> HttpClient:
        return HttpClient(base_url, retry=retry if retry is not None else self.policy(), **options)


class LogCapture:
    """Every log line written while installed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.printer = LogPrinter(self.stream, min_level=Level.DEBUG)

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


@contextmanager
def capture_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    previous = use_printer(capture.printer)
    try:
        yield capture
    finally:
        use_printer(previous)


def _ok_response() -> bytes:
    body = b'{"ok": true}'
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    return head + body


#: The body of ``"trickle-body"``: forty bytes, one sent every ``interval`` seconds.
TRICKLED_BODY = b'{"data": "' + b"x" * 28 + b'"}'


class RawServer:
    """A TCP server on 127.0.0.1 that treats each connection as its script says, in turn:

    - ``"drop"``: read the request, then close the connection without a response;
    - ``"hang"``: read the request and never answer (until the server stops);
    - ``"ok"``: answer ``200 {"ok": true}``;
    - ``"trickle-headers"``: send the status line, then header bytes one every ``interval`` seconds,
      never ending the headers;
    - ``"trickle-body"``: send the headers (``Content-Length: 40``), then the body one byte every
      ``interval`` seconds (40 bytes: 20 s at the default 0.5 s);
    - ``"short-body"``: announce ``Content-Length: 100``, send 13 bytes, close the connection;
    - ``"broken-chunked"``: send a chunked body's first chunk, close before the last (empty) one.

    The last action repeats for any further connection. Each connection is served by a thread of
    its own, so a client's retry is answered while an earlier connection still trickles.
    """

    def __init__(self, script: list[str], *, interval: float = 0.5) -> None:
        self.script = script
        self.interval = interval
        self.connections = 0
        #: The first line of each request, in order (``b"GET /x HTTP/1.1"``).
        self.request_lines: list[bytes] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.1)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        self._handlers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                action = self.script[min(self.connections, len(self.script) - 1)]
                self.connections += 1
                self._held.append(connection)
            handler = threading.Thread(target=self._handle, args=(connection, action), daemon=True)
            self._handlers.append(handler)
            handler.start()

    def _handle(self, connection: socket.socket, action: str) -> None:
        connection.settimeout(2)
        try:
            request = self._read_request(connection)
            with self._lock:
                self.request_lines.append(request.split(b"\r\n", 1)[0])
            if action == "ok":
                connection.sendall(_ok_response())
            elif action == "trickle-headers":
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                self._trickle(connection, b"X-Slow: " + b"y" * 1000)
            elif action == "trickle-body":
                connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   f"Content-Length: {len(TRICKLED_BODY)}\r\n\r\n".encode())
                self._trickle(connection, TRICKLED_BODY)
            elif action == "short-body":
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 100\r\n\r\n" + b'{"data": [1, ')
            elif action == "broken-chunked":
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n" + b"d\r\n" + b'{"data": [1, ' + b"\r\n")
            elif action == "hang":
                self._stop.wait()
        except OSError:
            pass
        finally:
            if action != "hang":
                connection.close()

    @staticmethod
    def _read_request(connection: socket.socket) -> bytes:
        """The whole request, body included: closing with unread bytes would reset the connection."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def _trickle(self, connection: socket.socket, data: bytes) -> None:
        for index in range(len(data)):
            if self._stop.wait(self.interval):
                return
            connection.sendall(data[index:index + 1])
        self._stop.wait()  # everything sent: keep the connection open, as a slow server would

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for handler in self._handlers:
            handler.join(timeout=5)
        with self._lock:
            for connection in self._held:
                connection.close()
        self._socket.close()


def refused_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

