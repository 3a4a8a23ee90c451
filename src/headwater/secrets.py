"""Which configuration values are secrets, and how every encoded form of them is masked.

One :class:`SecretMasker` per run knows the run's secrets and replaces each of them with
``<redacted>`` wherever it appears, in any of the forms a secret takes on its way into a log line,
an error message or an HTTP exchange:

- as is, and with surrounding whitespace stripped;
- Python ``repr()``/``ascii()`` (both quote styles, ``\\'``, ``\\\\``, ``\\xNN``, ``\\uNNNN``), also
  once more escaped (the repr of a message that holds a repr), and ``repr()`` of its UTF-8 bytes;
- JSON-escaped (``json.dumps`` without the quotes, with and without ``ensure_ascii``, ``\\/``), also
  escaped twice (JSON in a JSON string);
- URL-encoded: ``quote`` (with ``safe=""`` and ``"/"``), ``quote_plus``, the form requests gives
  a URL it re-quotes, ``encodeURIComponent``'s, lower-case hex digits, encoded twice;
- HTML-escaped, and its UTF-8 bytes read as Latin-1 (what a non-ASCII header value becomes);
- base64, standard and URL-safe alphabets, with or without padding: the secret alone, and anywhere
  inside a longer base64 text such as a basic-auth ``user:password`` pair (see below). The whole
  base64 word around the secret is replaced (``Basic <redacted>``).

Base64 inside a longer text: three bytes become four characters, so the characters that encode
the secret depend on where it starts modulo 3. For each of the three alignments, the characters
determined by the secret's bytes alone (the *core*) are matched; that finds the secret in
``base64(user + ":" + secret)`` whatever the user. Cores are only used for secrets of at least
:data:`BASE64_CORE_MIN_BYTES` bytes (a shorter core would match by chance); a shorter secret is
matched as ``base64(secret)``, ``base64(user:secret)``, ``base64(secret:user)`` and
``base64(secret:)`` for every configuration value as the user (the ``users`` argument). Both
UTF-8 and Latin-1 (what requests uses for ``auth=(user, password)``) encodings are covered.

Speed: every form of a secret contains an *anchor* (the secret's longest run of characters no
encoding changes, or a base64 core's), found with ``str.find``; the one compiled regular
expression (a prefix tree of every form) only runs in a window around each anchor found. A text
without secrets costs a few ``find`` calls per secret: a few milliseconds per MB for a run's secrets.

Which values are secret (:func:`secret_values`): a configuration value of at least
:data:`MIN_SECRET_LENGTH` characters whose key is named like a secret (``api_key``, ``token``,
``password``, ``client_secret``... numbers included, not ``true``/``false`` or a URL without a
password), or, whatever its key, a value that looks like a credential on its own
(:func:`looks_like_credential`): a PEM block, a URL with a password, a known token shape
(``sk-...``, ``ghp_...``, a JWT...) or a long random-looking string. Ordinary settings
(``customers``, ``https://api.example.com``, ``2024-01-01``, ``100``) are never secret.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

__all__ = [
    "BASE64_CORE_MIN_BYTES",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SecretMasker",
    "encoded_forms",
    "is_secret_key",
    "is_secret_name",
    "looks_like_credential",
    "secret_values",
]

REDACTED = "<redacted>"
#: Shorter values are never masked: replacing every "abc" would garble text and hide nothing.
MIN_SECRET_LENGTH = 4
#: Secrets of at least this many bytes are also found inside longer base64 texts.
BASE64_CORE_MIN_BYTES = 6

# -- names --------------------------------------------------------------------------------------

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
#: A configuration key with one of these describes a credential rather than holding one
#: (``token_url``, ``auth_type``, ``api_key_header``, ``password_env``).
_DESCRIPTOR_WORDS = frozenset({
    "url", "uri", "urls", "endpoint", "host", "hostname", "domain", "server", "port", "path", "type", "kind",
    "mode", "method", "scheme", "style", "header", "headers", "name", "field", "param", "parameter",
    "location", "placement", "expiry", "expires", "expiration", "ttl", "timeout", "lifetime", "length", "size",
    "version", "format", "prefix", "scope", "scopes", "grant", "flow", "provider", "enabled", "file", "dir",
    "env", "var", "id",
})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


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


def is_secret_key(name: str) -> bool:
    """Whether a configuration key is named like a secret: :func:`is_secret_name`, except keys that
    describe a credential (``token_url``, ``auth_type``, ``api_key_header``, ``client_id``).

    >>> [is_secret_key(n) for n in ("api_key", "password", "token_url", "auth_type", "client_secret")]
    [True, True, False, False, True]
    """
    return is_secret_name(name) and not any(word in _DESCRIPTOR_WORDS for word in _words(name))


# -- values -------------------------------------------------------------------------------------

_PLAIN_WORDS = frozenset({"true", "false", "yes", "no", "none", "null", "on", "off", "nil", "undefined"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.+\-Z]*)?$")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")
_URL_WITH_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:[^/\s@]+@")
_SCHEME_PREFIX = re.compile(r"^(bearer|basic|token|apikey)\s+(\S{8,})$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]{32,}$")
_TOKEN_SHAPES = re.compile(r"""
      (?:sk|rk|pk)[-_](?:live[-_]|test[-_]|proj[-_]|ant[-_])?(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]{20,}  # Stripe...
    | gh[pousr]_[A-Za-z0-9]{20,} | github_pat_[A-Za-z0-9_]{20,}                    # GitHub
    | glpat-[A-Za-z0-9_\-]{20,}                                                     # GitLab
    | xox[abposr]-[A-Za-z0-9\-]{10,}                                                # Slack
    | (?:AKIA|ASIA)[0-9A-Z]{16}                                                     # AWS access key id
    | AIza[0-9A-Za-z_\-]{30,} | ya29\.[0-9A-Za-z_\-]{20,}                           # Google
    | SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}                                  # SendGrid
    | (?:shpat|shpss|shpca|shppa)_[a-fA-F0-9]{32}                                   # Shopify
    | (?:npm|hf|pypi|dop_v1|glc|xapp)[-_][A-Za-z0-9_\-]{20,}                        # npm, Hugging Face...
    | eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*                    # a JSON Web Token
