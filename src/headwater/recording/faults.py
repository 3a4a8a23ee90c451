"""Fault injection during a replay: what the API does on a bad day, on purpose.

A :class:`FaultPlan` lists faults; :func:`headwater.recording.replaying` applies it. The text form
(``--faults``) is a comma-separated list of ``KIND[:OPTION...][@TARGET]``::

    429:retry-after=0@3        the 3rd request answers 429 with Retry-After: 0
    429:retry-after=date@3     ... with Retry-After as an HTTP date 2 s ahead (date+30: 30 s ahead)
    429:retry-after=3600@3     ... with a large Retry-After
    503@5, 500:times=3@5       the 5th request answers 503 (500 three attempts in a row)
    timeout@7                  the 7th request raises requests.exceptions.ReadTimeout
    truncate@9                 the 9th request's body is cut in half (truncated JSON)
    repeat-next@last           every last page's next link points back to that page
    empty-last                 after the last page comes one more page, with no records

TARGET is a request number (1 = the first request of the run), ``every`` (each distinct request),
``last`` (each request whose recorded answer is the last page of a pagination) or a path prefix
(``@/v1/orders``). ``repeat-next`` and ``empty-last`` default to ``last``; the others need a target.
A status, timeout or truncation fails an *attempt*: the recorded answer stays for the retry, so a
connector (or its urllib3 ``Retry`` adapter) that retries gets the real page next. ``times=N``
fails N attempts in a row.

The same plan in Python::

    plan = FaultPlan([Fault.status(429, retry_after="0", at=3), Fault.timeout(at=7), Fault.repeat_next()])
    assert plan == FaultPlan.parse("429:retry-after=0@3,timeout@7,repeat-next@last")

While a plan is active, waiting is virtual by default (``virtual_time=True``): ``time.sleep`` in
the thread running the replay returns at once and the wait is added to the session's total, so a
``Retry-After: 3600`` costs nothing and is reported instead.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from headwater.recording.cassette import RecordedResponse, RequestKey
from headwater.recording.errors import FaultSpecError
from headwater.recording.pagination import EMPTY_PAGE_MARKER, Pagination, empty_page, find_pagination, with_next
from headwater.recording.redaction import Redactor

__all__ = ["Fault", "FaultEvent", "FaultInjector", "FaultPlan", "InjectedTimeout"]

ATTEMPT_KINDS = ("status", "timeout", "truncate")
PAGE_KINDS = ("repeat-next", "empty-last")
KINDS = (*ATTEMPT_KINDS, *PAGE_KINDS)
EMPTY_PAGE_PARAM = "headwater_fault"
RECENT_LINKS = 20           # next links remembered to tell which one a request follows
_SPEC_HELP = ("write faults as KIND[:OPTION][@TARGET], comma-separated, e.g. "
              "'429:retry-after=0@3,503@5,timeout@7,truncate@9,repeat-next@last,empty-last'; KIND is an "
              "HTTP status (400-599), timeout, truncate, repeat-next or empty-last; OPTION is retry-after=SECONDS, "
              "retry-after=date[+SECONDS] or times=N; TARGET is a request number, every, last or a /path prefix")


@dataclass(frozen=True)
class Fault:
    """One fault: what goes wrong (``kind``) and on which request (``at``).

    Attributes:
        kind: ``"status"``, ``"timeout"``, ``"truncate"``, ``"repeat-next"`` or ``"empty-last"``.
        at: a request number (1-based), ``"every"``, ``"last"`` or a path prefix starting with ``/``.
        status: the HTTP status of a ``"status"`` fault (429, 500, 503...).
        retry_after: the Retry-After header of a status fault: seconds (``"0"``, ``"3600"``),
            ``"date"`` (an HTTP date 2 s ahead) or ``"date+N"``; None for no header.
        times: how many attempts in a row fail (status, timeout and truncate faults).
    """

    kind: str
    at: int | str = "last"
    status: int | None = None
    retry_after: str | None = None
    times: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {self.kind!r}; {_SPEC_HELP}")
        if self.kind == "status" and (self.status is None or not 400 <= self.status <= 599):
            raise FaultSpecError(f"a status fault needs an HTTP status from 400 to 599, got {self.status!r}")
        if isinstance(self.at, int):
            if self.at < 1:
                raise FaultSpecError(f"request numbers start at 1, got @{self.at}")
        elif self.at not in ("every", "last") and not self.at.startswith("/"):
            raise FaultSpecError(f"unknown fault target @{self.at}; {_SPEC_HELP}")
        if self.times < 1:
            raise FaultSpecError(f"times must be at least 1, got {self.times}")
        if self.retry_after is not None:
            _retry_after_seconds(self.retry_after)

    @classmethod
    def http_status(cls, status: int, *, at: int | str, retry_after: str | int | None = None,
                    times: int = 1) -> Fault:
        """``status`` (429, 5xx) instead of the recorded answer, optionally with a Retry-After."""
        return cls("status", at, status, None if retry_after is None else str(retry_after), times)

    @classmethod
    def timeout(cls, *, at: int | str, times: int = 1) -> Fault:
        """The request raises ``requests.exceptions.ReadTimeout``."""
        return cls("timeout", at, times=times)

    @classmethod
    def truncate(cls, *, at: int | str, times: int = 1) -> Fault:
        """The recorded body, cut in half (a truncated JSON document), with status 200."""
        return cls("truncate", at, times=times)

    @classmethod
    def repeat_next(cls, *, at: int | str = "last") -> Fault:
        """The page's next link (or token) points back to the page itself."""
        return cls("repeat-next", at)

    @classmethod
    def empty_last(cls, *, at: int | str = "last") -> Fault:
        """The last page announces one more page, which comes back empty."""
        return cls("empty-last", at)

    def __str__(self) -> str:
        head = str(self.status) if self.kind == "status" else self.kind
        options = "".join(f":{option}" for option in (
            f"retry-after={self.retry_after}" if self.retry_after is not None else "",
            f"times={self.times}" if self.times != 1 else "") if option)
        return f"{head}{options}@{self.at}"

    def targets(self, number: int, path: str, is_last: bool) -> bool:
        if isinstance(self.at, int):
            return number == self.at
        if self.at == "every":
            return True
        if self.at == "last":
            return is_last
        return path.startswith(self.at)

    def describe(self) -> str:
        """What was injected, in words."""
        if self.kind == "status":
            text = f"HTTP {self.status}"
            if self.retry_after is not None:
                text += f" with Retry-After: {self.retry_after}"
            return text
        return {"timeout": "a read timeout", "truncate": "a truncated body",
                "repeat-next": "a next link pointing back to the same page",
                "empty-last": "an extra, empty last page"}[self.kind]


