"""Local mock APIs for the ``headwater generate`` evaluation (Python standard library only).

Five small JSON APIs, each shaped like a family of real ones, served on a free loopback port::

    server = start_server("cursor", records=30)     # http://127.0.0.1:<port>, API key "eval-key"
    ...
    server.stop()

======== =================================== ============================== ======================
kind     endpoint                            pagination                     authentication
======== =================================== ============================== ======================
offset   GET /api/customers                  offset + limit, total          X-API-Key header
cursor   GET /v2/tickets                     next_cursor; updated_since     Authorization: Bearer
link     GET /products                       Link header rel="next"         Authorization: Token
oauth    POST /oauth/token, GET /v1/invoices page + total_pages             OAuth2 client credentials
throttle GET /v1/events                      after=<last id>, has_more      Api-Key header; 429 often
======== =================================== ============================== ======================

The data is generated from the record number, so every run sees the same records. ``touch(n)``
changes the n oldest records (a new ``updated_at``) and ``add(n)`` adds records, for incremental
tests. The module has no dependency on headwater: a generated project may ship it as its
``mock_server.py``.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "DEFAULT_API_KEY", "KINDS", "EvalApiServer", "start_server"]

KINDS = ("offset", "cursor", "link", "oauth", "throttle")
DEFAULT_API_KEY = "eval-key"
CLIENT_ID = "eval-client"
CLIENT_SECRET = "eval-secret"
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
NAMES = ("Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia")
COUNTRIES = ("DE", "FR", "US", "GB", "NL", "SE")
STATUSES = ("open", "pending", "solved", "closed")
EVENT_TYPES = ("page_view", "click", "signup", "purchase")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(kind: str, number: int, moment: datetime) -> dict[str, Any]:
    name = NAMES[number % len(NAMES)]
    if kind == "offset":
        return {"id": number, "name": f"{name} {number}", "email": f"{name.lower()}{number}@example.com",
                "country": COUNTRIES[number % len(COUNTRIES)], "balance": f"{(number * 73) % 1000 + 0.5:.2f}",
                "signup_date": (START + timedelta(days=number)).strftime("%Y-%m-%d"), "created_at": _stamp(moment)}
    if kind == "cursor":
        return {"id": f"T-{number:04d}", "subject": f"Ticket {number} from {name}",
                "status": STATUSES[number % len(STATUSES)], "priority": number % 4 + 1,
                "requester": {"name": name, "email": f"{name.lower()}@example.com"},
                "created_at": _stamp(moment), "updated_at": _stamp(moment)}
    if kind == "link":
        return {"sku": f"SKU-{number:04d}", "title": f"Product {number}", "price": round(4.99 + number * 1.25, 2),
                "stock": (number * 7) % 50, "tags": ["new"] if number % 3 == 0 else ["classic", "sale"],
                "updated_at": _stamp(moment)}
    if kind == "oauth":
        return {"id": number, "number": f"INV-{number:05d}", "customer_id": number % 9 + 1,
                "amount": round(50 + number * 12.5, 2), "currency": ("EUR", "USD")[number % 2],
                "issued_on": (START + timedelta(days=number)).strftime("%Y-%m-%d"),
                "status": ("draft", "sent", "paid")[number % 3]}
    return {"id": number, "type": EVENT_TYPES[number % len(EVENT_TYPES)], "user_id": number % 11 + 1,
            "occurred_at": _stamp(moment), "properties": {"path": f"/page/{number % 5}", "ms": number * 3}}


class EvalApiServer(ThreadingHTTPServer):
    """One mock API of the given ``kind`` (see the module docstring), in a background thread."""

    daemon_threads = True

    def __init__(self, kind: str, *, records: int = 40, api_key: str = DEFAULT_API_KEY,
                 client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET, throttle_every: int | None = None,
                 retry_after: int = 0, host: str = "127.0.0.1", port: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown mock API {kind!r}; choose one of {', '.join(KINDS)}")
        super().__init__((host, port), _Handler)
        self.kind = kind
        self.api_key = api_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.throttle_every = (2 if kind == "throttle" else 0) if throttle_every is None else throttle_every
        self.retry_after = retry_after
        self.tokens: set[str] = set()
        self.requests = 0
        self.throttled = 0
        self.lock = threading.Lock()
        self._clock = START
        self.records: list[dict[str, Any]] = []
        self.add(records)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]!s}:{self.server_port}"

    def _tick(self, share: bool = False) -> datetime:
        if not share:
            self._clock += timedelta(minutes=37)
        return self._clock

    def add(self, count: int = 1) -> None:
        """Add ``count`` records; each gets the store's next timestamp (every third shares one)."""
        with self.lock:
            for _ in range(count):
                number = len(self.records) + 1
                self.records.append(_record(self.kind, number, self._tick(share=number % 3 == 0)))

    def touch(self, count: int = 1) -> None:
        """Give the ``count`` oldest records (by update time) a new ``updated_at`` and status."""
        field = {"cursor": "updated_at", "link": "updated_at"}.get(self.kind)
        if field is None:
            return
        with self.lock:
            for record in sorted(self.records, key=lambda item: (item[field], str(item.get("id", ""))))[:count]:
                record[field] = _stamp(self._tick())
                if "status" in record:
                    record["status"] = "solved"
                if "stock" in record:
                    record["stock"] = int(record["stock"]) + 1

    def count(self) -> bool:
        """Count a request; True when it is to be answered with 429."""
        with self.lock:
            self.requests += 1
            throttle = self.throttle_every > 0 and self.requests % self.throttle_every == 0
            self.throttled += throttle
            return throttle

    def start(self) -> EvalApiServer:
        """Serve from a background thread (once: starting a started server does nothing)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name=f"eval-{self.kind}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> EvalApiServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    server: EvalApiServer

    def do_GET(self) -> None:  # the name http.server dispatches GET requests to
        url = urlparse(self.path)
        params = {key: values[-1] for key, values in parse_qs(url.query).items()}
        routes = {"offset": "/api/customers", "cursor": "/v2/tickets", "link": "/products", "oauth": "/v1/invoices",
                  "throttle": "/v1/events"}
        if url.path != routes[self.server.kind]:
            self._send(404, {"error": f"no such endpoint {url.path}; try {routes[self.server.kind]}"})
            return
        if not self._authorised():
            self._send(401, {"error": "missing or invalid credentials"})
            return
        if self.server.count():
            retry_after = {"Retry-After": str(self.server.retry_after)}
            self._send(429, {"error": "rate limit exceeded; retry later"}, retry_after)
            return
        try:
            getattr(self, f"_list_{self.server.kind}")(params)
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": f"bad request: {exc}"})

    def do_POST(self) -> None:  # the name http.server dispatches POST requests to
        if self.server.kind != "oauth" or urlparse(self.path).path != "/oauth/token":
            self._send(404, {"error": f"no such endpoint {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = {key: values[-1] for key, values in parse_qs(self.rfile.read(length).decode("utf-8")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            decoded = base64.b64decode(basic[6:]).decode("utf-8", "replace")
            client_id, _, client_secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            self._send(400, {"error": "unsupported_grant_type"})
            return
        if client_id != self.server.client_id or client_secret != self.server.client_secret:
            self._send(401, {"error": "invalid_client"})
            return
        token = "tok-" + secrets.token_hex(8)
        with self.server.lock:
            self.server.tokens.add(token)
        self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})

    def _authorised(self) -> bool:
        server = self.server
        if server.kind == "offset":
            return self.headers.get("X-API-Key") == server.api_key
        if server.kind == "throttle":
            return self.headers.get("Api-Key") == server.api_key
        authorization = self.headers.get("Authorization", "")
        if server.kind == "cursor":
            return authorization == f"Bearer {server.api_key}"
        if server.kind == "link":
            return authorization == f"Token {server.api_key}"
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and token in server.tokens

    def _limit(self, params: dict[str, str], default: int, maximum: int, name: str = "limit") -> int:
        value = int(params.get(name, str(default)))
        if not 1 <= value <= maximum:
            raise ValueError(f"{name} must be from 1 to {maximum}")
        return value

    def _list_offset(self, params: dict[str, str]) -> None:
        limit, offset = self._limit(params, 10, 25), int(params.get("offset", "0"))
        if offset < 0:
            raise ValueError("offset must not be negative")
        with self.server.lock:
            rows = [dict(record) for record in self.server.records]
        self._send(200, {"customers": rows[offset:offset + limit], "total": len(rows), "offset": offset,
                         "limit": limit})

    def _list_cursor(self, params: dict[str, str]) -> None:
        limit = self._limit(params, 10, 50, "page_size")
        since = params.get("updated_since")
        if since is not None:
            datetime.fromisoformat(since.replace("Z", "+00:00"))
        after: list[str] | None = None
        if params.get("cursor"):
            after = json.loads(base64.urlsafe_b64decode(params["cursor"].encode()).decode())
        with self.server.lock:
            rows = sorted((dict(record) for record in self.server.records),
                          key=lambda item: (item["updated_at"], item["id"]))
        rows = [row for row in rows if (since is None or row["updated_at"] >= since)
                and (after is None or [row["updated_at"], row["id"]] > after)]
        page = rows[:limit]
        more = len(rows) > limit
        cursor = base64.urlsafe_b64encode(json.dumps([page[-1]["updated_at"], page[-1]["id"]]).encode()).decode()
        self._send(200, {"items": page, "next_cursor": cursor if more else None})

    def _list_link(self, params: dict[str, str]) -> None:
        per_page, page = self._limit(params, 10, 30, "per_page"), int(params.get("page", "1"))
        if page < 1:
            raise ValueError("page starts at 1")
        with self.server.lock:
            rows = [dict(record) for record in self.server.records]
        chunk = rows[(page - 1) * per_page:page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(rows):
            query = urlencode({"page": page + 1, "per_page": per_page})
            headers["Link"] = f'<{self.server.url}/products?{query}>; rel="next"'
        self._send(200, chunk, headers)

    def _list_oauth(self, params: dict[str, str]) -> None:
        size, page = self._limit(params, 10, 50, "page_size"), int(params.get("page", "1"))
        if page < 1:
            raise ValueError("page starts at 1")
        with self.server.lock:
            rows = [dict(record) for record in self.server.records]
        pages = max(1, -(-len(rows) // size))
        self._send(200, {"data": rows[(page - 1) * size:page * size], "page": page, "total_pages": pages})

    def _list_throttle(self, params: dict[str, str]) -> None:
        limit, after = self._limit(params, 10, 100), int(params.get("after", "0"))
        with self.server.lock:
            rows = [dict(record) for record in self.server.records if int(record["id"]) > after]
        self._send(200, {"events": rows[:limit], "has_more": len(rows) > limit})

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


def start_server(kind: str, **options: Any) -> EvalApiServer:
    """Start the mock API ``kind`` on a free loopback port (see :class:`EvalApiServer` for options)."""
    return EvalApiServer(kind, **options).start()


def main(argv: Sequence[str] | None = None) -> int:
    """``python eval_apis.py KIND [PORT]``: serve one mock API until Ctrl-C."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in KINDS:
        sys.stderr.write(f"usage: python {sys.argv[0]} {{{','.join(KINDS)}}} [PORT]\n")
        return 2
    server = EvalApiServer(args[0], port=int(args[1]) if len(args) > 1 else 8765)
    sys.stdout.write(f"mock {args[0]} API on {server.url} (API key {DEFAULT_API_KEY!r}); Ctrl-C stops it\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
