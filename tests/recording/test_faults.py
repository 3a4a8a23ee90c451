"""Fault injection on replay: each fault kind, against a connector that recovers and one that fails."""

from __future__ import annotations

import email.utils
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from loopback_api import API_KEY, TOKEN, ItemsApi, record, write_project
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from headwater.check import PASS, PropertyResult, check_faults
from headwater.recording import Fault, FaultPlan, FaultSpecError, recording, replaying
from headwater.runner import DebugRequest, run_debug

EVERY_KIND = ("429:retry-after=0@2,429:retry-after=date@2,429:retry-after=3600@2,503@2,500:times=10@2,"
              "timeout@2,truncate@2,repeat-next,empty-last")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The items API's 4 pages, recorded with plain requests: (first page URL, recording)."""
    api = ItemsApi()
    folder = tmp_path_factory.mktemp("pages") / "rec"
    headers = {"X-Api-Key": API_KEY, "Authorization": f"Bearer {TOKEN}"}
    first = f"{api.url}/api/items?updated_after=&limit=3&api_key={API_KEY}"
    with recording(folder, secrets={"api_key": API_KEY, "token": TOKEN}):
        url: str | None = first
        while url:
            page = requests.get(url if "api_key" in url else f"{url}&api_key={API_KEY}", headers=headers,
                                timeout=5).json()
            url = page["next"]
    api.stop()
    yield first, folder


def _get(url: str, session: requests.Session | None = None) -> requests.Response:
    headers = {"X-Api-Key": API_KEY, "Authorization": f"Bearer {TOKEN}"}
    full = url if "api_key" in url else f"{url}&api_key={API_KEY}"
    return (session or requests.Session()).get(full, headers=headers, timeout=5)


def _retrying(retry: Retry) -> requests.Session:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def test_fault_plan_text_and_python_forms_agree() -> None:
    plan = FaultPlan.parse("429:retry-after=0@3,503@5,timeout@7,truncate@9,repeat-next@last,empty-last")
    assert plan == FaultPlan([Fault.http_status(429, retry_after=0, at=3), Fault.http_status(503, at=5),
                              Fault.timeout(at=7), Fault.truncate(at=9), Fault.repeat_next(), Fault.empty_last()])
    assert str(plan) == "429:retry-after=0@3,503@5,timeout@7,truncate@9,repeat-next@last,empty-last@last"
    assert FaultPlan.parse(str(plan)) == plan
    assert str(FaultPlan.parse("500:times=3@every,429:retry-after=date+30@/api/items")) == \
        "500:times=3@every,429:retry-after=date+30@/api/items"


@pytest.mark.parametrize(("spec", "message"), [
    ("429", "needs a target: say which request, e.g. 429@3"),
    ("teapot@1", "unknown fault"),
    ("302@1", "HTTP status from 400 to 599"),
    ("429:retry-after=soon@1", "retry-after must be seconds, 'date' or 'date+SECONDS'"),
    ("timeout:retry-after=1@1", "retry-after applies to a status fault"),
    ("503@0", "request numbers start at 1"),
    ("503@sometimes", "unknown fault target"),
    (" , ", "no fault"),
])
def test_fault_plan_refuses_a_bad_spec_and_says_how_to_write_it(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=re.escape(message)):
        FaultPlan.parse(spec)


def test_429_retry_after_0_is_returned_then_the_recorded_page(pages: tuple[str, Path]) -> None:
    first, folder = pages
    with replaying(folder, faults="429:retry-after=0@1") as session:
        limited = _get(first)
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "0")
        assert limited.json()["injected_by"] == "headwater"
        assert len(_get(first).json()["data"]) == 3
    (event,) = session.fault_events
    assert event.request == 1 and event.outcome() == "re-sent by the connector (1 time), then answered"


def test_429_retry_after_date_is_an_http_date_ahead(pages: tuple[str, Path]) -> None:
    first, folder = pages
    with replaying(folder, faults="429:retry-after=date+30@1"):
        header = _get(first).headers["Retry-After"]
    assert 25 <= email.utils.parsedate_to_datetime(header).timestamp() - time.time() <= 31


def test_large_retry_after_is_waited_virtually_by_a_urllib3_retry_adapter(pages: tuple[str, Path]) -> None:
    first, folder = pages
    session = _retrying(Retry(total=3, status_forcelist=(429,), respect_retry_after_header=True))
    started = time.monotonic()
    with replaying(folder, faults="429:retry-after=3600@1") as replay:
        assert _get(first, session).status_code == 200
    assert time.monotonic() - started < 5
    assert replay.waited == 3600
    assert replay.fault_events[0].outcome() == "retried by the HTTP adapter (urllib3 Retry, 1 retry), then answered"


