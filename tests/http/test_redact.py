"""Secrets out of what HttpClient writes: its debug line, its error messages and the exceptions chained
to them. Known secret values (the auth's credentials and tokens, ``secrets=``) are masked wherever
they sit in a URL, raw or encoded; secret-named query parameters are masked whatever their value."""

from __future__ import annotations

import traceback
from collections.abc import Callable

import pytest
from http_helpers import FakeTime, LogCapture, RawServer, refused_url
from pytest_httpserver import HTTPServer

from headwater.http import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ClientError,
    HttpClient,
    HttpConfigError,
    HttpTimeoutError,
    InvalidResponseError,
    OAuth2ClientCredentials,
    RetryPolicy,
    SessionTokenAuth,
    TransportError,
)
from headwater.http._redact import Redactor


def chained_texts(error: BaseException) -> str:
    """The text of an exception and of every exception chained to it or held in its arguments: what a
    traceback prints, without the source lines (which in a test hold the secrets literally)."""
    texts, seen, pending = [], set(), [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts.append("".join(traceback.format_exception_only(type(current), current)))
        pending.extend(item for item in (current.__cause__, current.__context__, getattr(current, "reason", None),
                                         *current.args) if isinstance(item, BaseException))
    return "\n".join(texts)


# ------------------------------------------------------------------------------------ the Redactor


@pytest.mark.parametrize(("url", "shown"), [
    # raw, in a path segment and in a query value with an ordinary name
    ("https://h/v1/accounts/sk-live-42/items?k=sk-live-42&page=2", "https://h/v1/accounts/***/items?k=***&page=2"),
    # percent-encoded, upper and lower case hex, and + for a space
    ("https://h/a/sk%20live%2F42?q=sk+live%2f42", "https://h/a/***?q=***"),
    # partly encoded, as requests leaves a path: the space escaped, the slash and the plus not
    ("https://h/a/sk%20live/42", "https://h/a/***"),
    # the user name of the user info (the password is always hidden)
    ("https://sk%20live%2F42:x@h/a", "https://***:***@h/a"),
])
def test_a_known_secret_is_masked_wherever_it_sits_in_a_url_raw_or_encoded(url: str, shown: str) -> None:
    redactor = Redactor(values=["sk-live-42", "sk live/42"])

    assert redactor.url(url) == shown
    assert redactor.text(f"GET {url} failed") == f"GET {shown} failed"


def test_a_secret_with_non_ascii_and_reserved_characters_is_masked_encoded_as_utf8() -> None:
    redactor = Redactor(values=["pässwörd&1=2"])

    assert redactor.url("https://h/x?p=p%C3%A4ssw%c3%b6rd%261%3D2&page=1") == "https://h/x?p=***&page=1"
    assert redactor.url("https://h/pässwörd&1=2/x") == "https://h/***/x"


def test_a_numeric_secret_is_masked() -> None:
    redactor = Redactor(values=["123456789"])

    assert redactor.url("https://h:8443/v1/accounts/123456789/items?id=123456789") == (
        "https://h:8443/v1/accounts/***/items?id=***")


def test_secrets_shorter_than_four_characters_are_left_alone() -> None:
    redactor = Redactor(values=["abc", "42"])
    text = "GET https://h/abc/42?x=abc failed after 42 s"

    assert redactor.text(text) == text


def test_a_secret_containing_another_is_masked_whole() -> None:
    redactor = Redactor(values=["abcd", "abcdefgh"])

    assert redactor.text("abcdefgh abcd") == "*** ***"


# ------------------------------------------------------------------------------ HttpClient's output

def test_an_api_key_sent_in_a_header_is_masked_where_it_also_sits_in_the_path(
    server: HTTPServer, fake: FakeTime, logs: LogCapture
) -> None:
    server.expect_request("/v1/accounts/key-7f3a9/items").respond_with_data("no", status=404)
    client = fake.client(server.url_for("/v1"), auth=ApiKeyAuth("key-7f3a9"))

    with pytest.raises(ClientError) as caught:
        client.get("/accounts/key-7f3a9/items", params={"k": "key-7f3a9"})

    shown = server.url_for("/v1/accounts/***/items") + "?k=***"
    assert caught.value.url == shown and str(caught.value).startswith(f"GET {shown} failed with 404")
    assert logs.matching(f"GET {shown} -> 404")
    assert "key-7f3a9" not in "\n".join(logs.lines) + str(caught.value)


@pytest.mark.parametrize("auth", [BearerAuth("tok-5e1d0"), BasicAuth("me", "tok-5e1d0")])
def test_the_credentials_of_the_auth_are_masked_in_urls(
    server: HTTPServer, fake: FakeTime, logs: LogCapture, auth: BearerAuth | BasicAuth
) -> None:
    server.expect_request("/files/tok-5e1d0").respond_with_json({})

    fake.client(server.url_for("/"), auth=auth).get("/files/tok-5e1d0", params={"sig": "x", "t": "tok-5e1d0"})

    assert logs.matching(f"GET {server.url_for('/files/***')}?sig=***&t=*** -> 200")
    assert not logs.matching("tok-5e1d0")


def test_a_numeric_secret_given_as_a_number_or_a_string_is_masked(
    server: HTTPServer, fake: FakeTime, logs: LogCapture
) -> None:
    server.expect_request("/accounts/123456789/items").respond_with_json({})
    server.expect_request("/tenants/987654321").respond_with_json({})
    client = fake.client(server.url_for("/"), secrets=[123456789, "987654321"])

    client.get("/accounts/123456789/items")
    client.get("/tenants/987654321")

    assert logs.matching(f"GET {server.url_for('/accounts/***/items')} -> 200")
    assert logs.matching(f"GET {server.url_for('/tenants/***')} -> 200")


def test_secrets_sent_encoded_are_masked_encoded(server: HTTPServer, fake: FakeTime, logs: LogCapture) -> None:
    secret = "s3cr et/+é"
    server.expect_request("/x").respond_with_json({})
    client = fake.client(server.url_for("/"), secrets=[secret])

    client.get("/x", params={"q": secret, "page": 1})

    assert logs.matching(f"GET {server.url_for('/x')}?q=***&page=1 -> 200")


def test_tokens_and_login_credentials_of_token_auths_are_masked(
    server: HTTPServer, fake: FakeTime, logs: LogCapture
) -> None:
    server.expect_request("/login", method="POST").respond_with_json({"token": "session-abc123"})
    server.expect_request("/echo/session-abc123/pw-4d5e6f").respond_with_json({})
    auth = SessionTokenAuth(login_url=server.url_for("/login"), credentials={"user": "me", "password": "pw-4d5e6f"})

    fake.client(server.url_for("/"), auth=auth).get("/echo/session-abc123/pw-4d5e6f")

    assert logs.matching(f"GET {server.url_for('/echo/***/***')} -> 200")
    assert not logs.matching("abc123") and not logs.matching("4d5e6f")


def test_the_exception_chained_to_an_error_is_masked_too(
    fake: FakeTime, logs: LogCapture, caplog: pytest.LogCaptureFixture
) -> None:
    url = refused_url()
    client = fake.client(url, secrets=["acct-91c2e7"], retry=fake.policy(max_attempts=2))

    with pytest.raises(TransportError) as caught:
        client.get("/accounts/acct-91c2e7/items", params={"k": "acct-91c2e7", "api_key": "zz-top-1"})

    printed = chained_texts(caught.value)
    assert "Max retries exceeded with url: /accounts/***/items?k=***&api_key=***" in printed
    assert "acct-91c2e7" not in printed and "zz-top-1" not in printed
    assert not logs.matching("acct-91c2e7")
    # urllib3's own "Retrying ..." warning names the path and query too.
    assert "Retrying" in caplog.text and "/accounts/***/items?k=***" in caplog.text and "acct-91c2e7" not in caplog.text


def test_a_timeout_error_masks_the_url_in_its_message_and_its_chain(raw_server: Callable[..., RawServer]) -> None:
    raw = raw_server(["hang"])
    client = HttpClient(raw.url, timeout=(1, 0.2), secrets=["acct-91c2e7"], retry=RetryPolicy(max_attempts=1))

    with pytest.raises(HttpTimeoutError) as caught:
        client.get("/accounts/acct-91c2e7/items", params={"k": "acct-91c2e7"})

    printed = chained_texts(caught.value)
    assert f"GET {raw.url}/accounts/***/items?k=*** failed" in printed and "acct-91c2e7" not in printed


def test_an_auth_error_raised_during_a_request_masks_the_clients_secrets(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/tenant-5a6b7c/token", method="POST").respond_with_json({"nothing": "here"})
    auth = OAuth2ClientCredentials(server.url_for("/tenant-5a6b7c/token"), "app", "s3cret", clock=fake.monotonic)
    client = fake.client(server.url_for("/"), auth=auth, secrets=["tenant-5a6b7c"])

    with pytest.raises(InvalidResponseError) as caught:
        client.get("/x")

    assert str(caught.value) == (f"the OAuth2 token response from {server.url_for('/***/token')} has no "
                                 "'access_token'; it has nothing")


@pytest.mark.parametrize("secret", [b"bytes-secret", 1.5, ["a-list"], True])
def test_a_secret_that_is_not_text_is_refused(secret: object) -> None:
    with pytest.raises(HttpConfigError) as caught:
        HttpClient("http://127.0.0.1", secrets=["fine-1234", secret])  # type: ignore[list-item]

    message = str(caught.value)
    assert f"secrets[1] is a {type(secret).__name__}, not a str" in message and repr(secret) not in message


@pytest.mark.parametrize(("options", "phrase"), [
    ({"secrets": "sk-live-42"}, "pass secrets=[value]"),
    ({"secret_params": "sig"}, "pass secret_params=['sig']"),
])
def test_secrets_given_as_one_string_instead_of_a_list_are_refused(options: dict[str, str], phrase: str) -> None:
    with pytest.raises(HttpConfigError) as caught:
        HttpClient("http://127.0.0.1", **options)  # type: ignore[arg-type]

    assert phrase in str(caught.value) and "sk-live-42" not in str(caught.value)


def test_a_missing_secret_is_skipped(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/x").respond_with_json({})

    fake.client(server.url_for("/"), secrets=[None, "fine-1234"]).get("/x")