def _retry_after_seconds(value: str) -> float:
    text = value.strip().lower()
    if text.isdigit():
        return float(text)
    if text == "date":
        return 2.0
    if text.startswith("date+") and text[5:].isdigit():
        return float(text[5:])
    raise FaultSpecError(f"retry-after must be seconds, 'date' or 'date+SECONDS', got {value!r}")


@dataclass(frozen=True)
class FaultPlan:
    """The faults to inject during one replay; see the module docstring for the text form."""

    faults: tuple[Fault, ...]
    virtual_time: bool = True

    def __init__(self, faults: Iterable[Fault] = (), *, virtual_time: bool = True) -> None:
        object.__setattr__(self, "faults", tuple(faults))
        object.__setattr__(self, "virtual_time", virtual_time)

    @classmethod
    def parse(cls, spec: str, *, virtual_time: bool = True) -> FaultPlan:
        """Parse ``"429:retry-after=0@3,503@5,timeout@7,truncate@9,repeat-next@last,empty-last"``."""
        faults = [_parse_one(part.strip()) for part in spec.split(",") if part.strip()]
        if not faults:
            raise FaultSpecError(f"no fault in {spec!r}; {_SPEC_HELP}")
        return cls(faults, virtual_time=virtual_time)

    def __str__(self) -> str:
        return ",".join(str(fault) for fault in self.faults)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.faults)


