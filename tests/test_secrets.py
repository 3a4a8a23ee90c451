"""headwater.secrets: which configuration values are secrets, and masking every encoded form of them;
LogPrinter's injectable redaction."""

from __future__ import annotations

import base64
import io
import json
import time
from urllib.parse import quote, quote_plus

import pytest

from headwater.log import Level, Logging, LogPrinter, redacting, use_printer
from headwater.recording.redaction import Redactor
from headwater.secrets import (
    REDACTED,
    SecretMasker,
    encoded_forms,
    is_secret_key,
    looks_like_credential,
    secret_values,
)

#: Secrets with every character that changes an encoding: quotes, backslash, spaces, +, /, non-ASCII.
TRICKY = [
    "it's-4-s3cret",
    'both\'and"quotes',
    "C:\\vault\\t0ken\\n1",
    "open sesame + 42 more",
    "slash/and+plus=eq",
    "sécret-ünïcode-€42",
    "emoji-😀-key-99",
    "tab\tand\nnewline-77",
]


def oracle_forms(value: str) -> set[str]:
    """The forms a secret takes, computed here independently of headwater's list."""
    raw = value.encode("utf-8")
    forms = {
        value,
        repr(value)[1:-1],
        ascii(value)[1:-1],
        repr(value + "'\"")[1:-4],                    # single-quote style with \' escaped
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        quote(value, safe="!#$%&'()*+,/:;=?@[]~"),    # requests' requote_uri
        repr(raw)[2:-1],
    }
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms |= {encoded, encoded.rstrip("=")}
    return forms


@pytest.mark.parametrize("secret", TRICKY)
def test_every_encoded_form_is_masked_and_the_text_around_it_kept(secret: str) -> None:
    mask = SecretMasker([secret])
    for form in oracle_forms(secret):
        masked = mask(f"before >{form}< after")
        assert masked.startswith("before >") and masked.endswith("< after"), (form, masked)
        assert form not in masked and secret not in masked, (form, masked)


@pytest.mark.parametrize("secret", TRICKY)
def test_python_repr_of_both_quote_styles_and_nested_reprs_are_masked(secret: str) -> None:
    mask = SecretMasker([secret])
    for text in (repr(secret), ascii(secret), repr([secret]), repr({"k": secret}), repr(repr(secret)),
                 repr(KeyError(secret)), str(KeyError(secret)), json.dumps({"k": secret}),
                 json.dumps(json.dumps({"k": secret})), repr(secret.encode("utf-8"))):
        masked = mask(text)
        assert REDACTED in masked, text
        for form in oracle_forms(secret):
            assert form not in masked, (text, form, masked)


def test_encoded_forms_include_what_repr_and_json_write() -> None:
    value = 'a\'b"c\\d é'
    forms = encoded_forms(value)
    assert {repr(value)[1:-1], ascii(value)[1:-1], json.dumps(value)[1:-1], quote_plus(value)} <= forms
    assert "a\\'b\"c\\\\d é" in forms and 'a\'b\\"c\\\\d é' in forms   # both quote styles


def test_base64_anywhere_inside_a_longer_base64_text_masks_the_whole_word() -> None:
    secret = "hunter2-password"
    mask = SecretMasker([secret])
    for user in ("a", "ab", "abc", "someone@example.com"):
        pair = f"{user}:{secret}".encode()
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            word = encode(pair).decode()
            assert mask(f"Authorization: Basic {word}\n") == f"Authorization: Basic {REDACTED}\n"
            assert mask(f'{{"auth": "{word.rstrip("=")}"}}') == f'{{"auth": "{REDACTED}"}}'
    blob = base64.b64encode(b"x" * 100 + secret.encode() + b"y" * 100).decode()
    assert mask(f"data={blob};") == f"data={REDACTED};"


