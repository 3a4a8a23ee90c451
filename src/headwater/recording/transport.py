"""Recording and replaying at requests' transport: ``requests.adapters.HTTPAdapter.send``.

Every ``requests`` call ends in an adapter's ``send`` (``requests.get``, any ``Session``, any
mounted ``HTTPAdapter`` subclass, including one with a urllib3 ``Retry``), so replacing that one
method for the duration of a ``with`` block covers a connector whatever HTTP helper it uses. The
method is restored when the block ends.

- Recording calls the real ``send`` and appends the exchange, redacted, to the recording folder.
- Replaying never calls it: the answer comes from the recording, matched on method, redacted URL
  and body hash, in recorded order for repeated identical requests. An injected failure (a fault)
  goes through the adapter's own urllib3 ``Retry`` policy as a real one would (statuses,
  Retry-After, read timeouts), so "does my retry configuration recover?" gets a true answer.
"""

from __future__ import annotations

import difflib
import functools
import io
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import requests.exceptions
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry

from headwater.recording.cassette import Cassette, CassetteWriter, Exchange, RecordedResponse, RequestKey
from headwater.recording.errors import RecordingError, ReplayLimitError, ReplayMissError, ReplayNetworkError
from headwater.recording.faults import FaultEvent, FaultInjector, FaultPlan, InjectedTimeout
from headwater.recording.redaction import Redactor, secret_values

__all__ = ["Recorder", "ReplaySession", "ServedExchange", "patched_transport"]

Secrets = Mapping[str, Any] | Iterable[str]
SendFunction = Callable[..., Response]
MAX_STORED_REQUEST_BODY = 16 * 1024
_DROPPED_RESPONSE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")

_lock = threading.Lock()
_active: Any = None


def _redactor(secrets: Secrets, names: Iterable[str] = ()) -> tuple[Redactor, list[str], list[str]]:
    """The redactor for ``secrets`` (a configuration mapping or literal values), the configuration
    keys, and the keys whose values are redacted."""
    if isinstance(secrets, Mapping):
        chosen = secret_values(secrets)
        # Every value may be the user of a basic-auth pair whose password is a secret.
        return Redactor.from_configuration(secrets, names), sorted(str(key) for key in secrets), sorted(chosen)
    return Redactor([value for value in secrets if value], names), [], []


@contextmanager
def patched_transport(handler: Any) -> Iterator[None]:
    """Route every ``HTTPAdapter.send`` to ``handler.send(adapter, original, request, **kwargs)``."""
    global _active
    with _lock:
        if _active is not None:
            raise RecordingError(
                "a recording or replay is already active in this process; end it before starting another"
            )
        original: SendFunction = HTTPAdapter.send

        @functools.wraps(original)
        def send(self: HTTPAdapter, request: PreparedRequest, stream: bool = False, timeout: Any = None,
                 verify: Any = True, cert: Any = None, proxies: Any = None) -> Response:
            response: Response = handler.send(self, original, request, stream=stream, timeout=timeout,
                                              verify=verify, cert=cert, proxies=proxies)
            return response

        setattr(HTTPAdapter, "send", send)  # noqa: B010 - mypy refuses assigning to a method
        _active = handler
    try:
        yield
    finally:
        with _lock:
            setattr(HTTPAdapter, "send", original)  # noqa: B010
            _active = None


