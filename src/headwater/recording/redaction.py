"""Which values are secret, and how they are taken out of recorded requests and responses.

A recording must be safe to commit next to the connector, so every secret is replaced by
``<redacted>`` before anything reaches the recording folder:

- headers that carry credentials (``Authorization``, ``Proxy-Authorization``, ``Cookie``,
  ``Set-Cookie``, ``X-Api-Key`` and the like), whatever their value;
- query parameters and JSON/form body fields whose name says they are secret (``api_key``,
  ``access_token``, ``client_secret``, ``password``, ...);
- every secret configuration value (see :func:`headwater.secrets.secret_values`) wherever it
  appears: URL, headers, request and response bodies, in every form :mod:`headwater.secrets`
  masks (repr, JSON, percent-encoded, base64 alone or in a basic-auth pair...). A JSON body that
  text masking would make invalid (a numeric secret as a bare number) is masked value by value.

Replay applies the same redaction to the live request before matching it, so a replay matches
even when it runs with a dummy API key. A recorded ``<redacted>`` also matches any value in the
same place (a path segment, a query value), so a secret in a URL path needs no configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from headwater.secrets import (
    MIN_SECRET_LENGTH,
    REDACTED,
    SecretMasker,
    is_secret_name,
    secret_values,
)

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Redactor",
    "SecretMasker",
    "is_secret_header",
    "is_secret_name",
    "secret_values",
]

#: Header names whose value is always a credential.
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey",
    "x-auth-token", "x-access-token", "x-api-token", "x-token", "private-token", "x-csrf-token",
})
_TEXT_TYPES = ("json", "text", "xml", "javascript", "x-www-form-urlencoded", "csv", "yaml", "graphql")


def is_secret_header(name: str) -> bool:
    """Whether a header carries a credential whatever its value (``Authorization``, ``X-Api-Key``...)."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or is_secret_name(lowered)


class Redactor:
    """Replaces secrets by ``<redacted>`` in URLs, headers and bodies, and computes request keys.

    Args:
        values: the secret values (each masked in every form :class:`SecretMasker` knows).
        names: more field names to redact whatever their value (a recording's ``redacted_fields``).
        users: values that may be the user of a basic-auth pair whose password is a secret.

    >>> r = Redactor(["k-123456"])
    >>> r.url("https://api.example.com/v1/items?api_key=anything&page=2&q=k-123456")
    'https://api.example.com/v1/items?api_key=<redacted>&page=2&q=<redacted>'
    """

    def __init__(self, values: Iterable[str] = (), names: Iterable[str] = (), *, users: Iterable[str] = ()) -> None:
        self.masker = SecretMasker(values, users=users)
        self._names = {name.lower() for name in names}
        #: Query or body field names redacted because their value was a secret (kept in meta.json,
        #: so a replay without the configuration redacts them too).
        self.redacted_names: set[str] = set()

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any], names: Iterable[str] = ()) -> Redactor:
        """The redactor of a run: the configuration's secret values, its other values as basic-auth users."""
        users = [value for value in configuration.values() if isinstance(value, str)]
        return cls(secret_values(configuration).values(), names, users=users)

    def is_secret_field(self, name: str) -> bool:
        return name.lower() in self._names or is_secret_name(name)

    # -- text ----------------------------------------------------------------------------------

    def text(self, text: str) -> str:
        """``text`` with every secret value replaced."""
        return self.masker.mask(text) if text else text

    def data(self, data: bytes) -> bytes:
        """Like :meth:`text`, on bytes (a body that is not UTF-8 text)."""
        return self.masker.mask_bytes(data)

    def has_secret(self, text: str) -> bool:
        return self.masker.contains(text)

    def document(self, text: str, content_type: str | None) -> str:
        """A response body: :meth:`text`, or, for JSON that masking would leave invalid (a numeric
        secret as a bare number), the parsed document masked value by value."""
        masked = self.text(text)
        if masked == text or not _is_json(text, content_type):
            return masked
        try:
            json.loads(masked)
            return masked
        except ValueError:
            pass
        try:
            document = json.loads(text)
        except ValueError:
            return masked
        return json.dumps(self._json(document, by_name=False), ensure_ascii=False)

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

    def _json(self, value: Any, *, by_name: bool = True) -> Any:
        if isinstance(value, dict):
            redacted = {}
            for key, item in value.items():
                hidden = by_name and isinstance(key, str) and self.is_secret_field(key) and item not in (None, "")
                name = self.text(key) if isinstance(key, str) else key
                redacted[name] = REDACTED if hidden else self._json(item, by_name=by_name)
            return redacted
        if isinstance(value, list):
            return [self._json(item, by_name=by_name) for item in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self.has_secret(str(value)):
            return REDACTED   # a numeric secret sent as a JSON number
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
        if _is_json(text, kind):
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


def _is_json(text: str, content_type: str | None) -> bool:
    kind = (content_type or "").lower()
    return "json" in kind or (not kind and text.lstrip()[:1] in ("{", "["))


def is_text_type(content_type: str | None) -> bool:
    """Whether a body with this Content-Type is stored as text (else base64)."""
    kind = (content_type or "").lower()
    return not kind or any(marker in kind for marker in _TEXT_TYPES)
