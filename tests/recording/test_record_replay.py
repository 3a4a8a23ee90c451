"""Record a connector against a loopback API, then replay it offline."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
from loopback_api import API_KEY, BLOB, TOKEN, ItemsApi, record
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from headwater.recording import (
    Cassette,
    RecordingError,
    ReplayMissError,
    ReplayNetworkError,
    recording,
    replaying,
)
from headwater.recording.compare import compare_warehouses
from headwater.runner import DebugRequest, run_debug
from headwater.testing import SyncResult, run_connector


def _rows(result: SyncResult) -> list[tuple[Any, ...]]:
    return result.rows("SELECT * EXCLUDE (_fivetran_synced) FROM tester.items ORDER BY id")


def test_replay_with_the_server_stopped_builds_the_same_warehouse(
        api: ItemsApi, configuration: dict[str, str], make_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = make_project("correct")
    with recording(tmp_path / "rec", secrets=configuration) as recorder:
        recorded = run_connector(project, configuration=configuration, warehouse_dir=tmp_path / "live")
    assert recorded.succeeded, recorded.output
    assert recorder.exchanges == 4 and api.requests == 4
    api.stop()

    with replaying(tmp_path / "rec", secrets=configuration) as session:
        replayed = run_connector(project, configuration=configuration, warehouse_dir=tmp_path / "replay")

    assert replayed.succeeded, replayed.errors
    assert session.requests == 4 and not session.misses
    assert len(_rows(replayed)) == 10
    assert _rows(replayed) == _rows(recorded)
    assert compare_warehouses(recorded.warehouse, replayed.warehouse) == []
    assert replayed.state == recorded.state


def test_replay_never_opens_a_socket(api: ItemsApi, configuration: dict[str, str],
                                     make_project: Callable[[str], Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project("correct")
    record(project, configuration, tmp_path / "rec", runs=1)
    connects: list[Any] = []
    real_connect = socket.socket.connect

    def spy(sock: socket.socket, address: Any) -> None:
        connects.append(address)
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    with replaying(tmp_path / "rec", block_network=False):
        replayed = run_connector(project, configuration=configuration, warehouse_dir=tmp_path / "replay")
    assert replayed.succeeded, replayed.errors
    assert connects == []


def test_recording_files_hold_no_secret(api: ItemsApi, configuration: dict[str, str],
                                        make_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = make_project("correct")
    record(project, configuration, tmp_path / "rec", runs=2)
    files = list((tmp_path / "rec").iterdir())
    assert {path.name for path in files} == {"meta.json", "exchanges.jsonl"}
    text = "".join(path.read_text(encoding="utf-8") for path in files)
    for secret in (API_KEY, TOKEN):
        for form in (secret, quote(secret, safe=""), quote_plus(secret)):
            assert form not in text
    first = json.loads((tmp_path / "rec" / "exchanges.jsonl").read_text().splitlines()[0])
    assert first["request"]["headers"]["X-Api-Key"] == "<redacted>"
    assert first["request"]["headers"]["Authorization"] == "<redacted>"
    assert "api_key=<redacted>" in first["request"]["url"]
    assert json.loads(first["response"]["body"])["meta"]["request_key"] == "<redacted>"
    meta = json.loads((tmp_path / "rec" / "meta.json").read_text())
    assert meta["config_keys"] == ["api_key", "base_url", "page_size", "token"]
    assert meta["redacted_config_keys"] == ["api_key", "token"]
    assert [run["exchanges"] for run in meta["runs"]] == [4, 1]


def test_request_not_recorded_fails_the_replay_naming_it_and_the_closest_recorded(
        api: ItemsApi, configuration: dict[str, str], make_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = make_project("correct")
    record(project, configuration, tmp_path / "rec", runs=1)
    api.stop()
    other = {**configuration, "page_size": "5"}
    with replaying(tmp_path / "rec", secrets=other) as session:
        replayed = run_connector(project, configuration=other, warehouse_dir=tmp_path / "replay")

    assert not replayed.succeeded
    assert "ReplayMissError" in replayed.errors
    miss = session.misses[0]
    assert miss.method == "GET" and "limit=5" in miss.url and "updated_after=" in miss.url
    assert "limit=3" in miss.closest[0]
    assert f"GET {miss.url} is not in the recording" in miss.message
    assert "closest recorded: GET" in miss.message
    assert API_KEY not in miss.message


def test_request_repeated_more_often_than_recorded_is_a_miss(api: ItemsApi, tmp_path: Path) -> None:
    url = f"{api.url}/api/blob"
    with recording(tmp_path / "rec", secrets={}):
        assert requests.get(url, timeout=5).content == BLOB
    with replaying(tmp_path / "rec"):
        assert requests.get(url, timeout=5).content == BLOB
        with pytest.raises(ReplayMissError, match="was recorded 1 time and every recorded answer has been replayed"):
            requests.get(url, timeout=5)


def test_replay_matches_when_run_with_other_credentials(api: ItemsApi, configuration: dict[str, str],
                                                        make_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = make_project("correct")
    recorded = record(project, configuration, tmp_path / "rec", runs=1)[0]
    api.stop()
    dummy = {**configuration, "api_key": "dummy-key", "token": "dummy-token"}
    with replaying(tmp_path / "rec", secrets=dummy):
        replayed = run_connector(project, configuration=dummy, warehouse_dir=tmp_path / "replay")
    assert replayed.succeeded, replayed.errors
    assert _rows(replayed) == _rows(recorded)


def test_recording_covers_module_calls_sessions_and_retry_adapter_subclasses(api: ItemsApi, tmp_path: Path) -> None:
    class TimeoutAdapter(HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:   # type: ignore[override]
            kwargs["timeout"] = kwargs.get("timeout") or 5
            return super().send(request, **kwargs)

    session = requests.Session()
    session.mount("http://", TimeoutAdapter(max_retries=Retry(total=3, status_forcelist=(503,))))
    with recording(tmp_path / "rec", secrets={}) as recorder:
        first = requests.get(f"{api.url}/api/blob", timeout=5).content
        second = session.get(f"{api.url}/api/gzip").json()
        third = session.post(f"{api.url}/api/search", json={"query": "item 1"}).json()
    assert recorder.exchanges == 3
    api.stop()
    with replaying(tmp_path / "rec"):
        assert requests.get(f"{api.url}/api/blob", timeout=5).content == first == BLOB
        assert session.get(f"{api.url}/api/gzip").json() == second == {"compressed": True, "items": api.items[:2]}
        assert session.post(f"{api.url}/api/search", json={"query": "item 1"}).json() == third
    lines = [json.loads(line) for line in (tmp_path / "rec" / "exchanges.jsonl").read_text().splitlines()]
    assert "body_b64" in lines[0]["response"] and "body" in lines[1]["response"]
    assert "Content-Encoding" not in lines[1]["response"]["headers"]
    assert lines[2]["request"]["body"] == '{"query":"item 1"}'


def test_post_body_is_matched_by_hash_with_secret_fields_redacted(api: ItemsApi, tmp_path: Path) -> None:
    url = f"{api.url}/api/search"
    with recording(tmp_path / "rec", secrets={"password": "hunter2-long"}):
        requests.post(url, json={"query": "item", "password": "hunter2-long"}, timeout=5)
    stored = (tmp_path / "rec" / "exchanges.jsonl").read_text()
    assert "hunter2-long" not in stored
    assert json.loads(stored)["request"]["body"] == '{"password":"<redacted>","query":"item"}'
    with replaying(tmp_path / "rec"):
        answer = requests.post(url, json={"password": "another-one", "query": "item"}, timeout=5)
        assert len(answer.json()["results"]) == 10
        with pytest.raises(ReplayMissError, match="recorded with another request body"):
            requests.post(url, json={"query": "other", "password": "x"}, timeout=5)


def test_replay_refuses_any_other_network_connection(api: ItemsApi, tmp_path: Path) -> None:
    with recording(tmp_path / "rec", secrets={}):
        requests.get(f"{api.url}/api/blob", timeout=5)
    with replaying(tmp_path / "rec"), pytest.raises(ReplayNetworkError, match="only requests made with the requests"):
        urllib.request.urlopen(f"{api.url}/api/blob", timeout=5)
    assert urllib.request.urlopen(f"{api.url}/api/blob", timeout=5).read() == BLOB


def test_request_error_is_recorded_and_raised_again_on_replay(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/closed"
    with recording(tmp_path / "rec", secrets={}), pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=2)
    (exchange,) = Cassette.load(tmp_path / "rec").exchanges
    assert exchange.response is None and exchange.error is not None
    assert exchange.error["type"] == "ConnectionError"
    with replaying(tmp_path / "rec"), pytest.raises(requests.exceptions.ConnectionError, match="replayed"):
        requests.get(url, timeout=2)


def test_transport_is_restored_when_the_block_ends_even_on_error(tmp_path: Path) -> None:
    original = HTTPAdapter.send
    with pytest.raises(RuntimeError), recording(tmp_path / "rec", secrets={}):
        assert HTTPAdapter.send is not original
        raise RuntimeError("boom")
    assert HTTPAdapter.send is original
    original_connect = socket.socket.connect
    with replaying(tmp_path / "rec"):
        assert socket.socket.connect is not original_connect
        with pytest.raises(RecordingError, match="already active"), recording(tmp_path / "other", secrets={}):
            pass
    assert HTTPAdapter.send is original and socket.socket.connect is original_connect


def test_replay_of_a_missing_recording_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="--record"), replaying(tmp_path / "nothing"):
        pass


def test_debug_run_is_recorded_and_replayed_through_run_debug(api: ItemsApi, configuration: dict[str, str],
                                                               make_project: Callable[[str], Path],
                                                               tmp_path: Path) -> None:
    """What ``headwater debug --record DIR`` / ``--replay DIR`` do: wrap run_debug."""
    import io

    project = make_project("correct")
    (project / "configuration.json").write_text(json.dumps(configuration))
    request = DebugRequest(project=project, environ={})
    with recording(tmp_path / "rec", secrets=configuration):
        live = run_debug(request, out=io.StringIO(), err=io.StringIO())
    api.stop()
    (project / "files" / "state.json").unlink()
    with replaying(tmp_path / "rec", secrets=configuration) as session:
        replayed = run_debug(request, out=io.StringIO(), err=io.StringIO())
    assert live.succeeded and replayed.succeeded
    assert replayed.tables == live.tables == {"items": 10}
    assert session.describe().startswith(f"replay of {tmp_path / 'rec'}: 4 requests answered from 4 recorded")