def test_persistent_5xx_exhausts_the_retry_adapter(pages: tuple[str, Path]) -> None:
    first, folder = pages
    session = _retrying(Retry(total=2, status_forcelist=(503,), backoff_factor=1))
    with replaying(folder, faults="503:times=5@1") as replay, \
            pytest.raises(requests.exceptions.RetryError, match="too many 503 error responses"):
        _get(first, session)
    assert replay.fault_events[0].adapter_retries == 2
    assert replay.fault_events[0].outcome() == "retried, but every retry failed too"
    assert replay.waited == 2.0          # backoff 0 s, then 2 s, virtual


def test_timeout_raises_read_timeout_unless_the_adapter_retries_reads(pages: tuple[str, Path]) -> None:
    first, folder = pages
    with replaying(folder, faults="timeout@1"), pytest.raises(requests.exceptions.ReadTimeout, match="injected"):
        _get(first)
    with replaying(folder, faults="timeout@1") as replay:
        assert _get(first, _retrying(Retry(total=2))).status_code == 200
    assert replay.fault_events[0].adapter_retries == 1


def test_truncate_cuts_the_json_and_keeps_the_recorded_answer_for_the_retry(pages: tuple[str, Path]) -> None:
    first, folder = pages
    with replaying(folder, faults="truncate@1"):
        broken = _get(first)
        assert broken.status_code == 200
        with pytest.raises(requests.exceptions.JSONDecodeError):
            broken.json()
        assert len(_get(first).json()["data"]) == 3


def test_repeat_next_points_the_last_page_back_at_itself_forever(pages: tuple[str, Path]) -> None:
    first, folder = pages
    with replaying(folder, faults="repeat-next") as replay:
        url, seen = first, []
        for _ in range(6):
            page = _get(url).json()
            seen.append([item["id"] for item in page["data"]])
            url = page["next"]
    assert seen == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10], [10], [10]]
    assert "updated_after=2024-01-09" in url and API_KEY not in url
    assert replay.fault_events[0].outcome() == "the connector followed the repeated link 2 times"
    assert replay.repeated_requests(3)[0][1] == 3


def test_empty_last_adds_an_empty_page_after_the_last_one(pages: tuple[str, Path]) -> None:
    first, folder = pages
    with replaying(folder, faults="empty-last") as replay:
        url: str | None = first
        pages_seen = []
        while url:
            page = _get(url).json()
            pages_seen.append(page)
            url = page["next"]
    assert [len(page["data"]) for page in pages_seen] == [3, 3, 3, 1, 0]
    assert pages_seen[-1]["next"] is None and pages_seen[-1]["meta"] == pages_seen[-2]["meta"]
    assert replay.fault_events[0].outcome() == "the connector requested the empty page"


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, PropertyResult]]:
    """check_faults with every fault kind, for the resilient and the fragile connector."""
    api = ItemsApi()
    configuration = {"base_url": api.url, "api_key": API_KEY, "token": TOKEN, "page_size": "3"}
    root = tmp_path_factory.mktemp("trials")
    results = {}
    for name in ("resilient", "fragile"):
        project = write_project(root / name, name)
        record(project, configuration, root / f"{name}-rec", runs=1)
        trial = check_faults(project, root / f"{name}-rec", EVERY_KIND, configuration=configuration)
        results[name] = {result.name.removeprefix("fault:"): result for result in trial}
    api.stop()
    return results


@pytest.mark.parametrize(("fault", "summary", "outcome"), [
    ("429:retry-after=0@2", "recovered", "retried by the HTTP adapter (urllib3 Retry, 1 retry)"),
    ("429:retry-after=date@2", "recovered", "retried by the HTTP adapter"),
    ("429:retry-after=3600@2", "recovered", "waited 3,600.0 s (virtual)"),
    ("503@2", "recovered", "retried by the HTTP adapter"),
    ("500:times=10@2", "failed cleanly: kept the state and tables of checkpoint 1", "RetryError"),
    ("timeout@2", "recovered", "retried by the HTTP adapter"),
    ("truncate@2", "recovered", "re-sent by the connector (1 time), then answered"),
    ("repeat-next@last", "recovered", "the connector did not follow the repeated link"),
    ("empty-last@last", "recovered", "the connector requested the empty page"),
])
def test_resilient_connector_recovers_or_fails_cleanly(trials: dict[str, dict[str, PropertyResult]], fault: str,
                                                       summary: str, outcome: str) -> None:
    result = trials["resilient"][fault]
    assert result.status == PASS, result
    assert result.summary.startswith(summary)
    assert any(outcome in line for line in result.evidence), result.evidence


