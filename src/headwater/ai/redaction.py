"""Keep secrets out of everything sent to the model.

A :class:`Redactor` knows the configuration's values and replaces each of them, wherever it appears
(also URL-encoded or base64-encoded, as in a basic-auth header), with ``<redacted>``. It also blanks
values stored under sensitive names (``Authorization``, ``api_key``, ``client_secret`` ...) in JSON
documents and URL query strings, which is how recordings are redacted before they reach a prompt::

    redactor = Redactor.from_configuration({"api_key": "sk-live-123", "base_url": "https://api.x.com"})
    redactor.text("GET https://api.x.com/v1?key=sk-live-123")   # 'GET <redacted>/v1?key=<redacted>'
    redactor.configuration({"api_key": "sk-live-123"})           # {'api_key': '<redacted>'}

Values shorter than :data:`MIN_SECRET_LENGTH` characters (a page size of "50") are not treated as
secrets: replacing every "50" in a prompt would garble it and hide nothing.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "Redactor", "is_sensitive_name", "redact_recording"]

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 4
SENSITIVE_NAME = re.compile(
    r"(auth|token|secret|passw|api[-_]?key|apikey|cookie|credential|private[-_]?key|signature|session)",
    re.IGNORECASE,
)
#: ``name=value`` in a query string or a form body, for names that look sensitive.
QUERY_PAIR = re.compile(r"(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&\s\"'#]+)")
#: ``Authorization: Bearer abc`` style header lines in free text.
HEADER_LINE = re.compile(r"(?im)^(?P<name>[A-Za-z0-9\-]+)(?P<sep>\s*:\s*)(?P<value>.+)$")
#: How much of a recording goes into a prompt.
RECORDING_SAMPLE_CHARS = 12_000
RECORDING_FILE_CHARS = 4_000


def is_sensitive_name(name: str) -> bool:
    """True for names like ``Authorization``, ``X-Api-Key``, ``client_secret``, ``access_token``."""
    return bool(SENSITIVE_NAME.search(name))


class Redactor:
    """Replaces known secret values (and their common encodings) with ``<redacted>``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {value for value in secrets if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH}
        forms: set[str] = set()
        for value in values:
            forms.update({value, quote(value, safe=""), quote_plus(value), _b64(value)})
        # Basic auth sends base64("user:password"): cover every pair of configured values.
        for first, second in itertools.permutations(sorted(values), 2):
            forms.add(_b64(f"{first}:{second}"))
        for value in values:
            forms.add(_b64(f"{value}:"))
        self._forms = sorted((form for form in forms if len(form) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(form) for form in self._forms)) if self._forms else None

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any] | None) -> Redactor:
        """A redactor for every string value of ``configuration``."""
        return cls(str(value) for value in (configuration or {}).values() if isinstance(value, str))

    @property
    def is_empty(self) -> bool:
        return self._pattern is None

    def contains_secret(self, text: str) -> bool:
        """True when ``text`` holds one of the secrets, in any of the encodings covered."""
        return self._pattern is not None and self._pattern.search(text) is not None

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by ``<redacted>``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def configuration(self, configuration: Mapping[str, Any]) -> dict[str, str]:
        """Key names only: every value becomes ``<redacted>``."""
        return dict.fromkeys(configuration, REDACTED)

    def query(self, text: str) -> str:
        """Secrets removed, and the values of sensitive ``name=value`` pairs blanked (URLs, form bodies)."""

        def blank(match: re.Match[str]) -> str:
            if is_sensitive_name(match.group("name")):
                return f"{match.group('name')}={REDACTED}"
            return match.group(0)

        return QUERY_PAIR.sub(blank, self.text(text))

    def json(self, value: Any) -> Any:
        """A JSON-like value with secrets removed and values under sensitive names blanked."""
        if isinstance(value, dict):
            return {
                key: (REDACTED if isinstance(key, str) and is_sensitive_name(key) and item not in (None, "")
                      else self.json(item))
                for key, item in value.items()
            }
        if isinstance(value, list):
            if len(value) == 2 and all(isinstance(item, str) for item in value) and is_sensitive_name(value[0]):
                return [value[0], REDACTED]  # a (header name, value) pair
            return [self.json(item) for item in value]
        if isinstance(value, str):
            return self.query(value)
        return value

    def document(self, text: str) -> str:
        """Free text (a recording file, a log): JSON redacted as JSON, otherwise line by line."""
        stripped = text.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.dumps(self.json(json.loads(stripped)), indent=1, ensure_ascii=False)
            except ValueError:
                pass

        def header(match: re.Match[str]) -> str:
            if is_sensitive_name(match.group("name")):
                return f"{match.group('name')}{match.group('sep')}{REDACTED}"
            return match.group(0)

        return HEADER_LINE.sub(header, self.query(text))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _exchange_or_document(line: str, redactor: Redactor) -> str:
    """A recorded exchange (headwater.recording's exchanges.jsonl) as a few lines, else the redacted line."""
    try:
        entry = json.loads(line)
    except ValueError:
        return redactor.document(line)
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        return redactor.document(line)
    request, response = entry["request"], entry.get("response") or {}
    head = f"{request.get('method', '?')} {redactor.query(str(request.get('url', '')))}"
    if not isinstance(response, dict) or not response:
        return f"{head}\n  -> error {redactor.json(entry.get('error'))}"
    headers = response.get("headers") or {}
    shown = {name: value for name, value in headers.items() if str(name).lower() in ("link", "retry-after",
                                                                                      "content-type")}
    body = redactor.document(str(response.get("body") or ""))
    if len(body) > 1500:
        body = body[:1500] + " ... (cut)"
    return f"{head}\n  -> {response.get('status')} {json.dumps(redactor.json(shown))}\n  {body}"


def redact_recording(directory: Path, redactor: Redactor, *, limit: int = RECORDING_SAMPLE_CHARS) -> str:
    """A redacted sample of the recording in ``directory``, at most ``limit`` characters, for a prompt.

    Every text file is redacted with :meth:`Redactor.document` (JSON files as JSON, each line of a
    JSON-lines file on its own) before any of it is cut to size; binary files are skipped.
    """
    parts: list[str] = []
    used = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if path.suffix == ".jsonl":
            redacted = "\n".join(_exchange_or_document(line, redactor) for line in raw.splitlines() if line.strip())
        else:
            redacted = redactor.document(raw)
        if len(redacted) > RECORDING_FILE_CHARS:
            redacted = redacted[:RECORDING_FILE_CHARS] + "\n... (cut)"
        block = f"--- {path.relative_to(directory).as_posix()}\n{redacted}\n"
        if used + len(block) > limit:
            parts.append(f"... ({len(parts)} files shown; the rest of the recording is left out)\n")
            break
        parts.append(block)
        used += len(block)
    return "".join(parts)
