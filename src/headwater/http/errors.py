"""Errors raised by :mod:`headwater.http`, every one a :class:`~headwater.errors.HeadwaterError`.

::

    HttpError                          root of the HTTP errors; retryable = False
    ├── HttpConfigError(ValueError)    a client, policy, rate limit, paginator or auth got a bad argument
    ├── InvalidRequestError(ValueError) the request could not be built: bad URL, scheme, header or body
    ├── TransportError                 no usable response: refused, reset, TLS, body cut short; retryable
    │   └── HttpTimeoutError           the connect or read timeout, or the attempt's deadline, passed; retryable
    ├── RedirectLoopError              the server redirected more than requests allows
    ├── InvalidResponseError           a 2xx body that is not what was expected (not JSON, no token)
    ├── HttpStatusError                status 4xx/5xx: .status_code, .response, .method, .url, .attempts
    │   ├── ClientError                4xx
    │   │   ├── AuthenticationError    401, 403, or a token endpoint that refused the credentials
    │   │   └── RateLimitError         429; retryable
    │   └── ServerError                5xx; retryable
    ├── RateBudgetError                a host's rate limit resets later than RateLimit(max_wait=); retryable
    └── PaginationError                a pagination loop guard tripped

``retryable`` says whether running the same request again later may succeed; the client has already
retried what its :class:`~headwater.http.RetryPolicy` allows by the time one of these is raised.
Exceptions of ``requests`` are mapped by class, never by message text (see
:func:`error_class_for_exception`), and re-raised ``from`` the original. URLs in messages and in
``.url`` have their secrets replaced by ``***``.
"""

from __future__ import annotations

from typing import ClassVar

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError

from headwater.errors import HeadwaterError

__all__ = [
    "AuthenticationError",
    "ClientError",
    "HttpConfigError",
    "HttpError",
    "HttpStatusError",
    "HttpTimeoutError",
    "InvalidRequestError",
    "InvalidResponseError",
    "PaginationError",
    "RateBudgetError",
    "RateLimitError",
    "RedirectLoopError",
    "ServerError",
    "TransportError",
    "error_class_for_exception",
    "error_class_for_status",
    "error_for_exception",
    "exception_detail",
    "root_cause",
]


class HttpError(HeadwaterError):
    """Root of every error :mod:`headwater.http` raises.

    Catch it to handle any HTTP failure of a connector::

        try:
            client.get("/orders")
        except HttpError as exc:
            if not exc.retryable:
                raise
    """

    retryable: ClassVar[bool] = False
    before_sync = False


class HttpConfigError(HttpError, ValueError):
    """An argument to :class:`HttpClient`, :class:`RetryPolicy`, :class:`RateLimit`, a paginator or an
    auth class is invalid; the message names it and the valid choices."""


class InvalidRequestError(HttpError, ValueError):
    """The request could not be built or sent as given: a URL without a scheme, an unsupported
    scheme, an invalid header value, a body that is not JSON-serialisable or cannot be rewound."""


