"""Every paginator against a loopback API that really pages through a data set, and every loop guard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from http_helpers import FakeTime
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from headwater.http import (
    ApiKeyAuth,
    CursorPaginator,
    HttpClient,
    HttpConfigError,
    InvalidResponseError,
    KeysetPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    PaginationError,
    Paginator,
)

ROWS: list[dict[str, Any]] = [{"id": n, "name": f"row {n}"} for n in range(1, 8)]  # 7 rows


def as_json(body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), content_type="application/json", headers=headers)


def client_for(server: HTTPServer, fake: FakeTime, **options: Any) -> HttpClient:
    return fake.client(server.url_for("/"), **options)


def queries(server: HTTPServer) -> list[dict[str, str]]:
    return [dict(request.args) for request, _ in server.log]


def ids(pages: list[list[dict[str, Any]]]) -> list[list[int]]:
    return [[row["id"] for row in page] for page in pages]


# ----------------------------------------------------------------------------------------- offset

def offset_api(request: Request) -> Response:
    offset, limit = int(request.args["offset"]), int(request.args["limit"])
    return as_json({"data": ROWS[offset:offset + min(limit, 3)], "meta": {"total": len(ROWS)}})


def test_offset_paginator_reads_every_page_until_an_empty_one(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(offset_api)

    pages = list(client_for(server, fake).paginate("/rows", OffsetPaginator(limit=3), params={"status": "open"},
                                                   records_path="data"))

    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert queries(server) == [{"status": "open", "offset": str(n), "limit": "3"} for n in (0, 3, 6, 7)]


def test_offset_moves_by_the_records_received_when_the_api_caps_the_limit(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(offset_api)  # serves at most 3 a page

    pages = list(client_for(server, fake).paginate("/rows", OffsetPaginator(limit=5), records_path="data"))

    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]


def test_offset_paginator_stops_at_the_total_without_an_extra_request(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(offset_api)

    pages = list(client_for(server, fake).paginate(
        "/rows", OffsetPaginator(limit=3, total_path="meta.total"), records_path="data"))

    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]] and len(server.log) == 3


# ------------------------------------------------------------------------------------ page number

def page_api(request: Request) -> Response:
    page, size = int(request.args["page"]), int(request.args.get("per_page", 3))
    return as_json({"items": ROWS[(page - 1) * size:page * size], "total_pages": -(-len(ROWS) // size)})


def test_page_number_paginator_reads_every_page_until_an_empty_one(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(page_api)

    pages = list(client_for(server, fake).paginate("/rows", PageNumberPaginator(page_size=3), records_path="items"))

    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [query["page"] for query in queries(server)] == ["1", "2", "3", "4"]
    assert {query["per_page"] for query in queries(server)} == {"3"}


def test_page_number_paginator_stops_at_total_pages(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(page_api)

    pages = list(client_for(server, fake).paginate(
        "/rows", PageNumberPaginator(total_pages_path="total_pages"), records_path="items"))

    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]] and len(server.log) == 3


# ----------------------------------------------------------------------------------------- cursor

def cursor_api(request: Request) -> Response:
    start = int(request.args.get("cursor", "c0")[1:])
    rows = ROWS[start:start + 3]
    following = f"c{start + 3}" if start + 3 < len(ROWS) else None
    return as_json({"data": rows, "meta": {"next_cursor": following, "has_more": following is not None}})


def test_cursor_paginator_follows_the_cursor_in_the_body(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(cursor_api)

    pages = list(client_for(server, fake).paginate(
        "/rows", CursorPaginator("meta.next_cursor", "cursor"), records_path="data"))

    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [query.get("cursor") for query in queries(server)] == [None, "c3", "c6"]


def test_cursor_paginator_stops_when_has_more_is_false(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows").respond_with_json({"data": [{"id": 1}], "next": "zzz", "more": False})

    pages = list(client_for(server, fake).paginate(
        "/rows", CursorPaginator("next", "after", has_more_path="more"), records_path="data"))

    assert ids(pages) == [[1]]


def test_a_repeated_cursor_trips_the_guard(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows").respond_with_json({"data": [{"id": 1}], "next": "c2"})
    server.expect_ordered_request("/rows", query_string="cursor=c2").respond_with_json(
        {"data": [{"id": 2}], "next": "c2"})
    seen: list[list[Any]] = []

    with pytest.raises(PaginationError) as caught:
        for page in client_for(server, fake).paginate("/rows", CursorPaginator("next"), records_path="data"):
            seen.append(page)

    error = caught.value
    assert error.page == 2 and error.value == "cursor 'c2'"
    assert str(error) == (
        f"GET {server.url_for('/rows')}: page 2 names cursor 'c2' as the next page, as page 1 already did; the API "
        "returned the same value twice, so pagination stopped instead of looping (check the paginator's path and "
        "parameter names against the API's documentation)"
    )
    assert ids(seen) == [[1]]  # the suspicious page is not handed out


# --------------------------------------------------------------------------------------- next URL

def test_next_url_paginator_follows_relative_and_absolute_urls(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows", query_string="q=x").respond_with_json(
        {"results": [{"id": 1}], "links": {"next": "/rows?q=x&page=2"}})
    server.expect_ordered_request("/rows", query_string="q=x&page=2").respond_with_json(
        {"results": [{"id": 2}], "links": {"next": server.url_for("/rows?q=x&page=3")}})
    server.expect_ordered_request("/rows", query_string="q=x&page=3").respond_with_json(
        {"results": [{"id": 3}], "links": {"next": None}})

    pages = list(client_for(server, fake).paginate("/rows", NextUrlPaginator("links.next"), params={"q": "x"},
                                                   records_path="results"))

    assert ids(pages) == [[1], [2], [3]]


def test_a_repeated_next_url_trips_the_guard_and_the_message_hides_the_key(server: HTTPServer, fake: FakeTime) -> None:
    again = server.url_for("/rows") + "?api_key=k-999&page=2"
    server.expect_ordered_request("/rows").respond_with_json({"results": [{"id": 1}], "next": again})
    server.expect_ordered_request("/rows").respond_with_json({"results": [{"id": 2}], "next": again})
    client = client_for(server, fake, auth=ApiKeyAuth("k-999", query_param="api_key"))

    with pytest.raises(PaginationError) as caught:
        list(client.paginate("/rows", NextUrlPaginator(), records_path="results"))

    assert caught.value.page == 2
    assert caught.value.value == f"next URL {server.url_for('/rows')}?api_key=***&page=2"
    assert "k-999" not in str(caught.value) and "as page 1 already did" in str(caught.value)


# ------------------------------------------------------------------------------------ Link header

def link_api(request: Request) -> Response:
    page = int(request.args.get("page", "1"))
    headers = {}
    if page < 3:
        headers["Link"] = (f'<{request.base_url}?page={page + 1}>; rel="next", '
                           f'<{request.base_url}?page=3>; rel="last"')
    return as_json([{"id": page * 10 + n} for n in range(2)], headers)


def test_link_header_paginator_follows_rel_next(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/repos").respond_with_handler(link_api)

    pages = list(client_for(server, fake).paginate("/repos", LinkHeaderPaginator()))

    assert ids(pages) == [[10, 11], [20, 21], [30, 31]]
    assert [query.get("page") for query in queries(server)] == [None, "2", "3"]


def test_a_link_header_pointing_back_trips_the_guard(server: HTTPServer, fake: FakeTime) -> None:
    link = {"Link": f'<{server.url_for("/repos")}?page=2>; rel="next"'}
    server.expect_ordered_request("/repos").respond_with_json([{"id": 1}], headers=link)
    server.expect_ordered_request("/repos").respond_with_json([{"id": 2}], headers=link)

    with pytest.raises(PaginationError, match=r"page 2 names next URL .*\?page=2 as the next page, as page 1"):
        list(client_for(server, fake).paginate("/repos", LinkHeaderPaginator()))


# ----------------------------------------------------------------------------------------- keyset

def keyset_api(request: Request) -> Response:
    after, limit = int(request.args.get("since_id", 0)), int(request.args["limit"])
    return as_json([row for row in ROWS if row["id"] > after][:limit])


def test_keyset_paginator_sends_the_last_key_seen(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(keyset_api)

    pages = list(client_for(server, fake).paginate("/rows", KeysetPaginator("id", "since_id", limit=3)))

    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [query.get("since_id") for query in queries(server)] == [None, "3", "6", "7"]


def test_keyset_paginator_starts_after_an_initial_key(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(keyset_api)

    pages = list(client_for(server, fake).paginate("/rows", KeysetPaginator("id", "since_id", limit=5, initial=4)))

    assert ids(pages) == [[5, 6, 7]]


def test_a_repeated_key_trips_the_guard(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows").respond_with_json([{"id": 1}, {"id": 2}])
    server.expect_ordered_request("/rows", query_string="after=2").respond_with_json([{"id": 3}, {"id": 2}])

    with pytest.raises(PaginationError) as caught:
        list(client_for(server, fake).paginate("/rows", KeysetPaginator()))

    assert caught.value.page == 2 and caught.value.value == "after 2"


def test_keyset_records_without_the_key_raise_invalid_response_naming_the_fields(
    server: HTTPServer, fake: FakeTime
) -> None:
    server.expect_ordered_request("/rows").respond_with_json([{"uuid": "a", "name": "x"}])

    with pytest.raises(InvalidResponseError, match=r"page 1: the last record of the page has no key 'id' "
                                                   r"\(its fields: name, uuid\)"):
        list(client_for(server, fake).paginate("/rows", KeysetPaginator()))


# ------------------------------------------------------------------------------ guards, all kinds

@pytest.mark.parametrize("paginator", [OffsetPaginator(limit=2), PageNumberPaginator(), KeysetPaginator()],
                         ids=["offset", "page-number", "keyset"])
def test_an_api_ignoring_the_paginators_parameter_trips_the_same_page_guard(
    server: HTTPServer, fake: FakeTime, paginator: Paginator
) -> None:
    server.expect_request("/rows").respond_with_json([{"id": 1}, {"id": 2}])

    with pytest.raises(PaginationError) as caught:
        list(client_for(server, fake).paginate("/rows", paginator))

    assert caught.value.page == 2
    assert "page 2" in str(caught.value) and "page 1" in str(caught.value)
    assert len(server.log) == 2


def test_max_pages_stops_an_endless_api(server: HTTPServer, fake: FakeTime) -> None:
    def endless(request: Request) -> Response:
        n = int(request.args.get("cursor", "0"))
        return as_json({"data": [{"id": n}], "next_cursor": str(n + 1)})

    server.expect_request("/rows").respond_with_handler(endless)
    pages: list[list[Any]] = []

    with pytest.raises(PaginationError) as caught:
        for page in client_for(server, fake).paginate("/rows", CursorPaginator(), records_path="data", max_pages=3):
            pages.append(page)

    assert ids(pages) == [[0], [1], [2]] and len(server.log) == 3
    assert caught.value.page == 3 and caught.value.value == "cursor '3'"
    assert "read max_pages=3 pages and the API names yet another (cursor '3'); raise max_pages" in str(caught.value)


def test_an_empty_first_page_yields_nothing(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows").respond_with_json({"data": [], "next_cursor": "c1"})

    assert list(client_for(server, fake).paginate("/rows", CursorPaginator(), records_path="data")) == []


def test_a_wrong_records_path_names_the_keys_there_are(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows").respond_with_json({"items": [], "meta": {}})

    with pytest.raises(InvalidResponseError) as caught:
        list(client_for(server, fake).paginate("/rows", CursorPaginator(), records_path="data"))

    assert str(caught.value) == (
        f"GET {server.url_for('/rows')}, page 1: records_path='data' finds nothing in the response body, not a "
        "list of records (top-level keys: items, meta); fix records_path"
    )


def test_an_object_body_without_records_path_asks_for_one(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows").respond_with_json({"data": [1]})

    with pytest.raises(InvalidResponseError, match="is a JSON dict with keys data, not a list of records; pass "
                                                   "records_path="):
        list(client_for(server, fake).paginate("/rows", OffsetPaginator()))


def test_a_body_that_is_not_json_raises_invalid_response(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_ordered_request("/rows").respond_with_data("<html>maintenance</html>", content_type="text/html")

    with pytest.raises(InvalidResponseError, match=r"page 1: the response is not JSON \(Content-Type "
                                                   r"'text/html'\): '<html>maintenance</html>'"):
        list(client_for(server, fake).paginate("/rows", OffsetPaginator()))


def test_paginate_rejects_a_bad_max_pages_and_a_non_paginator(fake: FakeTime) -> None:
    client = fake.client("http://127.0.0.1:9")

    with pytest.raises(HttpConfigError, match="max_pages=0"):
        next(client.paginate("/rows", OffsetPaginator(), max_pages=0))
    with pytest.raises(HttpConfigError, match="start\\(\\), advance\\(\\) and prepare\\(\\), got str"):
        next(client.paginate("/rows", "offset"))  # type: ignore[arg-type]


def test_a_custom_paginator_gets_the_same_guards(server: HTTPServer, fake: FakeTime) -> None:
    class HeaderTokenPaginator:
        """The next page's token in a response header, sent back as ?token=."""

        def __init__(self) -> None:
            self.token: str | None = None

        def start(self, request: PageRequest) -> None:
            self.token = None

        def advance(self, response: Any, records: list[Any]) -> str | None:
            self.token = response.headers.get("X-Next")
            return f"token {self.token}" if self.token else None

        def prepare(self, request: PageRequest) -> None:
            request.params["page_token"] = self.token

    server.expect_ordered_request("/rows").respond_with_json([{"id": 1}], headers={"X-Next": "t1"})
    server.expect_ordered_request("/rows", query_string="page_token=t1").respond_with_json(
        [{"id": 2}], headers={"X-Next": "t1"})

    with pytest.raises(PaginationError, match="page 2 names token t1 as the next page"):
        list(client_for(server, fake).paginate("/rows", HeaderTokenPaginator()))


def test_one_paginator_instance_drives_two_paginations_in_turn(server: HTTPServer, fake: FakeTime) -> None:
    server.expect_request("/rows").respond_with_handler(cursor_api)
    client = client_for(server, fake)
    paginator = CursorPaginator("meta.next_cursor")

    first = list(client.paginate("/rows", paginator, records_path="data"))
    second = list(client.paginate("/rows", paginator, records_path="data"))

    assert ids(first) == ids(second) == [[1, 2, 3], [4, 5, 6], [7]]