""", re.VERBOSE)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(count / len(text) * math.log2(count / len(text)) for count in counts.values())


def _class_runs(text: str) -> int:
    """How many runs of upper case, lower case, digits and other characters: few in ``orders_2024``."""
    kinds = ["u" if c.isupper() else "l" if c.islower() else "d" if c.isdigit() else "s" for c in text]
    return 1 + sum(1 for before, after in zip(kinds, kinds[1:]) if before != after)


def _mean_lower_run(text: str) -> float:
    """Average length of the runs of lower-case letters: long in words (``Report2024Summary``)."""
    runs = re.findall(r"[a-z]+", text)
    return sum(map(len, runs)) / len(runs) if runs else 0.0


def _scheme_credential(text: str) -> str | None:
    """The credential of ``Bearer <token>``, ``Basic <base64 user:password>``, ``Token <token>``."""
    match = _SCHEME_PREFIX.match(text)
    if match is None:
        return None
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True)
        except ValueError:
            return None
        return rest if b":" in decoded else None
    has_letter, has_digit = any(c.isalpha() for c in rest), any(c.isdigit() for c in rest)
    return rest if has_letter and has_digit else None


def looks_like_credential(value: str) -> bool:
    """Whether a value looks like a credential whatever the name it is stored under.

    Yes: a PEM block, a URL with a password, ``Bearer <token>``, a known token shape (``sk-...``,
    ``ghp_...``, ``xoxb-...``, ``AKIA...``, a JWT...), 32 or more hex digits, or a string of 16
    characters or more without spaces that mixes letters and digits at random (high entropy, many
    changes between upper case, lower case and digits). No: words, numbers, dates, host names, URLs
    without a password, e-mail addresses, paths, UUIDs.

    >>> [looks_like_credential(v) for v in ("customers", "https://api.example.com", "2024-01-01", "100")]
    [False, False, False, False]
    >>> [looks_like_credential(v) for v in ("ghp_" + "a1B2" * 9, "xQ9vR2mT7kL4pZ8wN3bY6cF1", "https://u:pw@db")]
    [True, True, True]
    """
    text = value.strip()
    if len(text) < MIN_SECRET_LENGTH:
        return False
    if _PEM.search(text) or _URL_WITH_PASSWORD.match(text) or _scheme_credential(text):
        return True
    if _TOKEN_SHAPES.fullmatch(text):
        return True
    if len(text) < 16 or any(character.isspace() for character in text):
        return False
    if ("://" in text or _DATE.match(text) or _HOST.match(text) or _EMAIL.match(text) or _UUID.match(text)
            or text.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:\\", text)):
        return False
    if _HEX.match(text):
        return True
    if not any(c.isalpha() for c in text) or not any(c.isdigit() for c in text):
        return False
    return _entropy(text) >= 3.0 and _class_runs(text) >= 0.35 * len(text) and _mean_lower_run(text) < 4.0


def _is_url_without_password(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.netloc) and "://" in text and parts.password is None


def secret_values(configuration: Mapping[str, Any]) -> dict[str, str]:
    """The configuration values to mask, by configuration key.

    A string value of at least 4 characters (stripped) is secret when its key is named like a secret
    (:func:`is_secret_key`; numbers count, ``true``/``false`` and URLs without a password do not), or
    when it looks like a credential whatever its key (:func:`looks_like_credential`).

    >>> sorted(secret_values({"api_key": "123456789012", "base_url": "https://api.example.com",
    ...                       "table": "customers", "start": "2024-01-01", "page_size": "100"}))
    ['api_key']
    """
    chosen: dict[str, str] = {}
    for key, value in configuration.items():
        if not isinstance(value, str):
            continue
        stripped = value.strip()
        if len(stripped) < MIN_SECRET_LENGTH or stripped.lower() in _PLAIN_WORDS:
            continue
        if looks_like_credential(value) or (is_secret_key(str(key)) and not _is_url_without_password(stripped)):
            chosen[str(key)] = value
    return chosen


def _derived(value: str) -> list[str]:
    """Secrets inside a secret: the password of a URL, the token after ``Bearer``, a PEM body."""
    text = value.strip()
    found = [text] if text != value else []
    match = _URL_WITH_PASSWORD.match(text)
    if match:
        try:
            password = urlsplit(text).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
    credential = _scheme_credential(text)
    if credential:
        found.append(credential)
    if _PEM.search(text):
        body = "".join(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----"))
        if body:
            found.append(body)
    return [item for item in found if len(item.strip()) >= MIN_SECRET_LENGTH]


# -- forms --------------------------------------------------------------------------------------

#: What requests leaves unquoted when it re-quotes a URL (``requote_uri``).
_REQUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~"
#: What JavaScript's encodeURIComponent leaves unquoted.
_URI_COMPONENT_SAFE = "-_.!~*'()"
_PERCENT = re.compile(r"%[0-9A-F]{2}")
#: Characters no encoding above changes: a run of them is in every text form of the secret.
_STABLE = re.compile(r"[A-Za-z0-9_.~\-]+")
_BASE64_STABLE = re.compile(r"[A-Za-z0-9]+")
_BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_%"
_URLSAFE = str.maketrans("+/", "-_")
_ANCHOR_LENGTH = 4
#: Base64 cores longer than this are matched by their first characters (a PEM key's 2 kB).
_MAX_CORE = 64


def _python_escape(value: str, quote_char: str, ascii_only: bool) -> str:
    """The inside of a Python string literal of ``value`` as ``repr()`` (or ``ascii()``) writes it."""
    out = []
    for character in value:
        if character == "\\":
            out.append("\\\\")
        elif character == quote_char:
            out.append("\\" + quote_char)
        elif character == "\t":
            out.append("\\t")
        elif character == "\n":
            out.append("\\n")
        elif character == "\r":
            out.append("\\r")
        elif character.isprintable() and (character.isascii() or not ascii_only):
            out.append(character)
        else:
            code = ord(character)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def _escaped_forms(value: str) -> set[str]:
    forms = set()
    for quote_char in ("'", '"'):
        for ascii_only in (False, True):
            forms.add(_python_escape(value, quote_char, ascii_only))
    forms.add(repr(value)[1:-1])
    forms.add(ascii(value)[1:-1])
    raw = value.encode("utf-8", "surrogatepass")
    forms.add(repr(raw)[2:-1])
    for ensure_ascii in (True, False):
        escaped = json.dumps(value, ensure_ascii=ensure_ascii)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/")))
    return forms


def _url_forms(value: str) -> set[str]:
    forms = {quote(value, safe=safe) for safe in ("", "/", _REQUOTE_SAFE, _URI_COMPONENT_SAFE)}
    forms.add(quote_plus(value, safe=""))
    forms.add(quote(quote(value, safe=""), safe=""))
    forms.update({_PERCENT.sub(lambda match: match.group(0).lower(), form) for form in forms})
    return forms


def encoded_forms(value: str) -> set[str]:
    """Every text (non-base64) form of ``value`` that :class:`SecretMasker` masks."""
    forms = {value} | _escaped_forms(value) | _url_forms(value)
    for escaped in (json.dumps(value)[1:-1], repr(value)[1:-1]):
        if escaped != value:  # a message quoting a repr, JSON inside a JSON string
            forms |= _escaped_forms(escaped)
    forms.update({html.escape(value), html.escape(value, quote=False)})
    try:
        forms.add(value.encode("utf-8").decode("latin-1"))
    except UnicodeEncodeError:
        pass
    return {form for form in forms if form}


def _base64_cores(raw: bytes) -> list[str]:
    """For each alignment modulo 3, the base64 characters that depend on ``raw`` alone."""
    cores = []
    for offset in range(3):
        low = base64.b64encode(b"\x00" * offset + raw + b"\x00\x00").decode("ascii")
        high = base64.b64encode(b"\xff" * offset + raw + b"\xff\xff").decode("ascii")
        same = [index for index, (a, b) in enumerate(zip(low, high)) if a == b and a != "="]
        if same and len(same) == same[-1] - same[0] + 1:
            cores.append(low[same[0]:same[-1] + 1])
    return cores


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _encodings(value: str) -> list[bytes]:
    found = [value.encode("utf-8", "surrogatepass")]
    try:
        latin = value.encode("latin-1")
    except UnicodeEncodeError:
        return found
    return found if latin == found[0] else [*found, latin]


def _base64_forms(value: str, users: Iterable[str]) -> tuple[set[str], set[str]]:
    """``(forms, anchors)``: the base64 forms of ``value`` (both alphabets, unpadded; the masker
    extends a match over the whole base64 word and its padding) and what to search them by."""
    forms: set[str] = set()
    anchors: set[str] = set()
    for raw in _encodings(value):
        cores = _base64_cores(raw)
        if len(raw) >= BASE64_CORE_MIN_BYTES:
            # A long secret is found by the start of its core; the whole base64 word is masked anyway.
            cores = [core[:_MAX_CORE] for core in cores]
            exact: list[str] = cores
        else:
            pairs = [raw]
            for user in users:
                for encoded in _encodings(user):
                    if encoded != raw:
                        pairs += [encoded + b":" + raw, raw + b":" + encoded]
            pairs.append(raw + b":")
            exact = [_b64(pair) for pair in pairs]
        for form in exact:
            for variant in (form, form.translate(_URLSAFE)):
                forms.add(variant)
                if "+" in variant or "/" in variant:
                    forms.add(quote(variant, safe=""))
        for core in cores:
            stable = max(_BASE64_STABLE.findall(core), key=len, default="")
            if len(stable) >= _ANCHOR_LENGTH:
                anchors.add(stable)
            else:  # a short or symbol-heavy core: the forms are their own anchors
                anchors.update(forms)
    return forms, anchors


def _trie_pattern(forms: Iterable[str]) -> str:
    """One alternation of ``forms`` as a prefix tree: a position is tried against each first character
    once, and the longest form wins."""
    root: dict[str, Any] = {}
    for form in forms:
        node = root
        for character in form:
            node = node.setdefault(character, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = []
        for character in sorted(key for key in node if key):
            chain, child = character, node[character]
            while len(child) == 1 and "" not in child:   # a chain without branches: one literal
                (next_character, child), = child.items()
                chain += next_character
            rest = emit(child)
            if rest and "" in child:
                rest = f"(?:{rest})?"
            branches.append(re.escape(chain) + rest)
        if not branches:
            return ""
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root)


class _Matcher:
    """Finds the spans to mask in a text (a ``str``; bytes are matched as Latin-1 text)."""

    def __init__(self, text_forms: set[str], number_forms: set[str], base64_forms: set[str],
                 anchors: set[str]) -> None:
        parts = []
        if base64_forms:
            parts.append(f"(?P<b64>{_trie_pattern(base64_forms)})")
        if number_forms:
            parts.append(f"(?<![0-9])(?:{_trie_pattern(number_forms)})(?![0-9])")
        if text_forms:
            parts.append(_trie_pattern(text_forms))
        self.pattern = re.compile("|".join(parts)) if parts else None
        # Longest first: a longer anchor skips further in str.find.
        self.anchors = sorted(anchors, key=len, reverse=True)
        self.reach = max((len(form) for form in (*text_forms, *number_forms, *base64_forms)), default=0)

    def spans(self, text: str, *, first: bool = False) -> list[tuple[int, int]]:
        """The merged spans to replace, in order; with ``first``, stop at the first one found."""
        if self.pattern is None or not text:
            return []
        found: list[tuple[int, int]] = []
        covered = -1            # end of the last base64 word masked whole
        for start, end in self._windows(text):
            position = start
            while True:
                match = self.pattern.search(text, position, end)
                if match is None:
                    break
                span = match.span()
                if match.lastgroup == "b64" and span[0] >= covered:
                    span = _base64_word(text, *span)
                    covered = span[1]
                found.append(span)
                if first:
                    return found
                position = match.start() + 1
        return _merge(found)

    def _windows(self, text: str) -> list[tuple[int, int]]:
        """Where forms can be: around every anchor found, merged."""
        reach = self.reach
        windows: list[tuple[int, int]] = []
        for anchor in self.anchors:
            index = text.find(anchor)
            while index >= 0:
                # Anchors within `reach` of this one are covered by a window twice as wide.
                windows.append((max(0, index - reach), index + len(anchor) + 2 * reach))
                index = text.find(anchor, index + max(reach, 1))
        if len(windows) < 2:
            return windows
        return _merge(windows, touching=True)


def _merge(spans: list[tuple[int, int]], *, touching: bool = False) -> list[tuple[int, int]]:
    spans.sort()
    merged = [spans[0]] if spans else []
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if start < last_end or (touching and start == last_end):
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _base64_word(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole base64 word around ``text[start:end]``, with its ``=`` padding."""
    left = start
    while left > 0:
        low = max(0, left - 256)
        chunk = text[low:left]
        kept = len(chunk.rstrip(_BASE64_CHARS))
        left = low + kept
        if kept or low == 0:
            break
    right = end
    while right < len(text):
        chunk = text[right:right + 256]
        skipped = len(chunk) - len(chunk.lstrip(_BASE64_CHARS))
        right += skipped
        if skipped < len(chunk):
            break
    for _ in range(2):
        if text.startswith("=", right):
            right += 1
    return left, right