class TransportError(HttpError):
    """No usable response arrived: the connection was refused or reset, TLS failed, or the body
    broke off (fewer bytes than ``Content-Length``, a chunked body without its end). Retryable: the
    server may be back later."""

    retryable = True

    def __init__(self, message: str, *, method: str, url: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.method = method
        #: The request URL with its secrets replaced by ``***``.
        self.url = url
        self.attempts = attempts


class HttpTimeoutError(TransportError):
    """The connect timeout or the read timeout of a request passed, or its attempts took longer than
    the deadline (connect, headers and body together)."""


class RedirectLoopError(HttpError):
    """The server redirected more often than ``requests`` follows (30 times by default)."""


class InvalidResponseError(HttpError):
    """A successful response whose body is not what the caller needs: not JSON, no list at
    ``records_path``, no access token in a token response."""

    def __init__(self, message: str, *, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class HttpStatusError(HttpError):
    """The server answered with a 4xx or 5xx status (after any retries).

    Attributes:
        status_code: the HTTP status of the last response.
        response: that :class:`requests.Response` (its body is read).
        method: the request method.
        url: the request URL, secrets replaced by ``***``.
        attempts: how many times the request was sent.
    """

    def __init__(
        self, message: str, *, response: requests.Response, method: str, url: str, attempts: int = 1
    ) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code
        self.method = method
        self.url = url
        self.attempts = attempts


class ClientError(HttpStatusError):
    """A 4xx status: the request itself is wrong (path, parameters, body)."""


class AuthenticationError(ClientError):
    """401 or 403, or a token or login endpoint that refused the credentials."""


class RateLimitError(ClientError):
    """429 after the retries the policy allows: the source wants fewer requests."""

    retryable = True


class ServerError(HttpStatusError):
    """A 5xx status after the retries the policy allows."""

    retryable = True


class RateBudgetError(HttpError):
    """A host said no requests are left until a reset later than ``RateLimit(max_wait=...)``."""

    retryable = True

    def __init__(self, message: str, *, host: str, wait_seconds: float) -> None:
        super().__init__(message)
        self.host = host
        self.wait_seconds = wait_seconds


class PaginationError(HttpError):
    """A pagination loop guard tripped: a cursor, next URL or key came back a second time, a page
    repeated the records of an earlier one, or ``max_pages`` pages were read and more were announced.

    Attributes:
        page: the number (from 1) of the page being read when the guard tripped.
        value: the repeated cursor, URL or key, if that is what tripped it.
    """

    def __init__(self, message: str, *, page: int, value: str | None = None) -> None:
        super().__init__(message)
        self.page = page
        self.value = value


def error_class_for_status(status_code: int) -> type[HttpStatusError]:
    """The error class for a 4xx or 5xx status: 401/403 authentication, 429 rate limit, other
    4xx client, 5xx server."""
    if status_code in (401, 403):
        return AuthenticationError
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return ServerError
    return ClientError


# Every exception class ``requests`` defines, mapped to the error raised in its place. Looked up along
# the exception's MRO, so the most specific entry wins (ConnectTimeout before ConnectionError).
# tests/http/test_errors.py fails if requests gains a class this table does not name.
EXCEPTION_MAP: dict[type[BaseException], type[HttpError]] = {
    requests.exceptions.ConnectTimeout: HttpTimeoutError,
    requests.exceptions.ReadTimeout: HttpTimeoutError,
    requests.exceptions.Timeout: HttpTimeoutError,
    requests.exceptions.SSLError: TransportError,
    requests.exceptions.ProxyError: TransportError,
    requests.exceptions.ConnectionError: TransportError,
    requests.exceptions.ChunkedEncodingError: TransportError,
    requests.exceptions.ContentDecodingError: TransportError,
    # Only raised when a Retry raises on exhausted statuses; headwater's never does, but a Retry
    # mounted by hand might.
    requests.exceptions.RetryError: TransportError,
    requests.exceptions.TooManyRedirects: RedirectLoopError,
    requests.exceptions.MissingSchema: InvalidRequestError,
    requests.exceptions.InvalidSchema: InvalidRequestError,
    requests.exceptions.InvalidURL: InvalidRequestError,
    requests.exceptions.InvalidProxyURL: InvalidRequestError,
    requests.exceptions.InvalidHeader: InvalidRequestError,
    requests.exceptions.URLRequired: InvalidRequestError,
    requests.exceptions.UnrewindableBodyError: InvalidRequestError,
    requests.exceptions.InvalidJSONError: InvalidRequestError,
    requests.exceptions.JSONDecodeError: InvalidResponseError,
    # Raised by Response.raise_for_status(), which headwater does not call; a status error is built
    # from the response instead. Reading a streamed body twice is a caller bug.
    requests.exceptions.HTTPError: HttpError,
    requests.exceptions.StreamConsumedError: HttpError,
    requests.exceptions.RequestException: HttpError,
}


def error_class_for_exception(exc: requests.RequestException) -> type[HttpError]:
    """The error class raised in place of a ``requests`` exception, chosen by class, never by message:
    the most specific entry of :data:`EXCEPTION_MAP` along the exception's MRO, refined to
    :class:`HttpTimeoutError` when the root cause is a timeout (after retries requests reports a
    read timeout as a ``ConnectionError``)."""
    mapped: type[HttpError] = HttpError
    for cls in type(exc).__mro__:
        if cls in EXCEPTION_MAP:
            mapped = EXCEPTION_MAP[cls]
            break
    if issubclass(mapped, TransportError) and _is_timeout(root_cause(exc)):
        return HttpTimeoutError
    return mapped


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception inside a requests exception.

    requests wraps urllib3's exception as its first argument, and urllib3's ``MaxRetryError`` (whose
    text holds the request path, query and all) keeps the real cause in ``.reason``."""
    current = exc
    for _ in range(8):
        inner: object = None
        if isinstance(current, MaxRetryError):
            inner = current.reason
        elif isinstance(current, requests.RequestException) and current.args:
            inner = current.args[0]
        if not isinstance(inner, BaseException):
            break
        current = inner
    return current


def exception_detail(exc: BaseException) -> str:
    """The root cause of a requests exception as ``Type: text``."""
    cause = root_cause(exc)
    text = str(cause)
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def error_for_exception(exc: requests.RequestException, message: str, *, method: str, url: str,
                        attempts: int = 1) -> HttpError:
    """The error to raise ``from exc``: its class from :data:`EXCEPTION_MAP`, with ``message``."""
    cls = error_class_for_exception(exc)
    if issubclass(cls, TransportError):
        return cls(message, method=method, url=url, attempts=attempts)
    return cls(message)


def _is_timeout(cause: BaseException) -> bool:
    if isinstance(cause, NewConnectionError):  # a ConnectTimeoutError subclass, for history's sake
        return False
    return isinstance(cause, (ReadTimeoutError, ConnectTimeoutError, TimeoutError))
