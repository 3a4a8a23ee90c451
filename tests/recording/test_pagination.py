"""How faults find a page's next link, token or flag, and rewrite it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from headwater.recording import RecordedResponse
from headwater.recording.pagination import EMPTY_PAGE_MARKER, Pagination, empty_page, find_pagination, with_next


def _json(body: Any, headers: dict[str, str] | None = None) -> RecordedResponse:
    return RecordedResponse(200, "OK", {"Content-Type": "application/json", **(headers or {})},
                            json.dumps(body).encode())


@pytest.mark.parametrize(("body", "kind", "path", "value"), [
    ({"data": [1], "next": "https://x/p2"}, "link", ("next",), "https://x/p2"),
    ({"items": [1], "links": {"next": None}}, "link", ("links", "next"), None),
    ({"value": [1], "@odata.nextLink": "https://x/p2"}, "link", ("@odata.nextLink",), "https://x/p2"),
    ({"results": [1], "paging": {"nextPageToken": "abc"}}, "token", ("paging", "nextPageToken"), "abc"),
    ({"data": [1], "has_more": False}, "flag", ("has_more",), False),
])
def test_find_pagination_recognises_links_tokens_and_flags(body: Any, kind: str, path: tuple[str, ...],
                                                           value: Any) -> None:
    assert find_pagination(_json(body)) == Pagination(kind, path, value)


def test_a_last_page_that_leaves_the_field_out_is_recognised_from_earlier_pages() -> None:
    earlier = find_pagination(_json({"data": [1], "next": "https://x/p2"}))
    last = find_pagination(_json({"data": [2]}), earlier)
    assert last is not None and last.is_last and last.path == ("next",)
    assert find_pagination(_json({"data": [2]})) is None


def test_link_header_pagination() -> None:
    first = _json([1], {"Link": '<https://x/p2>; rel="next", <https://x/p9>; rel="last"'})
    page = find_pagination(first)
    assert page == Pagination("link-header", (), "https://x/p2")
    last = find_pagination(_json([2], {"Link": '<https://x/p1>; rel="first"'}), page)
    assert last is not None and last.is_last
    repeated = with_next(_json([2]), last, "https://x/p2")
    assert repeated.header("Link") == '<https://x/p2>; rel="next"'
    assert empty_page(repeated, last).json() == [] and empty_page(repeated, last).header("Link") is None


def test_with_next_and_empty_page_rewrite_the_json() -> None:
    response = _json({"data": [1, 2], "meta": {"next_cursor": None, "count": 2}, "has_more": False})
    page = find_pagination(response)
    assert page == Pagination("token", ("meta", "next_cursor"), None)
    announced = with_next(response, page, EMPTY_PAGE_MARKER)
    assert announced.json()["meta"]["next_cursor"] == EMPTY_PAGE_MARKER
    assert announced.header("Content-Length") == str(len(announced.body))
    assert empty_page(announced, page).json() == {"data": [], "meta": {"next_cursor": None, "count": 2},
                                                  "has_more": False}
    flag = Pagination("flag", ("has_more",), False)
    assert with_next(response, flag, True).json()["has_more"] is True
    assert empty_page(response, flag).json()["data"] == []
