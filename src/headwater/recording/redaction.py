"""Which values are secret, and how they are taken out of recorded requests and responses.

A recording must be safe to commit next to the connector, so every secret is replaced by
``<redacted>`` before anything reaches the recording folder:

- headers that carry credentials (``Authorization``, ``Proxy-Authorization``, ``Cookie``,
  ``Set-Cookie``, ``X-Api-Key`` and the like), whatever their value;
- query parameters and JSON/form body fields whose name says they are secret (``api_key``,
  ``access_token``, ``client_secret``, ``password``, ...);
- every secret configuration value (see :func:`secret_values`) wherever it appears: URL path,
  query, headers, request and response bodies, also percent-encoded or JSON-escaped.

Replay applies the same redaction to the live request before matching it, so a replay matches
even when it runs with a dummy API key. A recorded ``<redacted>`` also matches any value in the
same place (a path segment, a query value), so a secret in a URL path needs no configuration.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "Redactor",
    "is_secret_header",
    "is_secret_name",
    "secret_values",
]

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 4
#: Header names whose value is always a credential.
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey",
    "x-auth-token", "x-access-token", "x-api-token", "x-token", "private-token", "x-csrf-token",
})
#: Name parts that make a parameter or configuration key secret on their own.
_SECRET_WORDS = frozenset({
    "token", "secret", "password", "passwd", "pwd", "apikey", "signature", "sig", "credential",
    "credentials", "auth", "authorization", "cookie", "session", "sessionid", "passphrase",
})
#: With one of these, ``token`` names a position in a result set, not a credential.
_PAGINATION_WORDS = frozenset({"page", "next", "continuation", "cursor", "pagination", "sync", "offset", "after",
                               "before", "resume", "start"})
#: ``key`` is secret after one of these (``api_key``, ``access_key``), not after ``sort`` or ``partition``.
_KEY_QUALIFIERS = frozenset({"api", "access", "secret", "private", "client", "app", "auth", "account",
                             "subscription", "x", "master", "signing", "license", "consumer", "developer"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.+\-Z]*)?$")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$", re.IGNORECASE)
_PLAIN_WORDS = frozenset({"true", "false", "yes", "no", "none", "null", "on", "off"})
_TEXT_TYPES = ("json", "text", "xml", "javascript", "x-www-form-urlencoded", "csv", "yaml", "graphql")


def _words(name: str) -> list[str]:
    return [word.lower() for word in _WORDS.findall(name)]


def is_secret_name(name: str) -> bool:
    """Whether a parameter, field or configuration key name says its value is a credential.

    >>> [is_secret_name(n) for n in ("api_key", "accessToken", "client-secret", "sort_key", "page", "page_token")]
    [True, True, True, False, False, False]
    """
    words = _words(name)
    if not words:
        return False
    if "token" in words and any(word in _PAGINATION_WORDS for word in words):
        return False  # page_token, nextPageToken, continuation_token: where a page is, not who you are
    if any(word in _SECRET_WORDS for word in words):
        return True
    joined = "".join(words)
    if joined in ("key", "apikey", "accesskey", "secretkey", "privatekey"):
        return True
    return any(word == "key" and index > 0 and words[index - 1] in _KEY_QUALIFIERS
               for index, word in enumerate(words))


def is_secret_header(name: str) -> bool:
    """Whether a header carries a credential whatever its value (``Authorization``, ``X-Api-Key``...)."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or is_secret_name(lowered)


def _is_setting(value: str) -> bool:
    """A value that is plainly a setting, never a credential: a number, a word like ``true``, a date,
    a host name or a URL without a password. Only values of keys not named like secrets get this pass."""
    text = value.strip()
    if _DATE.match(text) or _HOST.match(text):
        return True
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.password is None


def secret_values(configuration: Mapping[str, Any]) -> dict[str, str]:
    """The configuration values to redact, by configuration key.

    Every string value of at least 4 characters counts, except numbers and words like ``true``
    (replacing them would corrupt any JSON that contains them) and, for keys not named like a secret,
    plain settings: dates, host names, and URLs without a password (a next-page URL built from a
    ``base_url`` is not a leak).

    >>> sorted(secret_values({"api_key": "k-123456", "base_url": "https://api.example.com", "page_size": "100"}))
    ['api_key']
    """
    chosen: dict[str, str] = {}
    for key, value in configuration.items():
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            continue
        stripped = value.strip()
        if stripped.lower() in _PLAIN_WORDS or _NUMBER.match(stripped):
            continue
        if not is_secret_name(str(key)) and _is_setting(value):
            continue
        chosen[str(key)] = value
    return chosen


