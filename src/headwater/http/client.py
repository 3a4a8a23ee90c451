"""HttpClient: a ``requests.Session`` with timeouts, retries, a rate limit, typed errors and pagination.

The work happens in an ``HTTPAdapter`` the client mounts on its session for ``http://`` and
``https://``, so it applies to every request that session sends, token requests of the auth classes
included: a default timeout when none is given, a deadline for each attempt, a rate-limit slot
before each attempt, urllib3 retries following the :class:`RetryPolicy` (a response body is read
within its attempt, so a body cut short is retried too), and one debug log line per request.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from headwater.http._redact import RedactingLogFilter, Redactor
from headwater.http._transport import AttemptTimeout, DeadlineExceeded, ResponseBodyBroken, use_attempt_pools
from headwater.http.auth import ApiKeyAuth, BasicAuth, BearerAuth, TokenAuth
from headwater.http.errors import (
    AuthenticationError,
    HttpConfigError,
    HttpError,
    HttpStatusError,
    HttpTimeoutError,
    InvalidRequestError,
    InvalidResponseError,
    PaginationError,
    RateLimitError,
    ServerError,
    TransportError,
    error_class_for_exception,
    error_class_for_status,
    error_for_exception,
    exception_detail,
    root_cause,
)
from headwater.http.paginate import PageRequest, Paginator, records_at
from headwater.http.ratelimit import RateLimit, host_key_of_url
from headwater.http.retry import RetryOutcome, RetryPolicy
from headwater.log import Level, emit

__all__ = ["DEFAULT_TIMEOUT", "HttpClient", "Timeout"]

Timeout = float | tuple[float, float]
#: (connect, read) seconds: ten to reach the server, sixty for each wait on its answer.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
_EXCERPT = 200
_URLLIB3_LOG_FILTER = RedactingLogFilter()
logging.getLogger("urllib3.connectionpool").addFilter(_URLLIB3_LOG_FILTER)


def _check_timeout(timeout: object) -> Timeout:
    def seconds(value: object) -> float | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return float(value)
        return None

    single = seconds(timeout)
    if single is not None:
        return single
    if isinstance(timeout, tuple) and len(timeout) == 2:
        connect, read = seconds(timeout[0]), seconds(timeout[1])
        if connect is not None and read is not None:
            return (connect, read)
    raise HttpConfigError(
        f"timeout={timeout!r} is not valid: give seconds above 0, as one number or a (connect, read) "
        f"pair such as {DEFAULT_TIMEOUT}; every request needs a timeout, so None is refused"
    )


def _check_deadline(deadline: object, where: str) -> float:
    if (isinstance(deadline, (int, float)) and not isinstance(deadline, bool) and math.isfinite(deadline)
            and deadline > 0):
        return float(deadline)
    raise HttpConfigError(
        f"{where}(deadline={deadline!r}) is not valid: give the seconds one attempt may take in all (connect, "
        "headers and body), above 0, or None to derive it from the timeout (connect + read)"
    )


def _timeout_parts(timeout: object) -> tuple[float | None, float | None] | None:
    """``(connect, read)`` of a timeout as requests takes it (a number or a pair); None if it is neither."""
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return float(timeout), float(timeout)
    if isinstance(timeout, tuple) and len(timeout) == 2:
        connect, read = timeout
        if all(part is None or (isinstance(part, (int, float)) and not isinstance(part, bool)) for part in timeout):
            return (None if connect is None else float(connect)), (None if read is None else float(read))
    return None


def _secret_values(secrets: Iterable[object]) -> list[str]:
    if isinstance(secrets, (str, bytes)):
        raise HttpConfigError("HttpClient(secrets=...) takes a list of values, not one string (which would be read "
                              "as its single characters); pass secrets=[value]")
    values: list[str] = []
    for index, value in enumerate(secrets):
        if value is None:
            continue  # an optional configuration value that is not set: nothing to hide
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise HttpConfigError(
                f"HttpClient(secrets=...): secrets[{index}] is a {type(value).__name__}, not a str; pass each "
                "secret as a str (a whole number is hidden as its digits)"
            )
        values.append(str(value))
    return values


class _Transport(HTTPAdapter):
    """The adapter an HttpClient mounts: default timeout, deadline, rate limit, retries, a debug line
    per request."""

    def __init__(self, client: HttpClient) -> None:
        super().__init__(max_retries=client.retry.build(client.rate_limit))
        self._client = client

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        use_attempt_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        use_attempt_pools(manager)
        return manager

    def _attempt_timeout(self, timeout: Any, stream: bool) -> Any:
        """The timeout handed to urllib3: the connect and read timeouts, the deadline of each attempt,
        and whether the body is read within the attempt (not when streamed)."""
        client = self._client
        if timeout is None:
            timeout = client.timeout
        if isinstance(timeout, AttemptTimeout):
            connect = timeout.connect_timeout if isinstance(timeout.connect_timeout, (int, float)) else None
            read = timeout.read_timeout
            deadline = timeout.deadline if timeout.deadline is not None else client.deadline_for((connect, read))
            return AttemptTimeout(connect, read, deadline=deadline, buffer_body=not stream)
        parts = _timeout_parts(timeout)
        if parts is None:
            return timeout  # a urllib3 Timeout of the caller's own, or something requests will refuse
        return AttemptTimeout(*parts, deadline=client.deadline_for(parts), buffer_body=not stream)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        client = self._client
        url = request.url or ""
        host = host_key_of_url(url)
        if client.rate_limit is not None:
            client.rate_limit.acquire(host)
        clock = client.retry.clock
        started = clock()
        try:
            response = super().send(request, stream=stream, timeout=self._attempt_timeout(timeout, stream),
                                    verify=verify, cert=cert, proxies=proxies)
        except requests.RequestException as exc:
            attempts = RetryOutcome.of_exception(exc).attempts
            emit(Level.DEBUG, f"{request.method} {client.redactor.url(url)} -> "
                 f"{client.redactor.text(exception_detail(exc))} in {clock() - started:.3f} s"
                 + (f" ({attempts} attempts)" if attempts > 1 else ""), origin="connector")
            raise
        if client.rate_limit is not None:
            client.rate_limit.observe(host, response.headers)
        attempts = RetryOutcome.of_response(client.retry, request.method or "GET", response).attempts
        emit(Level.DEBUG, f"{request.method} {client.redactor.url(url)} -> {response.status_code} "
             f"in {clock() - started:.3f} s" + (f" ({attempts} attempts)" if attempts > 1 else ""), origin="connector")
        return response


class HttpClient:
    """HTTP for connectors: timeouts, retries, a rate limit, typed errors and pagination, over
    ``requests``.

    >>> client = HttpClient("https://api.example.com/v1", auth=BearerAuth(token),
    ...                     rate_limit=RateLimit(requests=10, per=1.0))
    >>> client.get("/orders/7").json()
    >>> for page in client.paginate("/orders", CursorPaginator("meta.next"), records_path="data"):
    ...     for order in page:
    ...         op.upsert("orders", order)

    Every request gets ``timeout`` unless the call gives one, and each attempt a ``deadline`` for
    connect, headers and body together, which a server sending a byte now and then cannot stretch.
    A 4xx or 5xx answer (after the retries the policy allows) raises a :class:`HttpStatusError`
    subclass; a request that got no answer, or only part of its body, raises
    :class:`TransportError`. Each request logs one DEBUG line with the method, the URL with its
    secrets hidden, the status and the time taken.

    Args:
        base_url: prefix of relative paths (``client.get("/orders")``); absolute URLs are used as given.
        session: a ``requests.Session`` to use; the client mounts its adapter on it for ``http://``
            and ``https://`` (replacing those two) and leaves it open on :meth:`close`.
        auth: a ``requests`` auth object, such as one of :mod:`headwater.http.auth`.
        headers: headers sent with every request.
        timeout: seconds, or a ``(connect, read)`` pair, for requests that give none.
        deadline: seconds one attempt may take in all (connect, headers and body); a request past it
            raises :class:`HttpTimeoutError` (retried like a read timeout). ``None`` (the default)
            derives it from the request's timeout: connect + read, 70 s for ``(10, 60)``.
        retry: the :class:`RetryPolicy` (default ``RetryPolicy()``; ``RetryPolicy(max_attempts=1)``
            for none). Its clock also times requests.
        rate_limit: a :class:`RateLimit`, or ``None`` for none.
        secrets: literal values (API keys, passwords from the configuration) hidden in logged URLs
            and error messages wherever they appear, raw or percent-encoded. The auth's own
            credentials and tokens are hidden without being listed here.
        secret_params: query parameter names whose values are hidden, besides the usual ones
            (``api_key``, ``token``, ``access_token``, ``client_secret``, ``password``, ...).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        session: requests.Session | None = None,
        auth: AuthBase | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
        secrets: Iterable[str | int | None] = (),
        secret_params: Iterable[str] = (),
    ) -> None:
        if base_url is not None and "://" not in base_url:
            raise HttpConfigError(f"HttpClient(base_url={base_url!r}) must be an absolute URL such as "
                                  "'https://api.example.com/v1'")
        self.base_url = base_url
        self.timeout = _check_timeout(timeout)
        #: The deadline of every attempt, or None: derived from each request's timeout.
        self.deadline = _check_deadline(deadline, "HttpClient") if deadline is not None else None
        self.retry = retry if retry is not None else RetryPolicy()
        self.rate_limit = rate_limit
        self.auth = auth
        self.headers = dict(headers or {})
        if isinstance(secret_params, str):
            raise HttpConfigError(f"HttpClient(secret_params={secret_params!r}) takes a list of parameter names, "
                                  f"not one string; pass secret_params=[{secret_params!r}]")
        params, values = list(secret_params), _secret_values(secrets)
        if isinstance(auth, ApiKeyAuth):
            values.append(auth.key)
            if auth.query_param is not None:
                params.append(auth.query_param)
        elif isinstance(auth, BasicAuth):
            values.append(auth.password)
        elif isinstance(auth, BearerAuth):
            values.append(auth.token)
        self._redactor = Redactor(params, values)
        # The secrets known now (a token auth's tokens come later) also out of urllib3's warnings.
        _URLLIB3_LOG_FILTER.add(params, [*values, *(auth.secrets() if isinstance(auth, TokenAuth) else [])])
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        adapter = _Transport(self)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        if isinstance(auth, TokenAuth) and auth.session is None:
            auth.session = self.session

    def __repr__(self) -> str:
        return (f"HttpClient({self.base_url!r}, timeout={self.timeout!r}, deadline={self.deadline!r}, "
                f"retry={self.retry!r}, rate_limit={self.rate_limit!r})")

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session if the client created it."""
        if self._owns_session:
            self.session.close()

    @property
    def redactor(self) -> Redactor:
        """What hides secrets in this client's log lines and messages (tokens of the auth included)."""
        if isinstance(self.auth, TokenAuth):
            return self._redactor.extended(values=self.auth.secrets())
        return self._redactor

    def deadline_for(self, timeout: Timeout | tuple[float | None, float | None] | None = None) -> float:
        """The deadline of each attempt of a request with ``timeout`` (default: the client's): the
        client's ``deadline`` if it has one, else the connect and read timeouts added up."""
        if self.deadline is not None:
            return self.deadline
        own = self.timeout if isinstance(self.timeout, tuple) else (self.timeout, self.timeout)
        connect, read = _timeout_parts(timeout if timeout is not None else own) or own
        # A part the timeout leaves out (None: wait forever) is the client's own.
        return (connect if connect is not None else own[0]) + (read if read is not None else own[1])

    def url_for(self, url: str) -> str:
        """The absolute URL for a path (joined to ``base_url``) or an absolute URL."""
        if "://" in url.split("?", 1)[0]:
            return url
        if self.base_url is None:
            raise InvalidRequestError(
                f"{url!r} is not an absolute URL and the client has no base_url; pass HttpClient(base_url=...) "
                "or a URL starting with https://"
            )
        if not url:
            return self.base_url
        return self.base_url.rstrip("/") + "/" + url.lstrip("/")

    def get(self, url: str, *, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
            timeout: Timeout | None = None, deadline: float | None = None) -> requests.Response:
        """``GET url``; see :meth:`request`."""
        return self.request("GET", url, params=params, headers=headers, timeout=timeout, deadline=deadline)

    def post(self, url: str, *, params: Mapping[str, Any] | None = None, json: Any = None, data: Any = None,
             headers: Mapping[str, str] | None = None, timeout: Timeout | None = None,
             deadline: float | None = None) -> requests.Response:
        """``POST url`` with a ``json`` or form ``data`` body; see :meth:`request`. POST is retried on
        connect errors only, unless the policy's ``methods`` include it."""
        return self.request("POST", url, params=params, json=json, data=data, headers=headers, timeout=timeout,
                            deadline=deadline)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        deadline: float | None = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send a request and return the response (its body read), or raise a typed error.

        ``timeout`` and ``deadline`` replace the client's for this request; without ``deadline``,
        the client's applies, or else one derived from ``timeout`` (connect + read).

        Raises:
            HttpStatusError: (a subclass of) for a 4xx or 5xx answer after retries.
            TransportError: no answer or a body cut short: connection refused or reset, timeout or
                deadline passed (HttpTimeoutError).
            InvalidRequestError: the URL or a header is not valid.
            RateBudgetError: the host's rate limit resets later than the RateLimit allows waiting.
        """
        method = method.upper()
        full_url = self.url_for(url)
        effective_timeout = _check_timeout(timeout) if timeout is not None else self.timeout
        connect, read = _timeout_parts(effective_timeout) or DEFAULT_TIMEOUT
        limits = AttemptTimeout(connect, read, deadline=_check_deadline(deadline, f"HttpClient.{method.lower()}")
                                if deadline is not None else self.deadline_for(effective_timeout))
        started = self.retry.clock()
        try:
            response = self.session.request(
                method,
                full_url,
                params=dict(params) if params is not None else None,
                json=json,
                data=data,
                headers={**self.headers, **(headers or {})},
                timeout=limits,  # type: ignore[arg-type]  # requests hands a urllib3 Timeout on as it is
                auth=self.auth,
                allow_redirects=allow_redirects,
            )
        except requests.RequestException as exc:
            raise self._exception_error(exc, method, full_url, started, effective_timeout) from exc
        except HttpError as exc:
            # Raised by the auth (a refused token request) or the rate limit: hide this client's secrets too.
            self.redactor.scrub(exc)
            raise
        if response.status_code >= 400:
            raise self._status_error(method, response, started)
        return response

    def paginate(
        self,
        url: str,
        paginator: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        records_path: str | None = None,
        method: str = "GET",
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        max_pages: int = 10_000,
    ) -> Iterator[list[Any]]:
        """Yield the records of each page, a list per page, until the paginator finds no next page.

        >>> for records in client.paginate("/orders", OffsetPaginator(limit=100), records_path="data"):
        ...     ...

        ``records_path`` is the dotted path of the list in each JSON body (``None``: the body is the
        list). An empty page ends the pagination. Loop guards raise :class:`PaginationError`: a next
        page named a second time (the same cursor, URL or key), a page with the same records as an
        earlier one, and more pages announced after ``max_pages``.
        """
        if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
            raise HttpConfigError(f"paginate(max_pages={max_pages!r}) must be a whole number of at least 1")
        if not isinstance(paginator, Paginator):
            raise HttpConfigError(
                f"paginate() needs a paginator with start(), advance() and prepare(), got {type(paginator).__name__}"
            )
        method = method.upper()
        request = PageRequest(self.url_for(url), dict(params or {}))
        paginator.start(request)
        where = f"{method} {self.redactor.url(request.url)}"
        named: dict[str, int] = {}
        seen_records: dict[str, int] = {}
        page = 0
        while True:
            page += 1
            response = self.request(method, request.url, params=request.params, json=json, headers=headers)
            try:
                records = records_at(response, records_path)
                if not records:
                    return
                digest = hashlib.sha256(jsonlib.dumps(records, sort_keys=True, default=str).encode()).hexdigest()
                if digest in seen_records:
                    raise PaginationError(
                        f"{where}: page {page} holds the same {len(records)} records as page {seen_records[digest]}; "
                        "the API seems to ignore the paginator's parameters, so pagination stopped instead of "
                        "looping (check the paginator's parameter names against the API's documentation)",
                        page=page,
                    )
                seen_records[digest] = page
                following = paginator.advance(response, records)
            except InvalidResponseError as exc:
                raise InvalidResponseError(f"{where}, page {page}: {self.redactor.text(str(exc))}",
                                           response=response) from exc
            shown = self.redactor.text(following) if following is not None else None
            if following is not None and following in named:
                raise PaginationError(
                    f"{where}: page {page} names {shown} as the next page, as page {named[following]} already did; "
                    "the API returned the same value twice, so pagination stopped instead of looping "
                    "(check the paginator's path and parameter names against the API's documentation)",
                    page=page,
                    value=shown,
                )
            yield records
            if following is None:
                return
            if page >= max_pages:
                raise PaginationError(
                    f"{where}: read max_pages={max_pages} pages and the API names yet another ({shown}); raise "
                    "max_pages if the data really is that large, or narrow the request (a filter, a date range)",
                    page=page,
                    value=shown,
                )
            named[following] = page
            paginator.prepare(request)

    # ------------------------------------------------------------------------------------ errors

    def _status_error(self, method: str, response: requests.Response, started: float) -> HttpStatusError:
        policy = self.retry
        redactor = self.redactor
        elapsed = policy.clock() - started
        outcome = RetryOutcome.of_response(policy, method, response)
        status = response.status_code
        url = redactor.url(response.request.url or response.url)
        message = f"{method} {url} failed with {status}"
        if outcome.attempts > 1:
            message += f" after {outcome.attempts} attempts over {elapsed:.1f} s"
        clauses: list[str] = []
        if outcome.retry_after is not None and outcome.stopped_by is not None:
            clauses.append(f"the server asked to retry after {_seconds(outcome.retry_after)}")
        if outcome.stopped_by == "time" and policy.max_total_seconds is not None:
            clauses.append(f"retrying stopped at max_total_seconds={policy.max_total_seconds:g}")
        cls = error_class_for_status(status)
        clauses.append(_status_hint(cls, status, outcome, policy))
        excerpt = " ".join(response.text[:_EXCERPT].split())
        if excerpt:
            clauses.append(f"response: {redactor.text(excerpt)}")
        return cls("; ".join([message, *clauses]), response=response, method=method, url=url,
                   attempts=outcome.attempts)

    def _exception_error(self, exc: requests.RequestException, method: str, full_url: str, started: float,
                         timeout: Timeout) -> HttpError:
        policy = self.retry
        redactor = self.redactor
        elapsed = policy.clock() - started
        outcome = RetryOutcome.of_exception(exc)
        sent = getattr(exc.request, "url", None) if exc.request is not None else None
        url = redactor.url(sent or full_url)
        message = f"{method} {url} failed: {redactor.text(exception_detail(exc))}"
        if outcome.attempts > 1:
            message += f" after {outcome.attempts} attempts over {elapsed:.1f} s"
        if outcome.stopped_by == "time" and policy.max_total_seconds is not None:
            message += f"; retrying stopped at max_total_seconds={policy.max_total_seconds:g}"
        hint = _exception_hint(error_class_for_exception(exc), root_cause(exc), timeout)
        if hint:
            message += f"; {hint}"
        redactor.scrub(exc)  # the exception chained to the error: its text holds the path and query
        return error_for_exception(exc, message, method=method, url=url, attempts=outcome.attempts)


def _seconds(value: float) -> str:
    return f"{round(value, 1):g} s"


def _status_hint(cls: type[HttpStatusError], status: int, outcome: RetryOutcome, policy: RetryPolicy) -> str:
    if issubclass(cls, RateLimitError):
        return "raise max_total_seconds or lower the request rate (HttpClient(rate_limit=RateLimit(...)))"
    if issubclass(cls, ServerError):
        if outcome.stopped_by == "attempts" and policy.max_attempts > 1:
            return f"the server failed all {policy.max_attempts} attempts (max_attempts); run the sync again later"
        if outcome.stopped_by == "time":
            return "the server kept failing; run the sync again later or raise max_total_seconds"
        return "the server failed; run the sync again later"
    if issubclass(cls, AuthenticationError):
        if status == 401:
            return "the credentials were refused; check the API key, token or password in the configuration"
        return "the credentials are valid but not allowed this; check their scopes or permissions"
    if status == 404:
        return "check the path and the client's base_url"
    if status == 408 and outcome.stopped_by is not None:
        return "the server timed out waiting for the request; run the sync again later"
    return "check the request's parameters and body"


def _exception_hint(cls: type[HttpError], cause: BaseException, timeout: Timeout) -> str:
    if isinstance(cause, DeadlineExceeded):
        return ("the server did not send its whole answer in time; raise HttpClient(deadline=...) or the call's "
                "deadline= if the server is just slow")
    if isinstance(cause, ResponseBodyBroken):
        return "the server (or a proxy) cut the response short; run the sync again later"
    if issubclass(cls, HttpTimeoutError):
        return f"the server did not answer in time (timeout={timeout}); raise timeout= if it is just slow"
    if issubclass(cls, TransportError):
        return "check that the host is reachable and the URL's scheme and port are right"
    if issubclass(cls, InvalidRequestError):
        return "check the URL, headers and body passed to the client"
    return ""
