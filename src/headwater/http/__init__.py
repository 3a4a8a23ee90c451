"""HTTP for connectors: a client with timeouts, retries, a rate limit, typed errors, paginators and
authentication, over ``requests`` (see docs/http.md).

>>> from headwater.http import BearerAuth, CursorPaginator, HttpClient
>>> client = HttpClient("https://api.example.com/v1", auth=BearerAuth(configuration["token"]))
>>> for records in client.paginate("/orders", CursorPaginator("meta.next"), records_path="data"):
...     ...

It imports only ``requests``, ``urllib3`` and headwater's ``errors`` and ``log`` modules, so a
connector can use it wherever it is deployed.
"""

from __future__ import annotations

from headwater.http.auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    SessionTokenAuth,
    TokenAuth,
)
from headwater.http.client import DEFAULT_TIMEOUT, HttpClient
from headwater.http.errors import (
    AuthenticationError,
    ClientError,
    HttpConfigError,
    HttpError,
    HttpStatusError,
    HttpTimeoutError,
    InvalidRequestError,
    InvalidResponseError,
    PaginationError,
    RateBudgetError,
    RateLimitError,
    RedirectLoopError,
    ServerError,
    TransportError,
)
from headwater.http.paginate import (
    CursorPaginator,
    KeysetPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    Paginator,
)
from headwater.http.ratelimit import RateLimit
from headwater.http.retry import RetryPolicy

__all__ = [
    "ApiKeyAuth",
    "AuthenticationError",
    "BasicAuth",
    "BearerAuth",
    "ClientError",
    "CursorPaginator",
    "DEFAULT_TIMEOUT",
    "HttpClient",
    "HttpConfigError",
    "HttpError",
    "HttpStatusError",
    "HttpTimeoutError",
    "InvalidRequestError",
    "InvalidResponseError",
    "KeysetPaginator",
    "LinkHeaderPaginator",
    "NextUrlPaginator",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PageRequest",
    "PaginationError",
    "Paginator",
    "RateBudgetError",
    "RateLimit",
    "RateLimitError",
    "RedirectLoopError",
    "RetryPolicy",
    "ServerError",
    "SessionTokenAuth",
    "TokenAuth",
    "TransportError",
]
