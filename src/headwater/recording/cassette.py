"""The recording folder: ``meta.json`` plus one JSON line per HTTP exchange in ``exchanges.jsonl``.

::

    DIR/meta.json         {"format": "headwater-recording/1", "headwater": "0.1.0", "created": "...",
                           "config_keys": ["api_key", "base_url"], "redacted_config_keys": ["api_key"],
                           "redacted_fields": [], "runs": [{"run": 1, "started": "...", "exchanges": 5}]}
    DIR/exchanges.jsonl   {"run": 1, "seq": 1,
                           "request": {"method": "GET", "url": "https://.../items?api_key=<redacted>",
                                       "headers": {...}, "body_sha256": null, "body": null},
                           "response": {"status": 200, "reason": "OK", "headers": {...}, "body": "..."},
                           "error": null, "elapsed_ms": 12.5}

A response body is stored as text (``body``) when it is UTF-8 text, else base64 (``body_b64``); it
is the decoded body (no gzip), so ``Content-Encoding`` is dropped. A request that raised (a timeout,
a refused connection) has ``"error": {"type": "ReadTimeout", "message": "..."}`` instead of a
response. Recording again into the same folder appends a run.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from headwater._version import __version__
from headwater.recording.errors import RecordingError
from headwater.recording.redaction import REDACTED

__all__ = ["FORMAT", "Cassette", "CassetteWriter", "Exchange", "RecordedResponse", "RequestKey"]

FORMAT = "headwater-recording/1"
META = "meta.json"
EXCHANGES = "exchanges.jsonl"


@dataclass(frozen=True)
class RequestKey:
    """What a replayed request is matched on: method, redacted URL (query sorted by name) and body hash.

    A ``<redacted>`` in a recorded key matches anything in the same place, so a replay with other
    credentials still finds the recorded answer.
    """

    method: str
    base: str                                  # scheme://host/path, lower-case scheme and host
    query: tuple[tuple[str, str], ...]         # sorted by name, order kept among equal names
    body_sha256: str | None

    @classmethod
    def of(cls, method: str, redacted_url: str, body_sha256: str | None) -> RequestKey:
        parts = urlsplit(redacted_url)
        base = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))
        pairs = sorted(parse_qsl(parts.query, keep_blank_values=True), key=lambda pair: pair[0])
        return cls(method.upper(), base, tuple(pairs), body_sha256)

    @property
    def has_wildcard(self) -> bool:
        return REDACTED in self.base or any(REDACTED in value for _, value in self.query)

    @property
    def path(self) -> str:
        return urlsplit(self.base).path

    def matches(self, live: RequestKey) -> bool:
        """Whether this (recorded) key answers ``live``, ``<redacted>`` matching any value."""
        if (self.method, self.body_sha256, len(self.query)) != (live.method, live.body_sha256, len(live.query)):
            return False
        if not _same(self.base, live.base):
            return False
        return all(name == other_name and _same(value, other_value)
                   for (name, value), (other_name, other_value) in zip(self.query, live.query))

    def describe(self) -> str:
        """``METHOD url`` for messages."""
        query = "&".join(f"{name}={value}" for name, value in self.query)
        return f"{self.method} {self.base}{'?' + query if query else ''}"


def _same(recorded: str, live: str) -> bool:
    if recorded == live:
        return True
    if REDACTED not in recorded:
        return False
    pieces = recorded.split(REDACTED)
    if not live.startswith(pieces[0]) or not live.endswith(pieces[-1]):
        return False
    position = len(pieces[0])
    for piece in pieces[1:-1]:
        found = live.find(piece, position + 1)
        if found < 0:
            return False
        position = found + len(piece)
    return len(live) - len(pieces[-1]) > position


@dataclass
class RecordedResponse:
    """A recorded (or injected) response: status, headers and the decoded body."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"status": self.status, "reason": self.reason, "headers": self.headers}
        text = _as_text(self.body, self.header("Content-Type"))
        if text is not None:
            record["body"] = text
        else:
            record["body_b64"] = base64.b64encode(self.body).decode("ascii")
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RecordedResponse:
        if "body_b64" in record:
            body = base64.b64decode(record["body_b64"])
        else:
            body = str(record.get("body") or "").encode("utf-8")
        return cls(int(record["status"]), str(record.get("reason") or ""), dict(record.get("headers") or {}), body)


def _as_text(body: bytes, content_type: str | None) -> str | None:
    from headwater.recording.redaction import is_text_type

    if not is_text_type(content_type):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass
