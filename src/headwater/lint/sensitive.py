"""What looks like a credential: secret-sounding names, plausible secret values, token shapes.

Tuned for precision: a name must contain a secret word (``password``, ``token``, ``api_key`` ...)
and no word that marks it as something about a secret (``token_url``, ``PASSWORD_ENV``,
``next_page_token``); a value must not be a placeholder, a key name or a template.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["describe_token", "is_placeholder", "is_secret_name", "is_secret_value", "name_words"]

_SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "secret", "token", "apikey", "credential", "credentials",
    "bearer", "privatekey", "accesskey", "secretkey",
})
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"), ("auth", "key"),
    ("client", "secret"), ("app", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"),
    ("account", "key"), ("subscription", "key"), ("consumer", "key"), ("consumer", "secret"),
    ("app", "secret"), ("shared", "key"),
})
_NOT_SECRET_WORDS = frozenset({
    "url", "uri", "urls", "endpoint", "path", "file", "filename", "dir", "name", "names", "field",
    "fields", "param", "params", "header", "headers", "type", "kind", "env", "var", "variable", "prefix",
    "suffix", "len", "length", "count", "expiry", "expires", "expiration", "expired", "ttl", "timeout",
    "label", "placeholder", "pattern", "regex", "format", "column", "table", "page", "next", "cursor",
    "limit", "max", "min", "size", "hint", "description", "continuation", "sync", "pagination",
    "offset", "delta", "id", "ids", "location", "method", "mode", "policy", "rotation", "scope",
    "scopes", "index", "position", "start", "end", "status", "required", "enabled", "valid",
    "validation", "attr", "attribute", "option", "options", "setting", "arn", "manager", "key_name",
    "used", "usage", "estimate", "estimated", "counter", "error", "message", "msg", "help", "title",
    "version", "provider", "flow", "grant", "template", "prompt", "stream", "tokens", "hash", "hashed",
    "reset", "changed", "last", "updated", "created", "at", "date", "time", "strength", "rules", "is", "has",
    "use", "should", "requirements", "ref", "re", "regexp", "rx", "pat", "encrypted", "masked", "redacted",
    "obfuscated",
})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PLACEHOLDER_MARKERS = (
    "your", "xxx", "***", "...", "changeme", "change_me", "change-me", "placeholder", "example",
    "dummy", "redacted", "replace", "todo", "fixme", "insert_", "enter_", "fake", "sample",
    "_here", "-here", "demo", "mock",
)
_PLAIN_WORDS = frozenset({
    "true", "false", "none", "null", "bearer", "basic", "token", "secret", "password", "test", "string",
    "oauth", "oauth2", "apikey", "api_key", "required", "optional",
})
_TOKEN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"), "a GitHub token"),
    (re.compile(r"github_pat_[A-Za-z0-9_]{30,}"), "a GitHub token"),
    (re.compile(r"glpat-[A-Za-z0-9_\-]{20,}"), "a GitLab token"),
    (re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}"), "a Slack token"),
    (re.compile(r"[sr]k_live_[A-Za-z0-9]{16,}"), "a Stripe live key"),
    (re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}"), "an API secret key (sk-...)"),
    (re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}"), "an AWS access key id"),
    (re.compile(r"AIza[0-9A-Za-z_\-]{35}"), "a Google API key"),
    (re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), "a JSON Web Token"),
    (re.compile(r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"), "a SendGrid key"),
)
# Key material, not the marker: a BEGIN line followed by at least 64 base64 characters (a real key
# has hundreds); "-----BEGIN PRIVATE KEY-----\n...\n" and markers used in checks are not keys.
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|\s)*"
                          r"(?:[A-Za-z0-9+/=]+:[^\n]*(?:\\n|\n))*(?:(?:\\[rn]|\s)*[A-Za-z0-9+/=]){64}")
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://(?P<user>[^/\s:@{}\[\]]+):(?P<password>[^/\s@{}\[\]]+)@")
_REGEX = re.compile(r"^\^|\$$|\[.+\]|\(\?|\.\*|\\[wdsWDSb]")
_RANDOM = re.compile(r"[A-Za-z0-9+/=_\-]+")


def name_words(name: str) -> list[str]:
    """``"X-API-Key"`` -> ``["x", "api", "key"]``; ``"apiKey"`` -> ``["api", "key"]``."""
    return [word for word in re.split(r"[^a-z0-9]+", _CAMEL.sub("_", name).lower()) if word]


def is_secret_name(name: str) -> bool:
    """True for names such as ``api_key``, ``PASSWORD``, ``clientSecret``, ``X-API-Key``."""
    words = name_words(name)
    if not words or any(word in _NOT_SECRET_WORDS for word in words):
        return False
    if any(word in _SECRET_WORDS for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))


def is_placeholder(value: str) -> bool:
    """True for ``""``, ``"<YOUR_API_KEY>"``, ``"xxxx"``, ``"changeme"`` and the like."""
    lowered = value.strip().lower()
    if not lowered or len(set(lowered)) <= 2:
        return True
    if "<" in value and ">" in value:
        return True
    return lowered in _PLAIN_WORDS or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


def is_secret_value(value: str) -> bool:
    """True if a string assigned to a secret-sounding name plausibly is the secret itself.

    Not: placeholders, short words and key names (``"api_key"``), environment variable names
    (``"MY_API_KEY"``), URLs, paths, templates (``"{token}"``), text with spaces.
    """
    if not 4 <= len(value) <= 1000 or any(character.isspace() for character in value):
        return False
    if is_placeholder(value):
        return False
    if re.fullmatch(r"[A-Za-z]+(?:[_\-.][A-Za-z]+)*", value) and (len(value) < 16 or value.islower()):
        return False
    if "\\" in value or _REGEX.search(value):
        return False
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", value) and "_" in value:
        return False
    if "://" in value or value.startswith(("/", "./", "~", "$", "%")) or "{" in value:
        return False
    return True


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(count / len(value) * math.log2(count / len(value)) for count in counts.values())


def _class_runs(value: str) -> int:
    """How many runs of upper case, lower case, digits and symbols: few in ``CamelCaseWords2024``."""
    kinds = ["u" if c.isupper() else "l" if c.islower() else "d" if c.isdigit() else "s" for c in value]
    return 1 + sum(1 for before, after in zip(kinds, kinds[1:]) if before != after)


def _mean_lower_run(value: str) -> float:
    """Average length of lower-case runs: words (``OnWaitingForPlayers``) have long ones, keys short."""
    runs = re.findall(r"[a-z]+", value)
    return sum(map(len, runs)) / len(runs) if runs else 0.0


def describe_token(value: str) -> str | None:
    """What a literal looks like if it looks like a credential on its own, else ``None``.

    Known token formats (GitHub, Slack, Stripe, AWS, Google, JWT, private keys), a URL with a
    password in it, or a long random-looking string (mixed case and digits, high entropy).
    """
    stripped = value.strip()
    key = _PRIVATE_KEY.search(stripped)
    if key is not None:
        body = re.sub(r"\\[rn]|\s", "", key.group(0).split("-----")[-1])
        if len(set(body)) >= 16 and not is_placeholder(body):
            return "a private key"
    for pattern, description in _TOKEN_PATTERNS:
        if pattern.fullmatch(stripped):
            return description
    match = _URL_PASSWORD.search(stripped)
    if (match and not any(c.isspace() for c in stripped) and not is_placeholder(match.group("password"))
            and len(match.group("password")) >= 3):
        return "a URL with a password in it"
    if (
        24 <= len(stripped) <= 200
        and _RANDOM.fullmatch(stripped)
        and any(c.isupper() for c in stripped)
        and any(c.islower() for c in stripped)
        and any(c.isdigit() for c in stripped)
        and not is_placeholder(stripped)
        and _entropy(stripped) >= 4.2
        and _class_runs(stripped) >= 0.4 * len(stripped)
        and _mean_lower_run(stripped) < 3.0
    ):
        return "a random-looking key or token"
    return None
