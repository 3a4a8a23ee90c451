"""Secrets out of URLs and messages before they reach a log line or an error.

Three kinds of secret are replaced by ``***``: the password of a URL's user info, the value of a
query parameter whose name says it is secret (``api_key``, ``access_token``, ``client_secret``, ...,
plus the names a client is configured with), and any literal secret value (an API key, a password
from the configuration) of four characters or more wherever it appears: in a path segment, a query
value of any name, the user info or plain text; raw or percent-encoded (any character of it, in
upper or lower case hex, as UTF-8) or with ``+`` for a space. Shorter values are left alone: they
would mask ordinary letters and numbers of every message. Numbers are masked like any other value.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = ["DEFAULT_SECRET_PARAMS", "MASK", "RedactingLogFilter", "Redactor"]

MASK = "***"
MIN_SECRET_LENGTH = 4

#: Query parameter names (compared without case, ``-`` and ``_``) whose values are always hidden.
DEFAULT_SECRET_PARAMS = frozenset({
    "apikey", "key", "token", "accesstoken", "authtoken", "idtoken", "refreshtoken", "auth",
    "authorization", "clientsecret", "secret", "password", "passwd", "pwd", "signature", "sig",
    "sessionid", "session", "appkey", "appsecret", "privatetoken", "xapikey",
})
# Names ending like these are secret too (``stripe_secret``, ``user_password``, ``gh_access_token``).
_SECRET_SUFFIXES = ("secret", "password", "apikey", "accesstoken", "authtoken")

_URL_IN_TEXT = re.compile(r"https?://[^\s'\"<>]+")
# A query pair outside a full URL, as in "/orders?api_key=abc" within an exception's text.
_PAIR_IN_TEXT = re.compile(r"(?<=[?&;])([^=&\s'\"<>]+)=([^&\s'\"<>#]*)")


def _normal(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _any_form(char: str) -> str:
    """A pattern matching ``char`` as itself or percent-encoded as UTF-8 (hex in either case), and
    a space also as ``+``."""
    encoded = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    forms = [re.escape(char), "".join(f"[{c}{c.lower()}]" if c.isalpha() else c for c in encoded)]
    if char == " ":
        forms.append(r"\+")
    return f"(?:{'|'.join(forms)})"


class Redactor:
    """Replaces secrets in URLs and text by ``***``.

    >>> Redactor(values=["s3cr3t"]).url("https://u:pw@api.example.com/v1/s3cr3t?api_key=abc&page=2")
    'https://u:***@api.example.com/v1/***?api_key=***&page=2'
    """

    def __init__(self, params: Iterable[str] = (), values: Iterable[str] = ()) -> None:
        self.params = DEFAULT_SECRET_PARAMS | {_normal(name) for name in params}
        # Longest first, so a secret containing another is replaced whole. Values shorter than
        # MIN_SECRET_LENGTH hide nothing worth hiding and would mask every such letter of a message.
        self.values = tuple(sorted({value for value in values if len(value) >= MIN_SECRET_LENGTH},
                                   key=len, reverse=True))
        # Each character raw or encoded, so a value requests encoded only in part is found too.
        self._pattern = (re.compile("|".join("".join(_any_form(char) for char in value) for value in self.values))
                         if self.values else None)

    def extended(self, params: Iterable[str] = (), values: Iterable[str] = ()) -> Redactor:
        """A redactor that also hides ``params`` and ``values``."""
        return Redactor([*self.params, *params], [*self.values, *values])

    def is_secret_param(self, name: str) -> bool:
        normal = _normal(name)
        return normal in self.params or normal.endswith(_SECRET_SUFFIXES)

    def url(self, url: str) -> str:
        """``url`` with its user-info password, secret query values and secret values masked."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self._values(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}{colon}{MASK if colon else ''}@{hostport}"
        query = "&".join(self._query_item(item) for item in parts.query.split("&")) if parts.query else ""
        return self._values(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def text(self, text: str) -> str:
        """``text`` with every URL and query pair in it redacted, then every secret value."""
        text = _URL_IN_TEXT.sub(lambda match: self.url(match.group(0)), text)
        text = _PAIR_IN_TEXT.sub(self._pair, text)
        return self._values(text)

    def _pair(self, match: re.Match[str]) -> str:
        return f"{match.group(1)}={MASK}" if self.is_secret_param(unquote_plus(match.group(1))) else match.group(0)

    def _query_item(self, item: str) -> str:
        name, equals, _value = item.partition("=")
        if equals and self.is_secret_param(unquote_plus(name)):
            return f"{name}={MASK}"
        return item

    def _values(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def scrub(self, error: BaseException) -> None:
        """Redact, in place, the text of ``error`` and of every exception chained to it or held in
        its arguments (``__cause__``, ``__context__``, urllib3's ``reason``), so that a traceback
        printing them shows no secret either. String arguments and a ``url`` attribute are
        redacted; everything else is left as it is."""
        seen: set[int] = set()
        pending = [error]
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            if any(isinstance(arg, str) for arg in current.args):
                current.args = tuple(self.text(arg) if isinstance(arg, str) else arg for arg in current.args)
            url = getattr(current, "url", None)
            if isinstance(url, str):
                try:
                    current.url = self.text(url)  # type: ignore[attr-defined]
                except AttributeError:
                    pass  # a read-only property
            linked = (*current.args, current.__cause__, current.__context__, getattr(current, "reason", None))
            pending.extend(item for item in linked if isinstance(item, BaseException))


class RedactingLogFilter(logging.Filter):
    """Hides secrets in the records of a ``logging`` logger.

    urllib3 logs a WARNING for each retry after a connection error, with the request's path and
    query (``Retrying (...) after connection broken by ...: /orders?api_key=abc``), and Python prints
    warnings to stderr even when logging was never configured. HttpClient installs one of these on
    ``urllib3.connectionpool`` and adds the secrets each client is configured with.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.redactor = Redactor()

    def add(self, params: Iterable[str] = (), values: Iterable[str] = ()) -> None:
        with self._lock:
            self.redactor = self.redactor.extended(params, values)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        redacted = self.redactor.text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