class Exchange:
    """One recorded request and what came back (a response, or the error the request raised)."""

    run: int
    seq: int
    method: str
    url: str
    request_headers: dict[str, str]
    body_sha256: str | None
    body: str | None
    response: RecordedResponse | None
    error: dict[str, str] | None = None
    elapsed_ms: float = 0.0
    key: RequestKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = RequestKey.of(self.method, self.url, self.body_sha256)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "seq": self.seq,
            "request": {"method": self.method, "url": self.url, "headers": self.request_headers,
                        "body_sha256": self.body_sha256, "body": self.body},
            "response": self.response.to_json() if self.response is not None else None,
            "error": self.error,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Exchange:
        request = record["request"]
        response = record.get("response")
        return cls(
            run=int(record.get("run", 1)),
            seq=int(record.get("seq", 0)),
            method=str(request["method"]),
            url=str(request["url"]),
            request_headers=dict(request.get("headers") or {}),
            body_sha256=request.get("body_sha256"),
            body=request.get("body"),
            response=RecordedResponse.from_json(response) if response is not None else None,
            error=record.get("error"),
            elapsed_ms=float(record.get("elapsed_ms") or 0.0),
        )


@dataclass
class Cassette:
    """A recording folder loaded in memory.

    >>> cassette = Cassette.load("recordings/orders")          # doctest: +SKIP
    >>> len(cassette.exchanges), cassette.runs                 # doctest: +SKIP
    (12, 2)
    """

    folder: Path
    meta: dict[str, Any]
    exchanges: list[Exchange]

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Cassette:
        path = Path(folder)
        meta_path = path / META
        if not meta_path.is_file():
            raise RecordingError(
                f"no recording in {path}: {META} is missing; make one with `headwater debug PROJECT --record {path}`"
            )
        meta = _read_meta(meta_path)
        exchanges: list[Exchange] = []
        exchanges_path = path / EXCHANGES
        if exchanges_path.is_file():
            with exchanges_path.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        exchanges.append(Exchange.from_json(json.loads(line)))
                    except (ValueError, KeyError, TypeError) as exc:
                        raise RecordingError(
                            f"{exchanges_path}, line {number}: not a recorded exchange ({exc}); the file is "
                            "damaged: record again into an empty folder"
                        ) from exc
        return cls(path, meta, exchanges)

    @property
    def runs(self) -> int:
        return len(self.meta.get("runs") or [])

    @property
    def redacted_fields(self) -> list[str]:
        return [str(name) for name in self.meta.get("redacted_fields") or []]


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordingError(f"cannot read {path}: {exc}; record again into an empty folder") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise RecordingError(
            f"{path} is not a headwater recording of format {FORMAT!r} (found {found!r}); "
            "record again into an empty folder"
        )
    return meta


class CassetteWriter:
    """Appends the exchanges of one recorded run; thread-safe, each line flushed as it is written."""

    def __init__(self, folder: str | os.PathLike[str], *, config_keys: list[str], redacted_keys: list[str]) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(f"cannot create the recording folder {self.folder}: {exc}") from exc
        meta_path = self.folder / META
        if meta_path.exists():
            self.meta = _read_meta(meta_path)
        else:
            self.meta = {"format": FORMAT, "headwater": __version__, "created": _now(), "config_keys": [],
                         "redacted_config_keys": [], "redacted_fields": [], "runs": []}
        self.meta["config_keys"] = sorted({*self.meta.get("config_keys", []), *config_keys})
        self.meta["redacted_config_keys"] = sorted({*self.meta.get("redacted_config_keys", []), *redacted_keys})
        self.run = len(self.meta["runs"]) + 1
        self.meta["runs"].append({"run": self.run, "started": _now(), "headwater": __version__, "exchanges": 0})
        self.count = 0
        self._lock = threading.Lock()
        self._handle: IO[str] = (self.folder / EXCHANGES).open("a", encoding="utf-8")
        self._write_meta()

    def append(self, exchange: Exchange) -> None:
        with self._lock:
            self.count += 1
            exchange.run, exchange.seq = self.run, self.count
            self._handle.write(json.dumps(exchange.to_json(), ensure_ascii=False) + "\n")
            self._handle.flush()

    def close(self, redacted_fields: set[str]) -> None:
        with self._lock:
            self._handle.close()
            self.meta["runs"][-1]["exchanges"] = self.count
            self.meta["redacted_fields"] = sorted({*self.meta.get("redacted_fields", []), *redacted_fields})
            self._write_meta()

    def _write_meta(self) -> None:
        path = self.folder / META
        tmp = path.with_name(f".{META}.tmp")
        tmp.write_text(json.dumps(self.meta, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
