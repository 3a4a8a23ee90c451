"""Paginators: how :meth:`HttpClient.paginate` gets from one page to the next.

A paginator answers three questions, one method each (the shape of dlt's paginators, in our own
words):

- :meth:`~Paginator.start`: what does the first request look like? (``offset=0&limit=100``)
- :meth:`~Paginator.advance`: given this page, which page comes next? It returns a short text
  naming it (``"cursor 'c2'"``, ``"offset 200"``), or ``None`` when this was the last page;
- :meth:`~Paginator.prepare`: change the request so that it asks for that page.

The loop guards live in :meth:`HttpClient.paginate`, so every paginator gets them: a page named
twice, a page whose records repeat an earlier page's, and ``max_pages``. Each raises
:class:`~headwater.http.PaginationError` naming the repeated value and the page number. An empty
page always ends the pagination.

Paths into JSON bodies (``records_path``, ``cursor_path``, ...) are dotted: ``"data.items"``,
``"meta.next"``; a number indexes a list (``"results.0.id"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urljoin

import requests

from headwater.http.errors import HttpConfigError, InvalidResponseError

__all__ = [
    "CursorPaginator",
    "KeysetPaginator",
    "LinkHeaderPaginator",
    "NextUrlPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "lookup",
    "records_at",
]

_MISSING = object()


@dataclass
class PageRequest:
    """The request for the next page, which a paginator changes in place: the absolute ``url`` and
    the query ``params``."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Paginator(Protocol):
    """Moves a :class:`PageRequest` from page to page. :meth:`start` resets the paginator, so one
    instance can drive several paginations one after the other (not at the same time)."""

    def start(self, request: PageRequest) -> None:
        """Set up the request for the first page."""

    def advance(self, response: requests.Response, records: list[Any]) -> str | None:
        """Read a non-empty page; return what names the next page, or ``None`` if there is none."""

    def prepare(self, request: PageRequest) -> None:
        """Point ``request`` at the page :meth:`advance` named."""


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` in a JSON document, or ``None`` when any step is missing."""
    value = _find(document, path)
    return None if value is _MISSING else value


def _find(document: Any, path: str) -> Any:
    current = document
    for step in path.split("."):
        if isinstance(current, dict):
            current = current.get(step, _MISSING)
        elif isinstance(current, list) and step.lstrip("-").isdigit() and -len(current) <= int(step) < len(current):
            current = current[int(step)]
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except requests.exceptions.JSONDecodeError as exc:
        excerpt = " ".join(response.text[:120].split())
        raise InvalidResponseError(
            f"the response is not JSON "
            f"(Content-Type {response.headers.get('Content-Type', 'missing')!r}): {excerpt!r}",
            response=response,
        ) from exc


def records_at(response: requests.Response, records_path: str | None) -> list[Any]:
    """The list of records in a response body: the body itself when ``records_path`` is ``None``."""
    body = _json(response)
    records = body if records_path is None else _find(body, records_path)
    if isinstance(records, list):
        return records
    if records_path is None:
        keys = f" with keys {', '.join(sorted(body))}" if isinstance(body, dict) else ""
        raise InvalidResponseError(
            f"the response body is a JSON {type(body).__name__}{keys}, not a list of records; "
            "pass records_path= naming the list (for example records_path='data')",
            response=response,
        )
    found = "nothing" if records is _MISSING else f"a JSON {type(records).__name__}"
    keys = f" (top-level keys: {', '.join(sorted(body))})" if isinstance(body, dict) else ""
    raise InvalidResponseError(
        f"records_path={records_path!r} finds {found} in the response body, not a list of "
        f"records{keys}; fix records_path",
        response=response,
    )


def _positive(name: str, value: int | None, owner: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise HttpConfigError(f"{owner}({name}={value!r}) must be a whole number of at least 1")


class OffsetPaginator:
    """``?offset=0&limit=100``, then ``offset=100``, ``offset=200``... The offset moves by the
    number of records received (so an API that caps ``limit`` lower still gets every record), and
    the pagination ends on an empty page, or once ``total_path`` says every record was read.

    >>> client.paginate("/orders", OffsetPaginator(limit=100, total_path="meta.total"), records_path="data")
    """

    def __init__(
        self,
        limit: int = 100,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        start: int = 0,
        total_path: str | None = None,
    ) -> None:
        _positive("limit", limit, "OffsetPaginator")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise HttpConfigError(f"OffsetPaginator(start={start!r}) must be a whole number, 0 or more")
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.start_offset = start
        self.total_path = total_path
        self.offset = start

    def start(self, request: PageRequest) -> None:
        self.offset = self.start_offset
        request.params[self.offset_param] = self.offset
        request.params[self.limit_param] = self.limit

    def advance(self, response: requests.Response, records: list[Any]) -> str | None:
        self.offset += len(records)
        if self.total_path is not None:
            total = lookup(_json(response), self.total_path)
            if isinstance(total, (int, float)) and not isinstance(total, bool) and self.offset >= total:
                return None
        return f"{self.offset_param} {self.offset}"

    def prepare(self, request: PageRequest) -> None:
        request.params[self.offset_param] = self.offset


class PageNumberPaginator:
    """``?page=1``, ``page=2``... until an empty page, or past ``total_pages_path``.

    >>> PageNumberPaginator(page_size=50, size_param="per_page", total_pages_path="total_pages")
    """

    def __init__(
        self,
        *,
        page_param: str = "page",
        start: int = 1,
        page_size: int | None = None,
        size_param: str = "per_page",
        total_pages_path: str | None = None,
    ) -> None:
        _positive("page_size", page_size, "PageNumberPaginator")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise HttpConfigError(f"PageNumberPaginator(start={start!r}) must be the number of the first page, "
                                  "0 or more (usually 1)")
        self.page_param = page_param
        self.start_page = start
        self.page_size = page_size
        self.size_param = size_param
        self.total_pages_path = total_pages_path
        self.page = start

    def start(self, request: PageRequest) -> None:
        self.page = self.start_page
        request.params[self.page_param] = self.page
        if self.page_size is not None:
            request.params[self.size_param] = self.page_size

    def advance(self, response: requests.Response, records: list[Any]) -> str | None:
        if self.total_pages_path is not None:
            total = lookup(_json(response), self.total_pages_path)
            # Pages numbered from 0 have their last at total - 1.
            last = total - 1 + self.start_page if isinstance(total, int) and not isinstance(total, bool) else None
            if last is not None and self.page >= last:
                return None
        self.page += 1
        return f"{self.page_param} {self.page}"

    def prepare(self, request: PageRequest) -> None:
        request.params[self.page_param] = self.page


class CursorPaginator:
    """A cursor (or token) in the response body, sent back as a query parameter:
    ``{"data": [...], "next_cursor": "c2"}`` then ``?cursor=c2``. Ends when the cursor is missing,
    ``null`` or empty, or when ``has_more_path`` is ``false``.

    >>> CursorPaginator("meta.next_cursor", "cursor")
    >>> CursorPaginator("nextPageToken", "pageToken")
    """

    def __init__(self, cursor_path: str = "next_cursor", cursor_param: str = "cursor", *,
                 has_more_path: str | None = None) -> None:
        self.cursor_path = cursor_path
        self.cursor_param = cursor_param
        self.has_more_path = has_more_path
        self.cursor: str | None = None

    def start(self, request: PageRequest) -> None:
        self.cursor = None

    def advance(self, response: requests.Response, records: list[Any]) -> str | None:
        body = _json(response)
        if self.has_more_path is not None and lookup(body, self.has_more_path) is False:
            return None
        cursor = lookup(body, self.cursor_path)
        if cursor is None or cursor == "":
            return None
        self.cursor = str(cursor)
        return f"{self.cursor_param} {self.cursor!r}"

    def prepare(self, request: PageRequest) -> None:
        request.params[self.cursor_param] = self.cursor


class NextUrlPaginator:
    """The URL of the next page in the response body: ``{"results": [...], "next": "https://..."}``.
    The next URL is requested as given (a relative one is resolved against the page's URL), without
    the first request's ``params``, which it is expected to carry. Ends when it is missing or ``null``.

    >>> NextUrlPaginator("links.next")
    """

    def __init__(self, next_url_path: str = "next") -> None:
        self.next_url_path = next_url_path
        self.next_url: str | None = None

    def start(self, request: PageRequest) -> None:
        self.next_url = None

    def advance(self, response: requests.Response, records: list[Any]) -> str | None:
        value = lookup(_json(response), self.next_url_path)
        if value is None or value == "":
            return None
        self.next_url = urljoin(response.url, str(value))
        return f"next URL {self.next_url}"

    def prepare(self, request: PageRequest) -> None:
        assert self.next_url is not None, "prepare() follows an advance() that named a next page"
        request.url = self.next_url
        request.params = {}


class LinkHeaderPaginator:
    """The ``Link`` header's ``rel="next"`` URL (RFC 8288, as GitHub sends it):
    ``Link: <https://api.example.com/items?page=2>; rel="next"``. Ends when there is no such link.

    >>> LinkHeaderPaginator()
    """

    def __init__(self, rel: str = "next") -> None:
        self.rel = rel
        self.next_url: str | None = None

    def start(self, request: PageRequest) -> None:
        self.next_url = None

    def advance(self, response: requests.Response, records: list[Any]) -> str | None:
        link = response.links.get(self.rel, {}).get("url")
        if not link:
            return None
        self.next_url = urljoin(response.url, link)
        return f"next URL {self.next_url}"

    def prepare(self, request: PageRequest) -> None:
        assert self.next_url is not None, "prepare() follows an advance() that named a next page"
        request.url = self.next_url
        request.params = {}


class KeysetPaginator:
    """Keyset (seek) pagination: the key of the last record seen goes into the next request,
    ``?after=1017``. Records must come sorted by that key. Ends on an empty page.

    >>> KeysetPaginator(key="id", param="since_id", limit=100)
    >>> KeysetPaginator(key="updated_at", param="updated_after")

    Args:
        key: the dotted path of the key in each record.
        param: the query parameter the last key is sent in.
        limit, limit_param: page size to ask for, if any.
        initial: a key to start after (for example from the connector's saved state).
    """

    def __init__(self, key: str = "id", param: str = "after", *, limit: int | None = None,
                 limit_param: str = "limit", initial: Any = None) -> None:
        _positive("limit", limit, "KeysetPaginator")
        self.key = key
        self.param = param
        self.limit = limit
        self.limit_param = limit_param
        self.initial = initial
        self.last_key: Any = initial

    def start(self, request: PageRequest) -> None:
        self.last_key = self.initial
        if self.initial is not None:
            request.params[self.param] = self.initial
        if self.limit is not None:
            request.params[self.limit_param] = self.limit

    def advance(self, response: requests.Response, records: list[Any]) -> str | None:
        last = records[-1]
        value = _find(last, self.key)
        if value is _MISSING or value is None:
            fields = f" (its fields: {', '.join(sorted(last))})" if isinstance(last, dict) else ""
            raise InvalidResponseError(
                f"the last record of the page has no key {self.key!r}{fields}; "
                "set KeysetPaginator(key=...) to the field the records are sorted by",
                response=response,
            )
        self.last_key = value
        return f"{self.param} {value!r}"

    def prepare(self, request: PageRequest) -> None:
        request.params[self.param] = self.last_key