class SecretMasker:
    """Replaces every form of the given secrets with ``<redacted>``; compiled once, reused for a run.

    Args:
        values: the secret values (see :func:`secret_values`); shorter than 4 characters are ignored.
        users: other configuration values that may be the user of a basic-auth pair with a secret
            as the password (or the password with a secret as the user).

    >>> mask = SecretMasker(["it's-s3cret"])
    >>> mask("key='it\\\\'s-s3cret' q=it%27s-s3cret auth=Basic dXNlcjppdCdzLXMzY3JldA==")
    "key='<redacted>' q=<redacted> auth=Basic <redacted>"
    """

    def __init__(self, values: Iterable[str] = (), *, users: Iterable[str] = (), marker: str = REDACTED) -> None:
        secrets: list[str] = []
        for value in values:
            if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
                secrets += [value, *_derived(value)]
        self.secrets: tuple[str, ...] = tuple(dict.fromkeys(secrets))
        self.marker = marker
        user_values = tuple(sorted({user for user in users if isinstance(user, str) and user}))
        # The recorder, the replay and the runner each build one from the same configuration.
        self._compiled = _compile(self.secrets, user_values if self.secrets else ())

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any] | None, extra: Iterable[str] = ()) -> SecretMasker:
        """The masker of a run: the secrets of ``configuration`` (and ``extra`` values, e.g. resolved
        ``${...}`` references), every other value as a basic-auth user."""
        configuration = configuration or {}
        users = [value for value in configuration.values() if isinstance(value, str)]
        return cls([*secret_values(configuration).values(), *extra], users=users)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __call__(self, text: str) -> str:
        return self.mask(text)

    def mask(self, text: str) -> str:
        """``text`` with every form of every secret replaced by the marker."""
        return _replace(text, self._compiled.text.spans(text), self.marker)

    def contains(self, text: str) -> bool:
        """Whether ``text`` holds any form of a secret."""
        return bool(self._compiled.text.spans(text, first=True))

    def mask_bytes(self, data: bytes) -> bytes:
        """Like :meth:`mask` on bytes (a binary body): the forms' UTF-8 and Latin-1 bytes."""
        if not self.secrets or not data:
            return data
        text = data.decode("latin-1")
        return _replace(text, self._compiled.bytes().spans(text), self.marker).encode("latin-1")


