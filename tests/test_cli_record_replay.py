"""`headwater debug --record DIR` / `--replay DIR` / `--faults SPEC` through the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
from pytest_httpserver import HTTPServer

SECRET = "sk-live-abcdef123456"


def _headwater(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIVETRAN_", "HEADWATER_"))}
    return subprocess.run([str(Path(sys.executable).parent / "headwater"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _project(tmp_path: Path, base_url: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "configuration.json").write_text(json.dumps({"base_url": base_url, "api_key": SECRET}))
    (project / "connector.py").write_text(textwrap.dedent('''
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            session = requests.Session()
            retry = Retry(total=5, backoff_factor=0, status_forcelist=(429, 503), respect_retry_after_header=True)
            session.mount("http://", HTTPAdapter(max_retries=retry))
            page = 1
            while page:
                response = session.get(configuration["base_url"] + "/items", params={"page": page},
                                       headers={"X-Api-Key": configuration["api_key"]}, timeout=10)
                response.raise_for_status()
                body = response.json()
                for item in body["items"]:
                    op.upsert("items", item)
                op.checkpoint({"page": page})
                page = body["next"]

        connector = Connector(update=update)
    '''))
    return project


def _serve(server: HTTPServer) -> None:
    for page, following in ((1, 2), (2, 3), (3, None)):
        server.expect_request("/items", query_string={"page": str(page)}).respond_with_json(
            {"items": [{"id": page * 10 + i, "name": f"item {page}-{i}"} for i in range(3)], "next": following})


def _rows(project: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True)
    try:
        return con.execute("SELECT id, name, _fivetran_deleted FROM tester.items ORDER BY id").fetchall()
    finally:
        con.close()


def test_replay_of_a_recording_builds_the_same_warehouse_offline(tmp_path: Path, httpserver: HTTPServer) -> None:
    _serve(httpserver)
    project = _project(tmp_path, httpserver.url_for("").rstrip("/"))
    recorded = _headwater("debug", str(project), "--record", str(tmp_path / "rec"), cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    live = _rows(project)
    assert len(live) == 9
    for file in (tmp_path / "rec").iterdir():
        assert SECRET not in file.read_text(), f"{file.name} holds the API key"

    httpserver.clear()  # the API is gone: the replay must not need it
    _headwater("reset", "-f", str(project), cwd=tmp_path)
    replayed = _headwater("debug", str(project), "--replay", str(tmp_path / "rec"), cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "answered from" in replayed.stdout
    assert _rows(project) == live


def test_replay_with_faults_reports_that_the_connector_recovered(tmp_path: Path, httpserver: HTTPServer) -> None:
    _serve(httpserver)
    project = _project(tmp_path, httpserver.url_for("").rstrip("/"))
    assert _headwater("debug", str(project), "--record", str(tmp_path / "rec"), cwd=tmp_path).returncode == 0
    _headwater("reset", "-f", str(project), cwd=tmp_path)
    faulty = _headwater("debug", str(project), "--replay", str(tmp_path / "rec"),
                        "--faults", "429:retry-after=0@2,503@3", cwd=tmp_path)
    assert faulty.returncode == 0, faulty.stdout + faulty.stderr
    assert "recovered" in faulty.stdout
    assert len(_rows(project)) == 9


def test_faults_without_replay_is_a_usage_error(tmp_path: Path) -> None:
    done = _headwater("debug", str(tmp_path), "--faults", "503@1", cwd=tmp_path)
    assert done.returncode == 2
    assert "--replay" in done.stderr


def test_replay_of_a_missing_recording_fails_before_the_sync(tmp_path: Path) -> None:
    project = _project(tmp_path, "http://127.0.0.1:9")
    done = _headwater("debug", str(project), "--replay", str(tmp_path / "nothing-here"), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert not (project / "files" / "warehouse.db").exists()