def test_short_secret_in_a_basic_auth_pair_is_masked_when_the_user_is_a_configuration_value() -> None:
    configuration = {"username": "svc", "password": "pw!5x", "base_url": "https://api.example.com"}
    mask = SecretMasker.from_configuration(configuration)
    for pair in ("svc:pw!5x", "pw!5x:svc", "pw!5x:"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            word = encode(pair.encode("latin-1")).decode()
            assert mask(f"Basic {word}") == f"Basic {REDACTED}", pair
            assert mask(f"Basic {word.rstrip('=')}") == f"Basic {REDACTED}", pair
    assert mask("svc at https://api.example.com") == "svc at https://api.example.com"


def test_basic_auth_with_latin1_credentials_as_requests_sends_them() -> None:
    import requests.auth

    mask = SecretMasker(["pässwörd-long"], users=["usér"])
    header = requests.auth._basic_auth_str("usér", "pässwörd-long")
    assert mask(header) == f"Basic {REDACTED}"


def test_numeric_secret_is_masked_but_not_inside_longer_numbers() -> None:
    mask = SecretMasker(["123456789012"])
    assert mask("key=123456789012&x=1") == f"key={REDACTED}&x=1"
    assert mask('{"id": 91234567890123, "k": 123456789012}') == f'{{"id": 91234567890123, "k": {REDACTED}}}'
    assert mask(base64.b64encode(b"123456789012").decode()) == REDACTED


def test_values_shorter_than_four_characters_are_never_masked() -> None:
    mask = SecretMasker(["abc", "", "   x  "])
    assert not mask and mask("abc x") == "abc x"


def test_stripped_value_and_secrets_inside_a_secret_are_masked() -> None:
    mask = SecretMasker(["  padded-secret-1  ", "postgres://app:db-p4ss@db.internal/x", "Bearer tok-abcdef123"])
    assert mask("k=padded-secret-1") == f"k={REDACTED}"
    assert mask("password=db-p4ss") == f"password={REDACTED}"
    assert mask("token tok-abcdef123") == f"token {REDACTED}"


def test_overlapping_secrets_are_masked_whole() -> None:
    mask = SecretMasker(["abcd1234", "1234wxyz"])
    assert "wxyz" not in mask("abcd1234wxyz") and "abcd" not in mask("abcd1234wxyz")


def test_bytes_are_masked_in_utf8_and_latin1() -> None:
    mask = SecretMasker(["sécret-42"])
    data = b"\x00\xff" + "sécret-42".encode() + b"|" + "sécret-42".encode("latin-1") + b"|"
    data += base64.b64encode("sécret-42".encode())
    assert mask.mask_bytes(data) == b"\x00\xff<redacted>|<redacted>|<redacted>"


@pytest.mark.parametrize(("configuration", "secret"), [
    ({"api_key": "123456789012"}, True),                          # numeric under a secret name
    ({"password": "hunter2"}, True),
    ({"token": "true"}, False),
    ({"client_secret": "abc"}, False),                            # shorter than 4
    ({"auth": "https://auth.example.com/oauth"}, False),          # a URL without a password
    ({"token_url": "https://auth.example.com/token"}, False),     # describes a credential
    ({"auth_type": "oauth2"}, False),
    ({"table": "customers"}, False),
    ({"base_url": "https://api.example.com"}, False),
    ({"start_date": "2024-01-01"}, False),
    ({"page_size": "100"}, False),
    ({"account": "acme-corp"}, False),
    ({"workspace_id": "123e4567-e89b-12d3-a456-426614174000"}, False),
    ({"orders_table": "customers_orders_2024_backup"}, False),
    ({"database_url": "postgres://app:db-p4ss@db.internal/x"}, True),
    ({"github": "ghp_" + "a1B2c3D4" * 5}, True),
    ({"openai": "sk-proj-abcdefghijklmnop1234"}, True),
    ({"session_jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXBhcnQ"}, True),
    ({"anything": "xQ9vR2mT7kL4pZ8wN3bY6cF1"}, True),
    ({"hexkey": "0123456789abcdef0123456789abcdef"}, True),
    ({"cert": "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8\n-----END PRIVATE KEY-----"},
     True),
])
def test_which_configuration_values_are_secret(configuration: dict[str, str], secret: bool) -> None:
    assert bool(secret_values(configuration)) is secret


def test_credential_shapes_and_key_names() -> None:
    assert not any(looks_like_credential(value) for value in (
        "customers", "https://api.example.com", "2024-01-01T00:00:00Z", "api.example.com", "someone@example.com",
        "/var/lib/data/file.csv", "CustomerOrdersTable", "America/New_York", "1234567890123456",
        "Report2024Q1Summary", "sk-learn-pipeline-v2", "basic plan tier", "Token bucket"))
    assert all(looks_like_credential(value) for value in (
        "xoxb-1234567890-abcdefghij", "AKIAIOSFODNN7EXAMPLE", "Bearer abc123def", "https://u:pw@host/db",
        "Basic c3ZjOmh1bnRlcjI=", "q8zk3mfp9xw2rt7b6yv4n5hd", "sk_live_51HxYz2eZvKYlo2C0aBcDeFgH"))
    assert [is_secret_key(name) for name in ("apiKey", "client_secret", "api_key_header", "client_id")] == [
        True, True, False, False]


def test_pem_block_is_masked_also_as_its_one_line_body() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEF\nAASCAUAwggE8AgEAAkEA\n-----END PRIVATE KEY-----"
    mask = SecretMasker.from_configuration({"cert": pem})
    assert mask(f"key={json.dumps(pem)}") == f'key="{REDACTED}"'
    assert mask("der MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEA end") == f"der {REDACTED} end"


def _corpus(size: int) -> str:
    import random
    import string

    generator = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    rows = []
    while sum(map(len, rows)) < size:
        word = "".join(generator.choice(alphabet) for _ in range(24))
        rows.append(json.dumps({"id": len(rows), "name": word, "note": "lorem ipsum dolor sit amet",
                                "url": f"https://api.example.com/v1/items/{word[:8]}"}))
    return "\n".join(rows)[:size]


def _best_of(runs: int, function: object, *args: object) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function(*args)  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return min(timings)


def test_masking_a_megabyte_takes_milliseconds_and_grows_linearly() -> None:
    configuration = {"username": "svc", "password": "pw!5x", "api_key": "123456789012", "token": "C:\\vault\\t0ken",
                     "client_secret": "it's-4-s3cret", "passphrase": "open sesame + 42 more",
                     "extra": "xQ9vR2mT7kL4pZ8wN3bY6cF1", "signing_secret": "sécret-ünïcode-€42"}
    mask = SecretMasker.from_configuration(configuration)
    megabyte = _corpus(1_000_000)
    with_secrets = megabyte[:500_000] + " it's-4-s3cret Basic c3ZjOnB3ITV4 " * 50 + megabyte[500_000:]
    one = _best_of(3, mask, megabyte)
    assert one < 0.15, f"{one * 1000:.1f} ms for 1 MB"          # about 10 ms on a busy laptop core
    assert _best_of(3, mask, with_secrets) < 0.15
    assert mask(with_secrets).count(REDACTED) == 100
    two = _best_of(3, mask, megabyte * 2)
    assert two < 4 * one + 0.01, (one, two)
    assert _best_of(1, mask.mask_bytes, megabyte.encode()) < 0.15


def test_pathological_texts_stay_linear() -> None:
    mask = SecretMasker(["aaaaaaaa", "hunter2-password"])
    blob = base64.b64encode(b"hunter2-password" * 20_000).decode()       # 426 kB, the secret 20,000 times
    assert _best_of(1, mask, blob) < 1.0
    assert mask(blob) == REDACTED
    assert _best_of(1, mask, "a" * 200_000) < 1.0


# -- the recording redactor -------------------------------------------------------------------


def test_a_json_response_stays_valid_json_when_a_numeric_secret_is_a_bare_number() -> None:
    redactor = Redactor.from_configuration({"api_key": "123456789012"})
    body = '{"key": 123456789012, "echo": "key=123456789012", "n": 1}'
    masked = redactor.document(body, "application/json")
    assert json.loads(masked) == {"key": REDACTED, "echo": f"key={REDACTED}", "n": 1}
    assert redactor.document('{"n": 1}', "application/json") == '{"n": 1}'


def test_request_bodies_mask_numeric_secrets_and_hash_the_same_every_time() -> None:
    redactor = Redactor.from_configuration({"api_key": "123456789012"})
    first = redactor.body(b'{"n": 123456789012, "q": "x"}', "application/json")
    assert first == redactor.body(b'{"q": "x", "n": 123456789012}', "application/json")
    assert first[1] == '{"n":"<redacted>","q":"x"}'


# -- LogPrinter ---------------------------------------------------------------------------------


def test_log_printer_masks_every_line_before_indenting_continuation_lines() -> None:
    stream = io.StringIO()
    mask = SecretMasker(["multi\nline-secret"])
    printer = LogPrinter(stream, clock=lambda: 0.0, redact=mask)
    printer.log(Level.INFO, "connector", "key multi\nline-secret and 'multi\\nline-secret'")
    printer.write_raw("raw multi\nline-secret\n")
    text = stream.getvalue()
    assert "line-secret" not in text and text.count(REDACTED) == 3


def test_log_printer_masks_nothing_by_default_and_redacting_installs_and_restores() -> None:
    stream = io.StringIO()
    printer = LogPrinter(stream, clock=lambda: 0.0)
    previous = use_printer(printer)
    try:
        Logging.info("key sk-live-0123456789abcdef")
        with redacting(SecretMasker(["sk-live-0123456789abcdef"])) as installed:
            assert installed is printer
            Logging.warning("key sk-live-0123456789abcdef")
            try:
                raise ValueError("bad key 'sk-live-0123456789abcdef'")
            except ValueError as exc:
                Logging.severe("failed", exc)
        Logging.info("after sk-live-0123456789abcdef")
    finally:
        use_printer(previous)
    lines = stream.getvalue()
    assert printer.redact is None
    assert lines.count("sk-live-0123456789abcdef") == 2          # before and after the block
    assert "WARNING  [connector] key <redacted>" in lines and "bad key '<redacted>'" in lines