def _body_bytes(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return None         # a file or generator upload: not hashed, matched on method and URL


def _text_headers(headers: Mapping[str, str | bytes]) -> dict[str, str]:
    return {name: value.decode("latin-1") if isinstance(value, bytes) else value for name, value in headers.items()}


def _content_type(request: PreparedRequest) -> str | None:
    value = request.headers.get("Content-Type")
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _response_headers(headers: Mapping[str, str], redactor: Redactor, length: int) -> dict[str, str]:
    kept = {name: value for name, value in redactor.headers(headers).items()
            if name.lower() not in _DROPPED_RESPONSE_HEADERS}
    kept["Content-Length"] = str(length)
    return kept


class Recorder:
    """Records every exchange of a ``with recording(...)`` block; see :func:`headwater.recording.recording`."""

    def __init__(self, folder: Any, secrets: Secrets) -> None:
        self.redactor, config_keys, redacted_keys = _redactor(secrets)
        self.writer = CassetteWriter(folder, config_keys=config_keys, redacted_keys=redacted_keys)
        self.folder = self.writer.folder
        self.run = self.writer.run

    @property
    def exchanges(self) -> int:
        """Exchanges recorded so far in this run."""
        return self.writer.count

    def send(self, adapter: HTTPAdapter, original: SendFunction, request: PreparedRequest, **kwargs: Any) -> Response:
        started = time.perf_counter()
        try:
            response = original(adapter, request, **kwargs)
            content = response.content          # read now: the body is recorded (iter_content still works)
        except requests.exceptions.RequestException as exc:
            self._append(request, None, exc, started)
            raise
        self._append(request, self._recorded(response, content), None, started)
        return response

    def _recorded(self, response: Response, content: bytes) -> RecordedResponse:
        content_type = response.headers.get("Content-Type")
        from headwater.recording.redaction import is_text_type

        body = content
        if is_text_type(content_type):
            try:
                body = self.redactor.document(content.decode("utf-8"), content_type).encode("utf-8")
            except UnicodeDecodeError:
                body = self.redactor.data(content)
        else:
            body = self.redactor.data(content)
        headers = _response_headers(dict(response.headers), self.redactor, len(body))
        return RecordedResponse(response.status_code, str(response.reason or ""), headers, body)

    def _append(self, request: PreparedRequest, response: RecordedResponse | None, error: BaseException | None,
                started: float) -> None:
        sha, text = self.redactor.body(_body_bytes(request.body), _content_type(request))
        exchange = Exchange(
            run=self.run,
            seq=0,
            method=(request.method or "GET").upper(),
            url=self.redactor.url(request.url or ""),
            request_headers=self.redactor.headers(_text_headers(request.headers)),
            body_sha256=sha,
            body=text if text is not None and len(text) <= MAX_STORED_REQUEST_BODY else None,
            response=response,
            error=None if error is None else {"type": type(error).__name__, "message": self.redactor.text(str(error))},
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
        self.writer.append(exchange)

    def close(self) -> None:
        self.writer.close(self.redactor.redacted_names)


@dataclass(frozen=True)
class ServedExchange:
    """One answer a replay gave: recorded, injected by a fault, or an error."""

    number: int                  # the request number (1 = the first request of the session)
    attempt: int                 # 1, then 2, 3... for retries made by the adapter's urllib3 Retry
    method: str
    url: str                     # redacted
    status: int | None           # None when the request raised
    body_sha256: str | None      # of the answer's body, to spot a page served again and again
    source: str                  # "recorded", "fault", "empty-page" or "error"


class ReplaySession:
    """What one replay answered; yielded by :func:`headwater.recording.replaying`.

    Attributes:
        served: every answer, in order.
        misses: the requests the recording could not answer.
        limit_error: set when the connector went past ``max_requests`` (a pagination loop?).
        fault_events: each injected fault with what the connector did about it.
        waited: seconds of (virtual, when a fault plan is active) waiting: Retry-After, backoff, sleep().
    """

    def __init__(self, cassette: Cassette, *, faults: FaultPlan | None, secrets: Secrets,
                 max_requests: int | None) -> None:
        self.cassette = cassette
        self.redactor, _, _ = _redactor(secrets, cassette.redacted_fields)
        self.injector = FaultInjector(faults, self.redactor) if faults is not None and faults.faults else None
        self.faults = faults
        self.max_requests = max_requests if max_requests is not None else max(100, 5 * len(cassette.exchanges))
        self.served: list[ServedExchange] = []
        self.misses: list[ReplayMissError] = []
        self.limit_error: ReplayLimitError | None = None
        self.requests = 0
        self.waited = 0.0
        self.virtual = faults is not None and faults.virtual_time
        self._lock = threading.RLock()
        self._exact: dict[RequestKey, deque[Exchange]] = {}
        self._wild: list[tuple[RequestKey, deque[Exchange]]] = []
        self._recorded_counts: Counter[RequestKey] = Counter()
        self._last: dict[RequestKey, Exchange] = {}
        for exchange in cassette.exchanges:
            queue = self._exact.setdefault(exchange.key, deque())
            if not queue and exchange.key.has_wildcard and not any(key == exchange.key for key, _ in self._wild):
                self._wild.append((exchange.key, queue))
            queue.append(exchange)
            self._recorded_counts[exchange.key] += 1

    @property
    def fault_events(self) -> list[FaultEvent]:
        return list(self.injector.events) if self.injector is not None else []

    # -- the transport ---------------------------------------------------------------------------

    def send(self, adapter: HTTPAdapter, original: SendFunction, request: PreparedRequest, **kwargs: Any) -> Response:
        method = (request.method or "GET").upper()
        live_url = request.url or ""
        body = _body_bytes(request.body)
        sha, text = self.redactor.body(body, _content_type(request))
        key = RequestKey.of(method, self.redactor.url(live_url), sha)
        with self._lock:
            self.requests += 1
            number = self.requests
            if self.limit_error is not None or number > self.max_requests:
                self.limit_error = ReplayLimitError(self._limit_message(key))
                raise ReplayLimitError(self.limit_error.message)
            if self.injector is not None:
                self.injector.begin(number, key, live_url, body)
        retries = adapter.max_retries if isinstance(adapter.max_retries, Retry) else Retry(0, read=False)
        attempt = 0
        while True:
            attempt += 1
            answer, injected = self._answer(number, attempt, key, method, live_url, body, text, request)
            if isinstance(answer, InjectedTimeout):
                error = ReadTimeoutError(None, live_url, "Read timed out. (injected by headwater)")  # type: ignore[arg-type]
                try:
                    retries = retries.increment(method, live_url, error=error)
                except MaxRetryError as exc:
                    raise requests.exceptions.ConnectionError(exc, request=request) from None
                except ReadTimeoutError as exc:
                    raise requests.exceptions.ReadTimeout(exc, request=request) from None
                self._wait(retries.get_backoff_time())
                continue
            raw = _urllib3_response(answer, method, live_url)
            if injected and retries.is_retry(method, answer.status, bool(answer.header("Retry-After"))):
                try:
                    retries = retries.increment(method, live_url, response=raw)
                except MaxRetryError as exc:
                    if retries.raise_on_status:
                        raise requests.exceptions.RetryError(exc, request=request) from None
                    return adapter.build_response(request, raw)
                wait = retries.get_retry_after(raw) if retries.respect_retry_after_header else None
                self._wait(wait if wait else retries.get_backoff_time())
                continue
            return adapter.build_response(request, raw)

    def _wait(self, seconds: float) -> None:
        """The wait of an emulated adapter retry: virtual when a fault plan says so."""
        if seconds <= 0:
            return
        if self.virtual:
            time.sleep(seconds)         # the virtual sleep adds it to self.waited
        else:
            with self._lock:
                self.waited += seconds
            time.sleep(seconds)

    def _answer(self, number: int, attempt: int, key: RequestKey, method: str, live_url: str, body: bytes | None,
                body_text: str | None, request: PreparedRequest) -> tuple[RecordedResponse | InjectedTimeout, bool]:
        with self._lock:
            peek = self._find(key, consume=False)
            if self.injector is not None:
                injected = self.injector.attempt(number, attempt, key, method,
                                                 peek.response if peek is not None else None)
                if injected is not None:
                    status = injected.status if isinstance(injected, RecordedResponse) else None
                    sha = _sha(injected.body) if isinstance(injected, RecordedResponse) else None
                    self._note(number, attempt, key, status, sha, "fault")
                    return injected, True
                empty = self.injector.empty_page_for(key, live_url, body, missed=peek is None)
                if empty is not None:
                    self._note(number, attempt, key, empty.status, _sha(empty.body), "empty-page")
                    return empty, False
            exchange = self._find(key, consume=True)
            if exchange is None:
                miss = self._miss(key, body_text)
                self.misses.append(miss)
                raise miss
            if self.injector is not None:
                self.injector.answered(key)
            if exchange.response is None:
                self._note(number, attempt, key, None, None, "error")
                raise _recorded_error(exchange, request)
            response = exchange.response
            if self.injector is not None:
                response = self.injector.served(number, key, live_url, response)
            self._note(number, attempt, key, response.status, _sha(response.body), "recorded")
            return response, False

    def _find(self, key: RequestKey, *, consume: bool) -> Exchange | None:
        queue = self._exact.get(key)
        if not queue:
            queue = next((candidate for recorded, candidate in self._wild if candidate and recorded.matches(key)), None)
        if queue:
            exchange = queue.popleft() if consume else queue[0]
            if consume:
                self._last[key] = exchange
            return exchange
        if self.injector is not None and self.injector.repeats(key):
            return self._last.get(key)
        return None

    def _note(self, number: int, attempt: int, key: RequestKey, status: int | None, sha: str | None,
              source: str) -> None:
        url = key.describe().split(" ", 1)[1]
        self.served.append(ServedExchange(number, attempt, key.method, url, status, sha, source))

    def _miss(self, key: RequestKey, body_text: str | None) -> ReplayMissError:
        recorded = [other for other in self._recorded_counts if other == key or other.matches(key)]
        exhausted = sum(self._recorded_counts[other] for other in recorded)
        same_url = [other for other in self._recorded_counts
                    if (other.method, other.base, other.query) == (key.method, key.base, key.query)]
        described = sorted({other.describe() for other in self._recorded_counts})
        closest = difflib.get_close_matches(key.describe(), described, n=3, cutoff=0.0)
        if same_url and not exhausted:
            closest = [f"{same_url[0].describe()} (recorded with another request body)", *closest[:2]]
        url = key.describe().split(" ", 1)[1]
        body = None if body_text is None else (body_text if len(body_text) <= 200 else body_text[:200] + "...")
        return ReplayMissError(key.method, url, folder=str(self.cassette.folder), closest=closest,
                               exhausted=exhausted, body=body)

    def _limit_message(self, key: RequestKey) -> str:
        streak = self.repeated_requests()
        where = f": the last request was {key.describe()}"
        if streak:
            url, count = streak[0]
            where = f": the connector kept requesting {url} ({count} times in a row, the same answer each time)"
        return (
            f"replay stopped the connector after {self.max_requests} requests (the recording holds "
            f"{len(self.cassette.exchanges)} exchanges){where}; a paginator that follows a repeated next link "
            "never ends: stop when a next link repeats one already fetched (a loop guard)"
        )

    def repeated_requests(self, minimum: int = 2) -> list[tuple[str, int]]:
        """Requests answered with the same successful page at least ``minimum`` times in a row,
        longest streak first, as ``("METHOD url", count)``."""
        streaks: dict[str, int] = {}
        previous: tuple[str, str | None] | None = None
        count = 0
        for exchange in self.served:
            if exchange.status is None or not 200 <= exchange.status < 300:
                previous, count = None, 0
                continue
            current = (f"{exchange.method} {exchange.url}", exchange.body_sha256)
            count = count + 1 if current == previous else 1
            previous = current
            if count >= minimum:
                streaks[current[0]] = max(streaks.get(current[0], 0), count)
        return sorted(streaks.items(), key=lambda item: -item[1])

    # -- reporting -------------------------------------------------------------------------------

    def describe(self, *, succeeded: bool | None = None, error: str | None = None) -> str:
        """A few lines for ``headwater debug --replay``: what was answered, each fault and its outcome."""
        lines = [f"replay of {self.cassette.folder}: {self.requests} request{'s' if self.requests != 1 else ''} "
                 f"answered from {len(self.cassette.exchanges)} recorded exchanges"]
        for miss in self.misses[:3]:
            lines.append(f"  not recorded: {miss.method} {miss.url}")
        for event in self.fault_events:
            lines.append(f"  fault {event.describe()}")
        if self.waited:
            virtual = " (virtual)" if self.virtual else ""
            lines.append(f"  waited {self.waited:,.1f} s{virtual} for Retry-After, backoff and sleep()")
        if self.faults is not None and succeeded is not None:
            lines.append("  " + self.verdict(succeeded=succeeded, error=error))
        return "\n".join(lines)

    def verdict(self, *, succeeded: bool, error: str | None) -> str:
        """Recovered, failed cleanly, or stopped by the replay (without comparing data: the checker does)."""
        if self.limit_error is not None:
            return f"did not end: {self.limit_error.message}"
        if self.misses:
            return f"cannot tell: the connector made a request the recording does not hold ({self.misses[0].url})"
        if succeeded:
            return "recovered: the sync succeeded despite the faults (headwater check --faults also compares the data)"
        reason = self.redactor.text(error) if error else "no error message"
        return f"failed cleanly: the sync failed and kept its last checkpoint ({reason})"


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _urllib3_response(answer: RecordedResponse, method: str, url: str) -> HTTPResponse:
    headers = {name: value for name, value in answer.headers.items()
               if name.lower() not in _DROPPED_RESPONSE_HEADERS}
    headers["Content-Length"] = str(len(answer.body))
    return HTTPResponse(body=io.BytesIO(answer.body), headers=headers, status=answer.status, reason=answer.reason,
                        preload_content=False, decode_content=False, request_method=method, request_url=url)


def _recorded_error(exchange: Exchange, request: PreparedRequest) -> requests.exceptions.RequestException:
    error = exchange.error or {}
    kind = getattr(requests.exceptions, str(error.get("type")), None)
    if not (isinstance(kind, type) and issubclass(kind, requests.exceptions.RequestException)):
        kind = requests.exceptions.ConnectionError
    message = f"{error.get('message', '')} (replayed from the recording)"
    instance: requests.exceptions.RequestException = kind(message, request=request)
    return instance


@contextmanager
def network_blocked() -> Iterator[None]:
    """Make any IPv4/IPv6 connection fail with :class:`ReplayNetworkError` (replay is offline)."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def refuse(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.close()            # the caller's cleanup only runs for OSError
            raise ReplayNetworkError(
                f"a network connection to {address!r} was opened during a replay; only requests made with the "
                "requests library are replayed: make the connector's HTTP calls through requests"
            )

    def connect(sock: socket.socket, address: Any) -> None:
        refuse(sock, address)
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        refuse(sock, address)
        return original_connect_ex(sock, address)

    setattr(socket.socket, "connect", connect)  # noqa: B010
    setattr(socket.socket, "connect_ex", connect_ex)  # noqa: B010
    try:
        yield
    finally:
        setattr(socket.socket, "connect", original_connect)  # noqa: B010
        setattr(socket.socket, "connect_ex", original_connect_ex)  # noqa: B010


@contextmanager
def virtual_sleep(session: ReplaySession) -> Iterator[None]:
    """``time.sleep`` in this thread returns at once and adds to ``session.waited``."""
    real = time.sleep
    owner = threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() != owner:
            real(seconds)
            return
        with session._lock:
            session.waited += max(0.0, float(seconds))

    setattr(time, "sleep", sleep)  # noqa: B010
    try:
        yield
    finally:
        setattr(time, "sleep", real)  # noqa: B010
