"""Which values are secret, how they are redacted, and how redacted requests still match."""

from __future__ import annotations

import pytest

from headwater.recording import REDACTED, RequestKey, secret_values
from headwater.recording.redaction import Redactor, is_secret_header, is_secret_name


@pytest.mark.parametrize(("name", "secret"), [
    ("api_key", True), ("apiKey", True), ("X-Api-Key", True), ("access_token", True), ("client_secret", True),
    ("password", True), ("key", True), ("sig", True), ("sort_key", False), ("partition_key", False),
    ("page", False), ("author", False), ("base_url", False), ("monkey", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_credential_headers_are_secret_whatever_their_name_says() -> None:
    assert all(is_secret_header(name) for name in ("Authorization", "Cookie", "Set-Cookie", "X-Api-Key"))
    assert not is_secret_header("Accept")


def test_secret_values_are_named_like_secrets_or_look_like_credentials() -> None:
    configuration = {
        "api_key": "k-123456", "password": "https://u:p@x", "account": "acme-corp", "base_url": "https://api.x.io",
        "host": "api.example.com", "start": "2024-01-01", "page_size": "100", "flag": "true", "pin": "12",
        "access_key": "123456789012", "token_url": "https://auth.x.io/token", "table": "customers",
        "webhook": "https://hooks:s3cr3t-pw@hooks.x.io", "extra": "xQ9vR2mT7kL4pZ8wN3bY6cF1",
    }
    # An ordinary word under a plain key ("acme-corp") is no longer a secret: only names and credential shapes.
    assert secret_values(configuration) == {"api_key": "k-123456", "password": "https://u:p@x",
                                            "access_key": "123456789012",
                                            "webhook": "https://hooks:s3cr3t-pw@hooks.x.io",
                                            "extra": "xQ9vR2mT7kL4pZ8wN3bY6cF1"}


def test_redactor_covers_urls_headers_and_text_in_every_encoding() -> None:
    redactor = Redactor(["s3cr3t/+key"])
    url = "https://user:pw@api.x.io/v1/s3cr3t%2F%2Bkey/items?token=abc&q=s3cr3t%2F%2Bkey&page=2"
    assert redactor.url(url) == (f"https://user:{REDACTED}@api.x.io/v1/{REDACTED}/items?"
                                 f"token={REDACTED}&q={REDACTED}&page=2")
    assert redactor.headers({"Authorization": "Basic xyz", "X-Trace": "id s3cr3t/+key"}) == {
        "Authorization": REDACTED, "X-Trace": f"id {REDACTED}"}
    assert redactor.text('{"k": "s3cr3t/+key"}') == f'{{"k": "{REDACTED}"}}'
    assert Redactor(['pa"ss-wörd']).text('{"k": "pa\\"ss-w\\u00f6rd"}') == f'{{"k": "{REDACTED}"}}'
    assert redactor.data(b"x s3cr3t/+key y") == f"x {REDACTED} y".encode()


def test_redacted_json_bodies_hash_the_same_whatever_the_key_order_and_secret() -> None:
    redactor = Redactor()
    first = redactor.body(b'{"q": "a", "client_secret": "one"}', "application/json")
    second = redactor.body(b'{"client_secret": "two", "q": "a"}', "application/json")
    assert first == second and first[1] == '{"client_secret":"<redacted>","q":"a"}'
    assert redactor.body(b"a=1&password=x", "application/x-www-form-urlencoded")[1] == "a=1&password=<redacted>"
    assert redactor.body(None, None) == (None, None)


def test_a_redacted_value_in_a_recorded_url_matches_any_value_there() -> None:
    recorded = RequestKey.of("GET", f"https://api.x.io/bot{REDACTED}/updates?chat={REDACTED}&page=2", None)
    assert recorded.matches(RequestKey.of("GET", "https://API.x.io/botABC123/updates?page=2&chat=42", None))
    assert not recorded.matches(RequestKey.of("GET", "https://api.x.io/bot/updates?page=2&chat=42", None))
    assert not recorded.matches(RequestKey.of("GET", "https://api.x.io/botABC/updates?page=3&chat=42", None))
    assert not recorded.matches(RequestKey.of("POST", "https://api.x.io/botABC/updates?page=2&chat=42", None))


def test_pagination_tokens_are_not_secrets_but_access_tokens_are() -> None:
    from headwater.recording.redaction import is_secret_name

    for name in ("page_token", "nextPageToken", "continuation_token", "cursor_token", "sync_token"):
        assert not is_secret_name(name), name
    for name in ("token", "access_token", "refreshToken", "auth_token", "id_token"):
        assert is_secret_name(name), name
