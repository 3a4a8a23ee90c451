"""Finding how a response paginates, so faults can repeat its next link or append an empty page.

Four shapes are recognised:

- ``link``: a JSON field holding the next page's URL (``next``, ``next_url``, ``nextLink``,
  ``@odata.nextLink``, ``links.next``, ``paging.next``...); null or absent on the last page;
- ``token``: a JSON field holding an opaque cursor the connector sends back (``next_cursor``,
  ``nextPageToken``...); null or absent on the last page;
- ``flag``: a JSON boolean (``has_more``, ``hasNextPage``...); false on the last page;
- ``link-header``: an RFC 8288 ``Link: <...>; rel="next"`` header, missing on the last page.

Fields are looked for at the top level and one level down (``{"meta": {"next": ...}}``).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from headwater.recording.cassette import RecordedResponse

__all__ = ["EMPTY_PAGE_MARKER", "Pagination", "empty_page", "find_pagination", "with_next"]

LINK_FIELDS = ("next", "next_url", "nextUrl", "next_link", "nextLink", "next_page_url", "nextPageUrl",
               "@odata.nextLink", "next_href", "nextHref")
TOKEN_FIELDS = ("next_cursor", "nextCursor", "next_token", "nextToken", "next_page_token", "nextPageToken",
                "continuation_token", "continuationToken", "cursor_next", "next_page_cursor")
FLAG_FIELDS = ("has_more", "hasMore", "has_next", "hasNext", "has_next_page", "hasNextPage", "more")
#: A next link or token that asks the replay for the injected empty page.
EMPTY_PAGE_MARKER = "headwater-empty-page"
_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


@dataclass(frozen=True)
class Pagination:
    """Where a page says what comes next, and what it says."""

    kind: str                     # "link", "token", "flag" or "link-header"
    path: tuple[str, ...]         # the JSON field (empty for link-header)
    value: Any                    # the next link or token (None on the last page), or the flag

    @property
    def is_last(self) -> bool:
        return self.value in (None, "", False)


def _fields(body: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = [((name,), value) for name, value in body.items()]
    for name, value in body.items():
        if isinstance(value, dict):
            found.extend(((name, inner), item) for inner, item in value.items())
    return found


def find_pagination(response: RecordedResponse, known: Pagination | None = None) -> Pagination | None:
    """The pagination of ``response``; ``known`` is what earlier pages of the same endpoint used, so a
    last page that simply leaves the field out is still recognised as the last page."""
    link_header = response.header("Link")
    if link_header is not None or (known is not None and known.kind == "link-header"):
        match = _LINK_NEXT.search(link_header or "")
        if match or known is not None:
            return Pagination("link-header", (), match.group(1) if match else None)
    body = response.json()
    if not isinstance(body, dict):
        return None
    fields = _fields(body)
    for kind, names in (("link", LINK_FIELDS), ("token", TOKEN_FIELDS)):
        for path, value in fields:
            if path[-1] in names and (value is None or isinstance(value, str)):
                return Pagination(kind, path, value)
    for path, value in fields:
        if path[-1] in FLAG_FIELDS and isinstance(value, bool):
            return Pagination("flag", path, value)
    if known is not None and known.path and _get(body, known.path[:-1]) is not None:
        return Pagination(known.kind, known.path, None if known.kind != "flag" else False)
    return None


def _get(body: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(body, dict):
            return None
        body = body.get(name)
    return body


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = body
    for name in path[:-1]:
        target = target.setdefault(name, {})
    target[path[-1]] = value


def _encode(response: RecordedResponse, body: Any) -> RecordedResponse:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {name: value for name, value in response.headers.items() if name.lower() != "content-length"}
    headers["Content-Length"] = str(len(data))
    return RecordedResponse(response.status, response.reason, headers, data)


def with_next(response: RecordedResponse, pagination: Pagination, value: str | bool) -> RecordedResponse:
    """``response`` with its next link, token or flag set to ``value``."""
    if pagination.kind == "link-header":
        headers = {name: item for name, item in response.headers.items() if name.lower() != "link"}
        links = [part for part in (response.header("Link") or "").split(",") if part.strip()
                 and not _LINK_NEXT.search(part)]
        headers["Link"] = ", ".join([*[part.strip() for part in links], f'<{value}>; rel="next"'])
        return RecordedResponse(response.status, response.reason, headers, response.body)
    body = copy.deepcopy(response.json())
    _set(body, pagination.path, value)
    return _encode(response, body)


def _emptied(value: Any, depth: int = 0) -> Any:
    if isinstance(value, list):
        return []
    if isinstance(value, dict) and depth < 2:
        return {key: _emptied(item, depth + 1) for key, item in value.items()}
    return value


def empty_page(response: RecordedResponse, pagination: Pagination) -> RecordedResponse:
    """A copy of the last page ``response`` with no records and nothing after it."""
    if pagination.kind == "link-header":
        headers = {name: item for name, item in response.headers.items() if name.lower() != "link"}
        trimmed = RecordedResponse(response.status, response.reason, headers, response.body)
        body = trimmed.json()
        return _encode(trimmed, _emptied(body)) if body is not None else trimmed
    body = _emptied(copy.deepcopy(response.json()))
    _set(body, pagination.path, False if pagination.kind == "flag" else None)
    return _encode(response, body)