@pytest.mark.parametrize(("fault", "status", "summary", "evidence"), [
    ("429:retry-after=0@2", "PASS", "failed cleanly: kept the state and tables of checkpoint 1", "429 Client Error"),
    ("503@2", "PASS", "failed cleanly", "503 Server Error"),
    ("timeout@2", "PASS", "failed cleanly", "ReadTimeout"),
    ("truncate@2", "PASS", "failed cleanly", "JSONDecodeError"),
    ("empty-last@last", "PASS", "failed cleanly: kept the state and tables of checkpoint 4", "IndexError"),
    ("repeat-next@last", "FAIL", "looped: the connector kept requesting the same page",
     "replay stopped the connector after 100 requests"),
])
def test_fragile_connector_fails_cleanly_or_loops_and_the_report_says_which(
        trials: dict[str, dict[str, PropertyResult]], fault: str, status: str, summary: str, evidence: str) -> None:
    result = trials["fragile"][fault]
    assert result.status == status, result
    assert result.summary.startswith(summary), result.summary
    assert any(evidence in line for line in result.evidence), result.evidence
    assert all(API_KEY not in line for line in result.evidence)


def test_debug_with_faults_reports_each_fault_and_the_outcome(api: ItemsApi, configuration: dict[str, str],
                                                              tmp_path: Path) -> None:
    project = write_project(tmp_path / "fragile", "fragile")
    record(project, configuration, tmp_path / "rec", runs=1)
    api.stop()
    request = DebugRequest(project=project, configuration=configuration, state={}, environ={})
    with replaying(tmp_path / "rec", faults="503@3", secrets=configuration) as session:
        report = run_debug(request, out=io.StringIO(), err=io.StringIO())
    text = session.describe(succeeded=report.succeeded, error=report.error)
    assert not report.succeeded
    assert "fault #3 GET" in text and "HTTP 503 (503@3) -> not retried" in text
    assert "failed cleanly: the sync failed and kept its last checkpoint (update() failed: HTTPError: 503" in text
    assert API_KEY not in text
    assert json.loads((project / "files" / "state.json").read_text()) == {"updated_after": "2024-01-06T00:00:00Z"}


@pytest.mark.parametrize("shape", ["token", "flag"])
def test_page_faults_work_with_next_tokens_and_has_more_flags(shape: str, tmp_path: Path) -> None:
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    def handler(request: Request) -> Response:
        after = int(request.args.get("cursor") or request.args.get("after") or 0)
        ids = [i for i in range(after + 1, 8)][:3]
        more = bool(ids) and ids[-1] < 7
        body: dict[str, object] = {"data": [{"id": i} for i in ids]}
        body.update({"next_cursor": str(ids[-1]) if more else None} if shape == "token" else {"has_more": more})
        return Response(json.dumps(body), content_type="application/json")

    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/things").respond_with_handler(handler)
    server.start()
    url = server.url_for("/things")

    def walk(limit: int = 8) -> list[list[int]]:
        pages, params = [], {}
        for _ in range(limit):
            page = requests.get(url, params=params, timeout=5).json()
            pages.append([item["id"] for item in page["data"]])
            if shape == "token":
                if not page["next_cursor"]:
                    break
                params = {"cursor": page["next_cursor"]}
            else:
                if not page["has_more"]:
                    break
                params = {"after": pages[-1][-1]}
        return pages

    try:
        with recording(tmp_path / "rec", secrets={}):
            assert walk() == [[1, 2, 3], [4, 5, 6], [7]]
    finally:
        server.stop()
    with replaying(tmp_path / "rec", faults="empty-last") as replay:
        assert walk() == [[1, 2, 3], [4, 5, 6], [7], []]
    assert replay.fault_events[0].outcome() == "the connector requested the empty page"
    if shape == "token":
        with replaying(tmp_path / "rec", faults="repeat-next") as replay:
            assert walk(limit=5) == [[1, 2, 3], [4, 5, 6], [7], [7], [7]]
        assert replay.fault_events[0].outcome() == "the connector followed the repeated link 2 times"