def _variants(value: str) -> list[str]:
    """The forms a secret takes in a URL or a JSON document."""
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1]}
    return sorted((form for form in forms if form), key=len, reverse=True)


class Redactor:
    """Replaces secrets by ``<redacted>`` in URLs, headers and bodies, and computes request keys.

    >>> r = Redactor(["k-123456"])
    >>> r.url("https://api.example.com/v1/items?api_key=anything&page=2&q=k-123456")
    'https://api.example.com/v1/items?api_key=<redacted>&page=2&q=<redacted>'
    """

    def __init__(self, values: Iterable[str] = (), names: Iterable[str] = ()) -> None:
        forms = {form for value in values if value for form in _variants(value)}
        self._forms = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(form) for form in self._forms)) if self._forms else None
        self._names = {name.lower() for name in names}
        #: Query or body field names redacted because their value was a secret (kept in meta.json,
        #: so a replay without the configuration redacts them too).
        self.redacted_names: set[str] = set()

    def is_secret_field(self, name: str) -> bool:
        return name.lower() in self._names or is_secret_name(name)

    # -- text ----------------------------------------------------------------------------------

    def text(self, text: str) -> str:
        """``text`` with every secret value replaced."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def data(self, data: bytes) -> bytes:
        """Like :meth:`text`, on bytes (a body that is not UTF-8 text)."""
        if self._pattern is None or not data:
            return data
        for form in self._forms:
            data = data.replace(form.encode("utf-8"), REDACTED.encode("utf-8"))
        return data

    def has_secret(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(text) is not None

    # -- URLs and headers -----------------------------------------------------------------------

    def query_pairs(self, query: str) -> list[tuple[str, str]]:
        """The query's (name, value) pairs in order, secret values redacted."""
        pairs = []
        for name, value in parse_qsl(query, keep_blank_values=True):
            if value and self.is_secret_field(name):
                value = REDACTED
            elif self.has_secret(value):
                self.redacted_names.add(name.lower())
                value = self.text(value)
            pairs.append((self.text(name), value))
        return pairs

    def url(self, url: str) -> str:
        """``url`` with the user-info password, secret query values and secret path parts redacted."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", f":{REDACTED}@", 1)
        query = urlencode(self.query_pairs(parts.query), quote_via=quote, safe="<>:/,@") if parts.query else ""
        return urlunsplit((parts.scheme, self.text(netloc), self.text(parts.path), query, ""))

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Credential headers replaced whole; secret values replaced inside the others."""
        return {name: REDACTED if is_secret_header(name) and value else self.text(value)
                for name, value in headers.items()}

    # -- bodies --------------------------------------------------------------------------------

    def _json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: REDACTED if isinstance(key, str) and self.is_secret_field(key) and item not in (None, "")
                    else self._json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._json(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, body: bytes | None, content_type: str | None) -> tuple[str | None, str | None]:
        """``(sha256, text)`` of the redacted request body; text is None for binary bodies.

        JSON bodies are compared with sorted keys and form bodies with sorted fields, so the key
        does not depend on dict order.
        """
        if not body:
            return None, None
        kind = (content_type or "").lower()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            redacted = self.data(body)
            return hashlib.sha256(redacted).hexdigest(), None
        canonical: str | None = None
        if "json" in kind or (not kind and text.lstrip()[:1] in ("{", "[")):
            try:
                canonical = json.dumps(self._json(json.loads(text)), sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False)
            except ValueError:
                canonical = None
        elif "x-www-form-urlencoded" in kind:
            pairs = sorted(self.query_pairs(text), key=lambda pair: pair[0])
            canonical = urlencode(pairs, quote_via=quote, safe="<>:/,@")
        if canonical is None:
            canonical = self.text(text)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest(), canonical


def is_text_type(content_type: str | None) -> bool:
    """Whether a body with this Content-Type is stored as text (else base64)."""
    kind = (content_type or "").lower()
    return not kind or any(marker in kind for marker in _TEXT_TYPES)