class _Compiled:
    """The forms of a set of secrets and their matchers (the one for bytes made when first needed)."""

    def __init__(self, secrets: tuple[str, ...], users: tuple[str, ...]) -> None:
        self.text_forms: set[str] = set()
        self.number_forms: set[str] = set()
        self.base64_forms: set[str] = set()
        self.anchors: set[str] = set()
        for secret in secrets:
            forms = encoded_forms(secret)
            if secret.isdigit():
                self.number_forms.update(forms)
            else:
                self.text_forms.update(forms)
            stable = max(_STABLE.findall(secret), key=len, default="")
            self.anchors.update([stable] if len(stable) >= _ANCHOR_LENGTH else forms)
            base64_forms, anchors = _base64_forms(secret, users)
            self.base64_forms |= base64_forms
            self.anchors |= anchors
        self.text = _Matcher(self.text_forms, self.number_forms, self.base64_forms, self.anchors)
        self._bytes: _Matcher | None = None

    def bytes(self) -> _Matcher:
        if self._bytes is None:
            def as_bytes(forms: set[str]) -> set[str]:
                return {*forms, *(form.encode("utf-8", "surrogatepass").decode("latin-1") for form in forms)}

            self._bytes = _Matcher(as_bytes(self.text_forms), as_bytes(self.number_forms), self.base64_forms,
                                   as_bytes(self.anchors))
        return self._bytes


@functools.lru_cache(maxsize=16)
def _compile(secrets: tuple[str, ...], users: tuple[str, ...]) -> _Compiled:
    return _Compiled(secrets, users)


def _replace(text: str, spans: list[tuple[int, int]], marker: str) -> str:
    if not spans:
        return text
    pieces = []
    last = 0
    for start, end in spans:
        pieces += [text[last:start], marker]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