def _parse_one(text: str) -> Fault:
    head, _, target = text.partition("@")
    kind, *options = head.strip().split(":")
    kind = kind.strip().lower()
    status: int | None = None
    if kind.isdigit():
        status, kind = int(kind), "status"
    if kind not in KINDS:
        raise FaultSpecError(f"unknown fault {text!r}; {_SPEC_HELP}")
    at: int | str
    target = target.strip()
    if not target:
        if kind not in PAGE_KINDS:
            raise FaultSpecError(
                f"fault {text!r} needs a target: say which request, e.g. {head}@3 (the 3rd request), "
                f"{head}@every, {head}@last or {head}@/v1/items"
            )
        at = "last"
    else:
        at = int(target) if target.isdigit() else target.lower() if not target.startswith("/") else target
    retry_after: str | None = None
    times = 1
    for option in options:
        name, _, value = option.partition("=")
        name, value = name.strip().lower(), value.strip()
        if name == "retry-after" and value:
            retry_after = value
        elif name == "times" and value.isdigit():
            times = int(value)
        else:
            raise FaultSpecError(f"unknown option {option!r} in fault {text!r}; {_SPEC_HELP}")
    if retry_after is not None and kind != "status":
        raise FaultSpecError(f"retry-after applies to a status fault (429, 503), not to {kind!r}")
    return Fault(kind, at, status, retry_after, times)


@dataclass
class FaultEvent:
    """One fault as it happened: where it hit and what the connector did next."""

    fault: Fault
    request: int                 # the request number it first hit
    method: str
    url: str                     # redacted
    injections: int = 1
    adapter_retries: int = 0     # attempts the HTTP adapter's urllib3 Retry made after it
    resent: int = 0              # times the connector sent the same request again
    followed: int = 0            # repeat-next: re-requests of the page; empty-last: requests of the empty page
    recovered: bool = False      # a later attempt of the same request got the recorded answer
    not_applicable: str | None = None

    def outcome(self) -> str:
        """What the connector (or its HTTP adapter) did about the fault."""
        if self.not_applicable:
            return f"not applied: {self.not_applicable}"
        kind = self.fault.kind
        if kind == "repeat-next":
            if self.followed == 0:
                return "the connector did not follow the repeated link"
            return f"the connector followed the repeated link {self.followed} time{_s(self.followed)}"
        if kind == "empty-last":
            return ("the connector requested the empty page" if self.followed
                    else "the connector did not request the extra page")
        if self.adapter_retries and self.recovered and not self.resent:
            retries = "1 retry" if self.adapter_retries == 1 else f"{self.adapter_retries} retries"
            return f"retried by the HTTP adapter (urllib3 Retry, {retries}), then answered"
        if self.resent and self.recovered:
            return f"re-sent by the connector ({self.resent} time{_s(self.resent)}), then answered"
        if self.resent or self.adapter_retries:
            return "retried, but every retry failed too"
        return "not retried"

    def describe(self) -> str:
        return f"#{self.request} {self.method} {self.url}: {self.fault.describe()} ({self.fault}) -> {self.outcome()}"


def _s(count: int) -> str:
    return "" if count == 1 else "s"


class InjectedTimeout:
    """Marker: this attempt times out."""


@dataclass
class _Pending:
    fault: Fault
    event: FaultEvent
    remaining: int


