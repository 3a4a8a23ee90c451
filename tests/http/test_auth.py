"""Every auth class against loopback token, login and API endpoints."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from http_helpers import FakeTime, LogCapture
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from headwater.http import (
    ApiKeyAuth,
    AuthenticationError,
    BasicAuth,
    BearerAuth,
    HttpConfigError,
    InvalidResponseError,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    SessionTokenAuth,
)


class TokenEndpoint:
    """A token (or login) endpoint handing out tok1, tok2, ... and recording what it was sent."""

    def __init__(self, prefix: str = "tok", expires_in: int | None = 3600, extra: dict[str, Any] | None = None) -> None:
        self.prefix = prefix
        self.expires_in = expires_in
        self.extra = extra or {}
        self.forms: list[dict[str, str]] = []
        self.bodies: list[Any] = []
        self.authorizations: list[str | None] = []

    def __call__(self, request: Request) -> Response:
        self.forms.append(dict(request.form))
        self.bodies.append(request.get_json(silent=True))
        self.authorizations.append(request.headers.get("Authorization"))
        body: dict[str, Any] = {"access_token": f"{self.prefix}{len(self.forms)}", "token_type": "Bearer",
                                **self.extra}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return Response(json.dumps(body), content_type="application/json")

    @property
    def calls(self) -> int:
        return len(self.forms)


class ProtectedApi:
    """An API endpoint that accepts only the listed header values and answers 401 to any other."""

    def __init__(self, header: str, accepted: set[str]) -> None:
        self.header = header
        self.accepted = accepted
        self.seen: list[str | None] = []

    def __call__(self, request: Request) -> Response:
        value = request.headers.get(self.header)
        self.seen.append(value)
        if value in self.accepted:
            return Response('{"ok": true}', content_type="application/json")
        return Response('{"error": "invalid token"}', status=401, content_type="application/json")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ------------------------------------------------------------------------------- static credentials

def test_api_key_goes_in_the_x_api_key_header_by_default(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/x", headers={"X-API-Key": "k-1"}).respond_with_json({})

    fake.client(server.url_for("/"), auth=ApiKeyAuth("k-1")).get("/x")


def test_api_key_in_a_named_header_with_a_prefix(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/x", headers={"Authorization": "Token k-1"}).respond_with_json({})

    fake.client(server.url_for("/"), auth=ApiKeyAuth("k-1", header="Authorization", prefix="Token ")).get("/x")


def test_api_key_in_the_query_is_sent_and_hidden_in_the_log(server: HTTPServer, fake: FakeTime,
                                                            logs: LogCapture) -> None:
    server.expect_ordered_request("/x", query_string={"page": "2", "appid": "k-1"}).respond_with_json({})

    fake.client(server.url_for("/"), auth=ApiKeyAuth("k-1", query_param="appid")).get("/x", params={"page": 2})

    assert logs.matching("GET http://localhost") and logs.matching("/x?page=2&appid=*** -> 200")
    assert not logs.matching("k-1")


def test_basic_auth_sends_user_and_password_as_utf8(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/x", headers={"Authorization": basic("me", "pässwörd")}).respond_with_json({})

    fake.client(server.url_for("/"), auth=BasicAuth("me", "pässwörd")).get("/x")


def test_bearer_auth_sends_the_token(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/x", headers={"Authorization": "Bearer t-1"}).respond_with_json({})

    fake.client(server.url_for("/"), auth=BearerAuth("t-1")).get("/x")


def test_auth_reprs_hide_the_secrets() -> None:
    shown = " ".join(repr(auth) for auth in (ApiKeyAuth("k-1"), BasicAuth("me", "pw-1"), BearerAuth("t-1")))

    assert "k-1" not in shown and "pw-1" not in shown and "t-1" not in shown and "'me'" in shown


@pytest.mark.parametrize(("build", "phrase"), [
    (lambda: ApiKeyAuth("k", header="X-Key", query_param="key"), "not both"),
    (lambda: ApiKeyAuth(""), "non-empty string"),
    (lambda: ApiKeyAuth("k", query_param="key", prefix="Bearer "), "applies to a header only"),
    (lambda: BearerAuth(""), "non-empty string"),
    (lambda: OAuth2ClientCredentials("https://a/token", "id", "secret", client_auth="post"),  # type: ignore[arg-type]
     "must be 'basic'"),
    (lambda: OAuth2RefreshToken("https://a/token", "r", client_secret="s"), "needs client_id"),
    (lambda: SessionTokenAuth(), "exactly one of them"),
    (lambda: SessionTokenAuth(login_url="https://a/login"), "needs credentials="),
])
def test_auth_classes_reject_invalid_arguments(build: Any, phrase: str) -> None:
    with pytest.raises(HttpConfigError) as caught:
        build()

    assert phrase in str(caught.value)


# ---------------------------------------------------------------------- OAuth2 client credentials

def test_client_credentials_fetch_a_token_once_and_reuse_it(server: HTTPServer, fake: FakeTime) -> None:
    tokens = TokenEndpoint()
    server.expect_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_request("/x", headers={"Authorization": "Bearer tok1"}).respond_with_json({})
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", scope="read write", clock=fake.monotonic)
    client = fake.client(server.url_for("/"), auth=auth)

    client.get("/x")
    client.get("/x")

    assert tokens.calls == 1
    assert tokens.forms == [{"grant_type": "client_credentials", "scope": "read write"}]
    assert tokens.authorizations == [basic("app", "s3cret")]


def test_client_credentials_in_the_body_with_extra_fields(server: HTTPServer, fake: FakeTime) -> None:
    tokens = TokenEndpoint()
    server.expect_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_request("/x").respond_with_json({})
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", client_auth="body",
                                   extra={"audience": "https://api"}, clock=fake.monotonic)

    fake.client(server.url_for("/"), auth=auth).get("/x")

    assert tokens.forms == [{"grant_type": "client_credentials", "client_id": "app", "client_secret": "s3cret",
                             "audience": "https://api"}]
    assert tokens.authorizations == [None]


def test_the_token_is_renewed_before_it_expires(server: HTTPServer, fake: FakeTime) -> None:
    tokens = TokenEndpoint(expires_in=1200)
    api = ProtectedApi("Authorization", {"Bearer tok1", "Bearer tok2"})
    server.expect_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_request("/x").respond_with_handler(api)
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", margin=60, clock=fake.monotonic)
    client = fake.client(server.url_for("/"), auth=auth)

    client.get("/x")
    fake.advance(1139)  # 61 s of validity left: more than the margin
    client.get("/x")
    fake.advance(2)  # 59 s left: within the margin, renewed before use
    client.get("/x")

    assert api.seen == ["Bearer tok1", "Bearer tok1", "Bearer tok2"] and tokens.calls == 2


def short_lived_oauth2_client_credentials(url: str, fake: FakeTime) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(url + "token", "app", "s3cret", clock=fake.monotonic)


def short_lived_oauth2_refresh_token(url: str, fake: FakeTime) -> OAuth2RefreshToken:
    return OAuth2RefreshToken(url + "token", "r1", clock=fake.monotonic)


def short_lived_session_token(url: str, fake: FakeTime) -> SessionTokenAuth:
    return SessionTokenAuth(login_url=url + "token", credentials={"user": "me", "password": "pw-1"},
                            token_path="access_token", expires_in=30, clock=fake.monotonic)


@pytest.mark.parametrize("build", [short_lived_oauth2_client_credentials, short_lived_oauth2_refresh_token,
                                   short_lived_session_token])
def test_a_token_living_shorter_than_the_margin_is_reused_for_most_of_its_life(
    server: HTTPServer, fake: FakeTime, logs: LogCapture, build: Any
) -> None:
    tokens = TokenEndpoint(expires_in=30)  # the default margin is 60 s: longer than the token lives
    server.expect_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_request("/x").respond_with_json({})
    client = fake.client(server.url_for("/"), auth=build(server.url_for("/"), fake))

    client.get("/x")
    for _ in range(26):  # a request a second for 26 s: the token is still good for 4 s, more than 10 % of 30 s
        fake.advance(1)
        client.get("/x")
    fake.advance(1.5)  # 2.5 s left: within the margin, which is 3 s, a tenth of the lifetime
    client.get("/x")

    assert tokens.calls == 2
    assert [request.headers.get("Authorization") for request, _ in server.log if request.path == "/x"] == (
        ["Bearer tok1"] * 27 + ["Bearer tok2"])
    assert logs.matching(f"renewing {client.auth.purpose}: it expires within 3 s")  # type: ignore[union-attr]


def test_the_margin_is_at_most_a_tenth_of_the_lifetime_and_at_most_margin(fake: FakeTime) -> None:
    auth = OAuth2ClientCredentials("https://auth.example.com/token", "app", "s3cret", margin=60, clock=fake.monotonic)

    assert [auth.margin_for(lifetime) for lifetime in (30, 300, 600, 3600, 0.5)] == [3, 30, 60, 60, 0.05]


def test_a_401_renews_the_token_and_resends_once(server: HTTPServer, fake: FakeTime, logs: LogCapture) -> None:
    tokens = TokenEndpoint()
    api = ProtectedApi("Authorization", {"Bearer tok2"})  # tok1 was revoked on the server's side
    server.expect_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_request("/x").respond_with_handler(api)
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", clock=fake.monotonic)

    response = fake.client(server.url_for("/"), auth=auth).get("/x")

    assert response.json() == {"ok": True} and [r.status_code for r in response.history] == [401]
    assert api.seen == ["Bearer tok1", "Bearer tok2"] and tokens.calls == 2
    assert logs.matching("401 Unauthorized: sending the request once more with an OAuth2 access token just obtained")


def test_a_second_401_raises_authentication_error_without_looping(server: HTTPServer, fake: FakeTime) -> None:
    tokens = TokenEndpoint()
    api = ProtectedApi("Authorization", set())
    server.expect_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_request("/x").respond_with_handler(api)
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", clock=fake.monotonic)

    with pytest.raises(AuthenticationError) as caught:
        fake.client(server.url_for("/"), auth=auth).get("/x")

    assert caught.value.status_code == 401 and len(api.seen) == 2 and tokens.calls == 2
    assert "failed with 401; the credentials were refused" in str(caught.value)
    assert "tok2" not in str(caught.value)


def test_a_refused_token_request_raises_authentication_error(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/token", method="POST").respond_with_data(
        '{"error": "invalid_client", "echo": "s3cret"}', status=401, content_type="application/json")
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", clock=fake.monotonic)

    with pytest.raises(AuthenticationError) as caught:
        fake.client(server.url_for("/"), auth=auth).get("/x")

    assert str(caught.value) == (
        f'POST {server.url_for("/token")} (OAuth2 token request) failed with 401: '
        '{"error": "invalid_client", "echo": "***"}; check client_id, client_secret and scope'
    )
    assert caught.value.status_code == 401


def test_a_token_response_without_access_token_names_what_it_has(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/token", method="POST").respond_with_json({"token": "x", "ttl": 60})
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", clock=fake.monotonic)

    with pytest.raises(InvalidResponseError, match="has no 'access_token'; it has token, ttl"):
        fake.client(server.url_for("/"), auth=auth).get("/x")


def test_token_requests_get_the_clients_retries(server: HTTPServer, fake: FakeTime) -> None:
    tokens = TokenEndpoint()
    server.expect_ordered_request("/token", method="POST").respond_with_data("busy", status=503)
    server.expect_ordered_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_ordered_request("/x", headers={"Authorization": "Bearer tok1"}).respond_with_json({})
    auth = OAuth2ClientCredentials(server.url_for("/token"), "app", "s3cret", clock=fake.monotonic)
    policy = fake.policy(methods={"GET", "POST"})

    fake.client(server.url_for("/"), auth=auth, retry=policy).get("/x")

    assert fake.sleeps == [0.5]


def test_token_auth_works_with_plain_requests_too(server: HTTPServer) -> None:
    tokens = TokenEndpoint()
    server.expect_request("/token", method="POST").respond_with_handler(tokens)
    server.expect_request("/x", headers={"Authorization": "Bearer tok1"}).respond_with_json({"ok": True})

    response = requests.get(server.url_for("/x"), auth=OAuth2ClientCredentials(server.url_for("/token"), "a", "b"),
                            timeout=5)

    assert response.json() == {"ok": True}


# ---------------------------------------------------------------------------- OAuth2 refresh token

def test_refresh_token_grant_uses_and_rotates_the_refresh_token(server: HTTPServer, fake: FakeTime) -> None:
    rotated: list[str] = []

    def token_endpoint(request: Request) -> Response:
        number = len(rotated) + 1
        return Response(json.dumps({"access_token": f"tok{number}", "expires_in": 3600,
                                    "refresh_token": f"r{number + 1}", "form": dict(request.form)}),
                        content_type="application/json")

    api = ProtectedApi("Authorization", {"Bearer tok2"})
    server.expect_request("/token", method="POST").respond_with_handler(token_endpoint)
    server.expect_request("/x").respond_with_handler(api)
    auth = OAuth2RefreshToken(server.url_for("/token"), "r1", client_id="app", client_secret="s3cret",
                              on_new_refresh_token=rotated.append, clock=fake.monotonic)

    fake.client(server.url_for("/"), auth=auth).get("/x")  # tok1 is refused: a second refresh

    forms = [json.loads(response.get_data())["form"] for _, response in server.log if "form" in response.get_data(
        as_text=True)]
    assert [form["refresh_token"] for form in forms] == ["r1", "r2"]
    assert {form["grant_type"] for form in forms} == {"refresh_token"}
    assert rotated == ["r2", "r3"] and auth.refresh_token == "r3"
    assert api.seen == ["Bearer tok1", "Bearer tok2"]


def test_a_revoked_refresh_token_says_to_authorize_again(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/token", method="POST").respond_with_json({"error": "invalid_grant"}, status=400)
    auth = OAuth2RefreshToken(server.url_for("/token"), "r1", clock=fake.monotonic)

    with pytest.raises(AuthenticationError, match="failed with 400: .*invalid_grant.*; the refresh token may be "
                                                  "revoked or expired: authorize again"):
        fake.client(server.url_for("/"), auth=auth).get("/x")


# ---------------------------------------------------------------------------------- session token

def test_session_token_logs_in_with_credentials_and_again_on_401(server: HTTPServer, fake: FakeTime) -> None:
    def login(request: Request) -> Response:
        logins.append(request.get_json())
        return Response(json.dumps({"session": {"token": f"s{len(logins)}"}}), content_type="application/json")

    logins: list[Any] = []
    api = ProtectedApi("X-Session", {"s1", "s2"})
    server.expect_request("/login", method="POST").respond_with_handler(login)
    server.expect_request("/x").respond_with_handler(api)
    auth = SessionTokenAuth(login_url=server.url_for("/login"), credentials={"user": "me", "password": "pw-1"},
                            token_path="session.token", header="X-Session", prefix="")
    client = fake.client(server.url_for("/"), auth=auth)

    client.get("/x")
    api.accepted.discard("s1")  # the session expires on the server's side
    client.get("/x")

    assert logins == [{"user": "me", "password": "pw-1"}] * 2
    assert api.seen == ["s1", "s1", "s2"]


def test_session_token_from_a_login_callable(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/auth", method="POST").respond_with_json({"jwt": "j1"})
    server.expect_request("/x", headers={"Authorization": "JWT j1"}).respond_with_json({})

    def login(session: requests.Session) -> str:
        return str(session.post(server.url_for("/auth"), json={"key": "k"}, timeout=5).json()["jwt"])

    fake.client(server.url_for("/"), auth=SessionTokenAuth(login, prefix="JWT ")).get("/x")


def test_session_token_with_a_known_lifetime_logs_in_again_before_it_ends(server: HTTPServer, fake: FakeTime) -> None:
    calls: list[int] = []

    def login(session: requests.Session) -> str:
        calls.append(1)
        return f"s{len(calls)}"

    server.expect_request("/x").respond_with_json({})
    client = fake.client(server.url_for("/"), auth=SessionTokenAuth(login, expires_in=600, margin=30,
                                                                   clock=fake.monotonic))
    client.get("/x")
    fake.advance(580)
    client.get("/x")

    assert calls == [1, 1]
    assert [request.headers["Authorization"] for request, _ in server.log] == ["Bearer s1", "Bearer s2"]


def test_a_login_callable_returning_no_token_is_a_config_error(server: HTTPServer, fake: FakeTime) -> None:
    client = fake.client(server.url_for("/"), auth=SessionTokenAuth(lambda session: None))  # type: ignore[arg-type,return-value]

    with pytest.raises(HttpConfigError,
                       match="login callable returned a NoneType .empty or not text.; it must return the token"):
        client.get("/x")
