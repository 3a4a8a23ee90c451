"""A local fake of the Anthropic Messages API, on loopback, for tests and the offline evaluation.

The real ``anthropic`` client reaches it through its base URL, so everything from the prompt to the
parsed answer runs as it would against the real service::

    with FakeMessagesServer([ScriptedAnswer(files={"connector.py": "..."})]) as fake:
        client = ModelClient(api_key="test", base_url=fake.url)
        reply = client.write_files("system", "prompt")
        assert fake.requests[0]["model"] == client.model     # every request body is kept

Answers come from a queue of :class:`ScriptedAnswer` (one per request, in order) or from a
function of the request body. A scripted answer is a ``write_files`` tool call, an HTTP error
(``status``) or a text-only message (``text``). When the queue is empty the fake answers 418 with
a message that says so. Token counts are made up from the sizes of the request and the answer.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeMessagesServer", "Responder", "ScriptedAnswer"]

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 418: "invalid_request_error", 429: "rate_limit_error", 500: "api_error",
               529: "overloaded_error"}


@dataclass
class ScriptedAnswer:
    """One answer of the fake model.

    ``files`` (path -> content) makes a ``write_files`` call; ``status`` (not 200) an HTTP error with
    ``message``; ``text`` a message without any tool call.
    """

    files: Mapping[str, str] = field(default_factory=dict)
    notes: str = "scripted answer"
    deleted: tuple[str, ...] = ()
    status: int = 200
    message: str = "scripted error"
    text: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


Responder = Callable[[Mapping[str, Any]], ScriptedAnswer]


class FakeMessagesServer(ThreadingHTTPServer):
    """``POST /v1/messages`` on 127.0.0.1 (a free port), answering from a script; keeps every request."""

    daemon_threads = True

    def __init__(self, answers: Iterable[ScriptedAnswer] | Responder = (), *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.responder: Responder | None = answers if callable(answers) else None
        self.queue: deque[ScriptedAnswer] = deque() if callable(answers) else deque(answers)
        self.requests: list[dict[str, Any]] = []
        self.raw_requests: list[bytes] = []
        self.headers_seen: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give the client (``ANTHROPIC_BASE_URL``)."""
        return f"http://{self.server_address[0]!s}:{self.server_port}"

    def add(self, *answers: ScriptedAnswer) -> None:
        """Queue more answers."""
        with self._lock:
            self.queue.extend(answers)

    def start(self) -> FakeMessagesServer:
        """Serve from a background thread (once: starting a started server does nothing)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="fake-messages", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeMessagesServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def next_answer(self, body: Mapping[str, Any]) -> ScriptedAnswer | None:
        with self._lock:
            if self.responder is not None:
                return self.responder(body)
            return self.queue.popleft() if self.queue else None

    def message(self, body: Mapping[str, Any], raw: bytes, answer: ScriptedAnswer) -> dict[str, Any]:
        """The Messages API response body for ``answer``."""
        number = next(self._ids)
        if answer.text is not None:
            content: list[dict[str, Any]] = [{"type": "text", "text": answer.text}]
            stop_reason = "end_turn"
        else:
            tool_input = {"files": [{"path": path, "content": text} for path, text in answer.files.items()],
                          "delete": list(answer.deleted), "notes": answer.notes}
            content = [{"type": "tool_use", "id": f"toolu_fake_{number:04d}", "name": "write_files",
                        "input": tool_input}]
            stop_reason = "tool_use"
        output_size = len(json.dumps(content))
        return {
            "id": f"msg_fake_{number:04d}", "type": "message", "role": "assistant",
            "model": str(body.get("model", "fake-model")), "content": content, "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": answer.input_tokens if answer.input_tokens is not None else len(raw) // 4,
                      "output_tokens": answer.output_tokens if answer.output_tokens is not None else output_size // 4},
        }


class _Handler(BaseHTTPRequestHandler):
    server: FakeMessagesServer

    def do_POST(self) -> None:  # the name http.server dispatches POST requests to
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, _error(400, "the request body is not JSON"))
            return
        with self.server._lock:
            self.server.raw_requests.append(raw)
            self.server.requests.append(body)
            self.server.headers_seen.append({key.lower(): value for key, value in self.headers.items()})
        if self.path.split("?")[0].rstrip("/") != "/v1/messages":
            self._send(404, _error(404, f"the fake serves POST /v1/messages only, not {self.path}"))
            return
        answer = self.server.next_answer(body)
        if answer is None:
            self._send(418, _error(418, "the fake model has no scripted answer left for this request"))
            return
        if answer.status != 200:
            self._send(answer.status, _error(answer.status, answer.message))
            return
        self._send(200, self.server.message(body, raw, answer))

    def _send(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _error(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}