@dataclass
class FaultInjector:
    """The state of one plan during one replay session (which fault fired where, pagination seen)."""

    plan: FaultPlan
    redactor: Redactor
    events: list[FaultEvent] = field(default_factory=list)
    _pending: dict[RequestKey, _Pending] = field(default_factory=dict)
    _fired: set[tuple[int, RequestKey]] = field(default_factory=set)
    _by_key: dict[tuple[int, RequestKey], FaultEvent] = field(default_factory=dict)
    _shapes: dict[str, Pagination] = field(default_factory=dict)
    _links: list[tuple[Pagination, str]] = field(default_factory=list)
    _reached_via: dict[RequestKey, str] = field(default_factory=dict)
    _empty: tuple[RecordedResponse, Pagination, str, FaultEvent] | None = None

    @property
    def uses_last(self) -> bool:
        return any(fault.at == "last" for fault in self.plan)

    def is_last_page(self, key: RequestKey, response: RecordedResponse | None) -> bool:
        if response is None:
            return False
        page = find_pagination(response, self._shapes.get(key.path))
        return page is not None and page.is_last

    # -- per request -----------------------------------------------------------------------------

    def begin(self, number: int, key: RequestKey, live_url: str, body: bytes | None) -> None:
        """A new request (not an adapter retry): note re-sends and which next link led here."""
        for (index, fault_key), event in self._by_key.items():
            if fault_key == key and event.request < number and self.plan.faults[index].kind in ATTEMPT_KINDS:
                event.resent += 1
        for page, value in reversed(self._links):
            if _reached(page, value, live_url, body, self.redactor):
                self._reached_via[key] = value
                break

    def attempt(self, number: int, attempt: int, key: RequestKey, method: str,
                recorded: RecordedResponse | None) -> RecordedResponse | InjectedTimeout | None:
        """The injected outcome of this attempt, or None to answer from the recording."""
        pending = self._pending.get(key)
        if pending is not None and pending.remaining > 0:
            pending.remaining -= 1
            pending.event.injections += 1
            if attempt > 1:
                pending.event.adapter_retries += 1
            return self._inject(pending.fault, recorded)
        if pending is not None and attempt > 1:
            pending.event.adapter_retries += 1
        if attempt > 1:
            return None
        is_last = self.uses_last and self.is_last_page(key, recorded)
        for index, fault in enumerate(self.plan.faults):
            if fault.kind not in ATTEMPT_KINDS or not fault.targets(number, key.path, is_last):
                continue
            if not isinstance(fault.at, int) and (index, key) in self._fired:
                continue            # "every", "last" and paths: each distinct request once
            self._fired.add((index, key))
            event = FaultEvent(fault, number, method, key.describe().split(" ", 1)[1])
            if fault.kind == "truncate" and recorded is None:
                event.not_applicable = "the request is not in the recording"
                self.events.append(event)
                continue
            self.events.append(event)
            self._by_key[(index, key)] = event
            self._pending[key] = _Pending(fault, event, fault.times - 1)
            return self._inject(fault, recorded)
        return None

    def answered(self, key: RequestKey) -> None:
        """The recorded answer reached the connector after an injected failure of the same request."""
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending.event.recovered = True

    def _inject(self, fault: Fault, recorded: RecordedResponse | None) -> RecordedResponse | InjectedTimeout:
        if fault.kind == "timeout":
            return InjectedTimeout()
        if fault.kind == "truncate":
            assert recorded is not None
            body = recorded.body[: max(1, len(recorded.body) // 2)]
            headers = {name: value for name, value in recorded.headers.items() if name.lower() != "content-length"}
            headers["Content-Length"] = str(len(body))
            return RecordedResponse(recorded.status, recorded.reason, headers, body)
        return _status_response(fault)

    # -- pages ----------------------------------------------------------------------------------

    def empty_page_for(self, key: RequestKey, live_url: str, body: bytes | None, *,
                       missed: bool) -> RecordedResponse | None:
        """The injected empty page, when this request asks for it (or, for a has_more API, when it
        is the request after the last page and the recording has no answer)."""
        if self._empty is None:
            return None
        template, page, path, event = self._empty
        asked = EMPTY_PAGE_MARKER in live_url or (body is not None and EMPTY_PAGE_MARKER.encode() in body)
        if asked or (missed and page.kind == "flag" and key.path == path):
            self._empty = None
            event.followed += 1
            return empty_page(template, page)
        return None

    def repeats(self, key: RequestKey) -> bool:
        """Whether a repeat-next fault pointed a page back at itself (so it may be served again)."""
        return any(fault_key == key and self.plan.faults[index].kind == "repeat-next"
                   for index, fault_key in self._by_key)

    def served(self, number: int, key: RequestKey, live_url: str, response: RecordedResponse) -> RecordedResponse:
        """The recorded answer about to be returned, rewritten by page faults; tracks pagination."""
        page = find_pagination(response, self._shapes.get(key.path))
        if page is None:
            return response
        self._shapes[key.path] = page
        for index, fault in enumerate(self.plan.faults):
            if fault.kind not in PAGE_KINDS or not fault.targets(number, key.path, page.is_last):
                continue
            if fault.kind == "repeat-next":
                response = self._repeat(index, fault, number, key, live_url, response, page)
            elif (index, key) not in self._fired:
                self._fired.add((index, key))
                response = self._announce_empty(fault, number, key, live_url, response, page)
            page = find_pagination(response, page) or page
        if isinstance(page.value, str) and page.value and page.value != EMPTY_PAGE_MARKER:
            self._links.append((page, urljoin(live_url, page.value) if page.kind != "token" else page.value))
            del self._links[:-RECENT_LINKS]
        return response

    def _event(self, index: int, fault: Fault, number: int, key: RequestKey) -> tuple[FaultEvent, bool]:
        existing = self._by_key.get((index, key))
        if existing is not None:
            return existing, False
        event = FaultEvent(fault, number, key.method, key.describe().split(" ", 1)[1])
        self.events.append(event)
        self._by_key[(index, key)] = event
        return event, True

    def _repeat(self, index: int, fault: Fault, number: int, key: RequestKey, live_url: str,
                response: RecordedResponse, page: Pagination) -> RecordedResponse:
        event, new = self._event(index, fault, number, key)
        if not new:
            event.followed += 1
            event.injections += 1
        if page.kind == "flag":
            event.not_applicable = "the page has only a has_more flag; the connector builds the next request itself"
            return response
        value = self._reached_via.get(key)
        if value is None:
            if page.kind == "token":
                event.not_applicable = "the page was not reached through a next token, so there is none to repeat"
                return response
            value = self._without_secrets(live_url)
        return with_next(response, page, value)

    def _announce_empty(self, fault: Fault, number: int, key: RequestKey, live_url: str,
                        response: RecordedResponse, page: Pagination) -> RecordedResponse:
        event = FaultEvent(fault, number, key.method, key.describe().split(" ", 1)[1])
        self.events.append(event)
        self._empty = (response, page, key.path, event)
        if page.kind == "flag":
            return with_next(response, page, True)
        if page.kind == "token":
            return with_next(response, page, EMPTY_PAGE_MARKER)
        base = self._reached_via.get(key) or self._without_secrets(live_url)
        separator = "&" if urlsplit(base).query else "?"
        return with_next(response, page, f"{base}{separator}{EMPTY_PAGE_PARAM}={EMPTY_PAGE_MARKER}")

    def _without_secrets(self, url: str) -> str:
        """``url`` without its secret query parameters: the connector adds its credentials itself."""
        parts = urlsplit(url)
        kept = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
                if not self.redactor.is_secret_field(name) and not self.redactor.has_secret(value)]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))


