"""Authentication, as ``requests`` auth objects: pass one to ``HttpClient(auth=...)`` (or to
``requests`` itself).

- :class:`ApiKeyAuth`: a key in a header (``X-API-Key`` by default) or a query parameter;
- :class:`BasicAuth`: ``Authorization: Basic ...``;
- :class:`BearerAuth`: a fixed ``Authorization: Bearer ...`` token;
- :class:`OAuth2ClientCredentials` and :class:`OAuth2RefreshToken`: fetch an access token from a
  token endpoint, renew it ``margin`` seconds (at most a tenth of its lifetime) before
  ``expires_in`` runs out, and on a 401 fetch a fresh one and send the request once more;
- :class:`SessionTokenAuth`: log in (a callable, or a POST of credentials to a login URL) for a
  session token, and log in again on a 401.

The token classes fetch through the client's session when given to an :class:`HttpClient`, so token
requests get the same timeouts, retries, rate limit and debug log line as any other.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import requests
from requests.auth import AuthBase

from headwater.http._redact import Redactor
from headwater.http.errors import (
    AuthenticationError,
    HttpConfigError,
    InvalidResponseError,
    error_class_for_status,
    error_for_exception,
    exception_detail,
)
from headwater.http.paginate import lookup
from headwater.log import Level, emit

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "SessionTokenAuth",
    "TokenAuth",
]

# Token and login requests always get a timeout, whichever session sends them.
_TOKEN_TIMEOUT = (10.0, 60.0)
#: A token is renewed ``margin`` seconds before it expires, but never earlier than this share of its
#: lifetime before: a token valid for 30 s is used for 27 s, not fetched again for every request.
MARGIN_SHARE_OF_LIFETIME = 0.1
ClientAuthMethod = Literal["basic", "body"]


def _basic_header(username: str, password: str) -> str:
    pair = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # Token requests must not carry the session's own auth (which may be the token auth itself).
    return request


def _require_text(owner: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        got = "an empty string" if value == "" else f"a {type(value).__name__}"
        raise HttpConfigError(f"{owner}({name}=...) must be a non-empty string, got {got}")


class ApiKeyAuth(AuthBase):
    """An API key in a header, or in a query parameter.

    >>> ApiKeyAuth(key)                              # X-API-Key: <key>
    >>> ApiKeyAuth(key, header="Authorization", prefix="Token ")
    >>> ApiKeyAuth(key, query_param="api_key")       # ?api_key=<key>, hidden as *** in logs

    A client given an ``ApiKeyAuth`` with ``query_param`` hides that parameter and the key in every
    URL it logs or puts in an error.
    """

    def __init__(
        self, key: str, *, header: str | None = None, query_param: str | None = None, prefix: str = ""
    ) -> None:
        _require_text("ApiKeyAuth", "key", key)
        if header is not None and query_param is not None:
            raise HttpConfigError(
                f"ApiKeyAuth takes header= or query_param=, not both (got header={header!r}, "
                f"query_param={query_param!r}); send the key one way"
            )
        if query_param is not None and prefix:
            raise HttpConfigError("ApiKeyAuth(prefix=...) applies to a header only; put the whole value in key=")
        self.key = key
        self.query_param = query_param
        self.header = None if query_param is not None else (header or "X-API-Key")
        self.prefix = prefix

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.header is not None:
            r.headers[self.header] = self.prefix + self.key
        else:
            assert self.query_param is not None
            r.prepare_url(r.url or "", {self.query_param: self.key})
        return r

    def __repr__(self) -> str:
        where = f"header={self.header!r}" if self.header else f"query_param={self.query_param!r}"
        return f"ApiKeyAuth(key='***', {where})"


class BasicAuth(AuthBase):
    """HTTP Basic authentication (RFC 7617), user and password encoded as UTF-8.

    >>> BasicAuth("me", configuration["password"])
    """

    def __init__(self, username: str, password: str) -> None:
        if not isinstance(username, str) or not isinstance(password, str):
            raise HttpConfigError("BasicAuth(username, password) takes two strings")
        self.username = username
        self.password = password

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = _basic_header(self.username, self.password)
        return r

    def __repr__(self) -> str:
        return f"BasicAuth({self.username!r}, '***')"


class BearerAuth(AuthBase):
    """A fixed bearer token: ``Authorization: Bearer <token>``.

    >>> BearerAuth(configuration["api_token"])
    """

    def __init__(self, token: str) -> None:
        _require_text("BearerAuth", "token", token)
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r

    def __repr__(self) -> str:
        return "BearerAuth('***')"


class TokenAuth(AuthBase):
    """Base of the auth classes that obtain their token at run time.

    Subclasses implement :meth:`fetch_token`. The token is fetched on first use, renewed before it
    expires (when the fetch said when: :meth:`margin_for` seconds before, that is ``margin`` but at
    most a tenth of the token's lifetime), and renewed on a 401: the request is then sent once more
    with the fresh token; a second 401 is returned as it is (and the client raises
    :class:`AuthenticationError`).
    """

    #: What the token is renewed with, for log lines and messages.
    purpose = "a token"

    def __init__(
        self,
        *,
        header: str = "Authorization",
        prefix: str = "Bearer ",
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        if not margin >= 0:
            raise HttpConfigError(f"margin={margin!r} must be a number of seconds, 0 or more")
        self.header = header
        self.prefix = prefix
        self.margin = float(margin)
        self.clock = clock
        #: The session token requests go through; an HttpClient sets its own when this is None.
        self.session = session
        self._own_session: requests.Session | None = None
        self._token: str | None = None
        self._renew_at: float | None = None
        self._renew_margin = 0.0
        self._lock = threading.RLock()

    def fetch_token(self, session: requests.Session) -> tuple[str, float | None]:
        """Obtain a new token: ``(token, seconds until it expires or None)``."""
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """Literal secrets to hide from URLs and messages."""
        return [self._token] if self._token else []

    def margin_for(self, lifetime: float) -> float:
        """Seconds before its expiry a token valid for ``lifetime`` seconds is renewed: ``margin``,
        but at most a tenth of the lifetime."""
        return min(self.margin, lifetime * MARGIN_SHARE_OF_LIFETIME)

    @property
    def token(self) -> str:
        """The current token, fetched or renewed first if it is missing or about to expire."""
        with self._lock:
            expiring = self._renew_at is not None and self.clock() >= self._renew_at
            if self._token is None or expiring:
                if self._token is not None:
                    emit(Level.DEBUG, f"renewing {self.purpose}: it expires within {self._renew_margin:g} s",
                         origin="connector")
                self._renew()
            assert self._token is not None
            return self._token

    def invalidate(self, used: str | None = None) -> None:
        """Forget the token (only if it is still ``used``, when given), so the next use fetches one."""
        with self._lock:
            if used is None or self._token == used:
                self._token = None
                self._renew_at = None

    def _renew(self) -> None:
        session = self.session
        if session is None:
            if self._own_session is None:
                self._own_session = requests.Session()
            session = self._own_session
        token, expires_in = self.fetch_token(session)
        if not isinstance(token, str) or not token:
            raise InvalidResponseError(
                f"{type(self).__name__} obtained no usable token (a {type(token).__name__}, empty or not text)")
        self._token = token
        if expires_in is None:
            self._renew_at = None
        else:
            self._renew_margin = self.margin_for(expires_in)
            self._renew_at = self.clock() + expires_in - self._renew_margin

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers[self.header] = self.prefix + self.token
        r.register_hook("response", self._retry_on_401)
        return r

    def _retry_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401:
            return response
        sent = response.request.headers.get(self.header)
        if isinstance(sent, bytes):
            sent = sent.decode("latin-1")
        used = sent[len(self.prefix):] if sent is not None and sent.startswith(self.prefix) else sent
        self.invalidate(used)
        fresh = self.prefix + self.token  # another thread may have renewed it already
        emit(Level.DEBUG, f"401 Unauthorized: sending the request once more with {self.purpose} just obtained",
             origin="connector")
        response.content  # noqa: B018 - read the body so the connection goes back to the pool
        response.close()
        again = response.request.copy()
        again.hooks["response"] = [hook for hook in again.hooks.get("response", []) if hook != self._retry_on_401]
        again.headers[self.header] = fresh
        retried = response.connection.send(again, **kwargs)
        retried.history.append(response)
        retried.request = again
        return retried

    def _post(self, session: requests.Session, url: str, what: str, hint: str, redactor: Redactor,
              **kwargs: Any) -> Any:
        """POST to a token or login endpoint; the JSON body, or a typed error."""
        try:
            response = session.post(url, timeout=_TOKEN_TIMEOUT, auth=_no_auth, **kwargs)
        except requests.RequestException as exc:
            message = f"POST {redactor.url(url)} ({what}) failed: {redactor.text(exception_detail(exc))}"
            redactor.scrub(exc)
            raise error_for_exception(exc, message, method="POST", url=redactor.url(url)) from exc
        if response.status_code >= 400:
            excerpt = redactor.text(" ".join(response.text[:200].split()))
            cls = AuthenticationError if response.status_code < 500 else error_class_for_status(response.status_code)
            raise cls(
                f"POST {redactor.url(url)} ({what}) failed with {response.status_code}: {excerpt}; {hint}",
                response=response, method="POST", url=redactor.url(url),
            )
        try:
            return response.json()
        except requests.exceptions.JSONDecodeError as exc:
            raise InvalidResponseError(
                f"POST {redactor.url(url)} ({what}) answered {response.status_code} with a body that is not JSON: "
                f"{redactor.text(response.text[:120])!r}",
                response=response,
            ) from exc


def _token_from(body: Any, path: str, what: str, url: str) -> str:
    token = lookup(body, path)
    if isinstance(token, str) and token:
        return token
    keys = f"; it has {', '.join(sorted(body))}" if isinstance(body, dict) else ""
    raise InvalidResponseError(f"the {what} response from {url} has no {path!r}{keys}")


def _expires_in(body: Any) -> float | None:
    value = body.get("expires_in") if isinstance(body, dict) else None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


class _OAuth2(TokenAuth):
    purpose = "an OAuth2 access token"

    def __init__(self, token_url: str, *, client_id: str | None, client_secret: str | None, scope: str | None,
                 client_auth: ClientAuthMethod, extra: Mapping[str, str] | None, **options: Any) -> None:
        super().__init__(**options)
        owner = type(self).__name__
        _require_text(owner, "token_url", token_url)
        if client_auth not in ("basic", "body"):
            raise HttpConfigError(f"{owner}(client_auth={client_auth!r}) must be 'basic' (HTTP Basic, the "
                                  "OAuth2 default) or 'body' (client_id and client_secret as form fields)")
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.client_auth = client_auth
        self.extra = dict(extra or {})

    def secrets(self) -> list[str]:
        return [*super().secrets(), *([self.client_secret] if self.client_secret else [])]

    def _shown_token_url(self) -> str:
        return Redactor(values=self.secrets()).url(self.token_url)

    def _request_token(self, session: requests.Session, form: dict[str, str], hint: str) -> Any:
        headers = {"Accept": "application/json"}
        if self.client_id is not None:
            if self.client_auth == "basic":
                headers["Authorization"] = _basic_header(self.client_id, self.client_secret or "")
            else:
                form["client_id"] = self.client_id
                if self.client_secret is not None:
                    form["client_secret"] = self.client_secret
        if self.scope:
            form["scope"] = self.scope
        form.update(self.extra)
        redactor = Redactor(values=self.secrets() + [value for key, value in form.items() if "token" in key])
        return self._post(session, self.token_url, "OAuth2 token request", hint, redactor, data=form, headers=headers)


class OAuth2ClientCredentials(_OAuth2):
    """OAuth2 client credentials grant (RFC 6749 4.4): the connector is the client.

    >>> OAuth2ClientCredentials("https://auth.example.com/oauth/token", client_id, client_secret, scope="read")

    The client authenticates with HTTP Basic by default (``client_auth="body"`` sends ``client_id``
    and ``client_secret`` as form fields instead); ``extra`` adds form fields such as ``audience``.
    The token is renewed ``margin`` seconds (at most a tenth of ``expires_in``) before ``expires_in``
    runs out, and on a 401.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        *,
        client_auth: ClientAuthMethod = "basic",
        extra: Mapping[str, str] | None = None,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        _require_text("OAuth2ClientCredentials", "client_id", client_id)
        _require_text("OAuth2ClientCredentials", "client_secret", client_secret)
        super().__init__(token_url, client_id=client_id, client_secret=client_secret, scope=scope,
                         client_auth=client_auth, extra=extra, margin=margin, clock=clock, session=session)

    def fetch_token(self, session: requests.Session) -> tuple[str, float | None]:
        body = self._request_token(session, {"grant_type": "client_credentials"},
                                   "check client_id, client_secret and scope")
        return _token_from(body, "access_token", "OAuth2 token", self._shown_token_url()), _expires_in(body)


class OAuth2RefreshToken(_OAuth2):
    """OAuth2 refresh token grant (RFC 6749 6): trade a long-lived refresh token for access tokens.

    >>> OAuth2RefreshToken("https://auth.example.com/oauth/token", refresh_token,
    ...                    client_id=client_id, client_secret=client_secret,
    ...                    on_new_refresh_token=lambda token: state.update(refresh_token=token))

    When the server rotates the refresh token (sends a new ``refresh_token``), the new one is used
    from then on and passed to ``on_new_refresh_token``, so the connector can keep it (in its state).
    """

    def __init__(
        self,
        token_url: str,
        refresh_token: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
        client_auth: ClientAuthMethod = "basic",
        extra: Mapping[str, str] | None = None,
        on_new_refresh_token: Callable[[str], None] | None = None,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        _require_text("OAuth2RefreshToken", "refresh_token", refresh_token)
        if client_secret is not None and client_id is None:
            raise HttpConfigError("OAuth2RefreshToken(client_secret=...) needs client_id= too")
        super().__init__(token_url, client_id=client_id, client_secret=client_secret, scope=scope,
                         client_auth=client_auth, extra=extra, margin=margin, clock=clock, session=session)
        self.refresh_token = refresh_token
        self.on_new_refresh_token = on_new_refresh_token

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.refresh_token]

    def fetch_token(self, session: requests.Session) -> tuple[str, float | None]:
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        body = self._request_token(session, form, "the refresh token may be revoked or expired: authorize again "
                                                  "and store the new refresh token")
        access = _token_from(body, "access_token", "OAuth2 token", self._shown_token_url())
        rotated = body.get("refresh_token") if isinstance(body, dict) else None
        if isinstance(rotated, str) and rotated and rotated != self.refresh_token:
            self.refresh_token = rotated
            if self.on_new_refresh_token is not None:
                self.on_new_refresh_token(rotated)
        return access, _expires_in(body)


class SessionTokenAuth(TokenAuth):
    """A session token from a login, sent in a header; logs in again on a 401.

    >>> SessionTokenAuth(login_url="https://api.example.com/login",
    ...                  credentials={"username": user, "password": password}, token_path="session.token")
    >>> SessionTokenAuth(lambda session: session.post(url, json=body, timeout=30).json()["jwt"],
    ...                  header="X-Session", prefix="")

    Args:
        login: a callable given the session, returning the token; or else
        login_url, credentials: POST ``credentials`` as JSON to ``login_url`` and read the token at
            ``token_path`` in the JSON answer.
        header, prefix: where the token goes (``Authorization: Bearer <token>`` by default).
        expires_in: seconds a token lasts, if known, to log in again ``margin`` seconds (at most a
            tenth of ``expires_in``) before.
    """

    purpose = "a session token"

    def __init__(
        self,
        login: Callable[[requests.Session], str] | None = None,
        *,
        login_url: str | None = None,
        credentials: Mapping[str, Any] | None = None,
        token_path: str = "token",
        header: str = "Authorization",
        prefix: str = "Bearer ",
        expires_in: float | None = None,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(header=header, prefix=prefix, margin=margin, clock=clock, session=session)
        if (login is None) == (login_url is None):
            raise HttpConfigError(
                "SessionTokenAuth takes a login callable, or login_url= with credentials=, exactly one of them"
            )
        if login_url is not None and credentials is None:
            raise HttpConfigError(f"SessionTokenAuth(login_url={login_url!r}) needs credentials= to POST as JSON")
        self.login = login
        self.login_url = login_url
        self.credentials = dict(credentials or {})
        self.token_path = token_path
        self.expires_in = expires_in

    def secrets(self) -> list[str]:
        return [*super().secrets(), *(value for value in self.credentials.values() if isinstance(value, str))]

    def fetch_token(self, session: requests.Session) -> tuple[str, float | None]:
        if self.login is not None:
            token = self.login(session)
            if not isinstance(token, str) or not token:
                raise HttpConfigError(
                    f"SessionTokenAuth's login callable returned a {type(token).__name__} (empty or not text); it must "
                    "return the token as a non-empty str"
                )
            return token, self.expires_in
        assert self.login_url is not None
        redactor = Redactor(values=self.secrets())
        body = self._post(session, self.login_url, "login", "check the credentials", redactor, json=self.credentials)
        return _token_from(body, self.token_path, "login", redactor.url(self.login_url)), self.expires_in