def _reached(page: Pagination, value: str, live_url: str, body: bytes | None, redactor: Redactor) -> bool:
    """Whether a request follows ``value``: the next link (its query a subset of the request's) or token."""
    if page.kind == "token":
        values = {item for _, item in parse_qsl(urlsplit(live_url).query, keep_blank_values=True)}
        return value in values or (body is not None and value.encode("utf-8") in body)
    link, live = urlsplit(redactor.url(value)), urlsplit(redactor.url(live_url))
    if (link.netloc.lower(), link.path) != (live.netloc.lower(), live.path):
        return False
    live_pairs = parse_qsl(live.query, keep_blank_values=True)
    return all(pair in live_pairs for pair in parse_qsl(link.query, keep_blank_values=True))


def _status_response(fault: Fault) -> RecordedResponse:
    from http import HTTPStatus

    status = fault.status or 500
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    body = json.dumps({"error": f"{status} {reason}", "injected_by": "headwater"}).encode("utf-8")
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    if fault.retry_after is not None:
        text = fault.retry_after.strip().lower()
        if text.startswith("date"):
            headers["Retry-After"] = email.utils.formatdate(time.time() + _retry_after_seconds(text), usegmt=True)
        else:
            headers["Retry-After"] = text
    return RecordedResponse(status, reason, headers, body)
