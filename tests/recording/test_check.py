"""headwater check on recordings: a correct connector passes; planted bugs are caught and explained."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from loopback_api import API_KEY, SOURCES, TOKEN, ItemsApi, record, write_project

from headwater.check import FAIL, INCONCLUSIVE, PASS, CheckReport, check_connector, check_faults
from headwater.check_cli import check, parse_bytes, render_text
from headwater.statestore import FileStateStore

PROPERTIES = ["first-run", "terminates", "second-run", "resume", "state-secrets", "state-size", "primary-keys"]
Recorded = Callable[..., tuple[Path, Path]]


@pytest.fixture(scope="module")
def api() -> Iterator[ItemsApi]:
    server = ItemsApi()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def configuration(api: ItemsApi) -> dict[str, str]:
    return {"base_url": api.url, "api_key": API_KEY, "token": TOKEN, "page_size": "3"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, configuration: dict[str, str]) -> Recorded:
    """``recorded(name, runs=2)`` -> (project, recording): one recording per connector and run count."""
    root = tmp_path_factory.mktemp("recorded")
    cache: dict[tuple[str, int], tuple[Path, Path]] = {}

    def make(name: str, runs: int = 2, source: str | None = None) -> tuple[Path, Path]:
        if (name, runs) not in cache:
            project = write_project(root / f"{name}-{runs}", source or name)
            folder = root / f"{name}-{runs}-rec"
            results = record(project, configuration, folder, runs=runs)
            assert results[0].succeeded, results[0].errors
            cache[(name, runs)] = (project, folder)
        return cache[(name, runs)]

    return make


def _statuses(report: CheckReport) -> dict[str, str]:
    return {result.name: result.status for result in report.properties}


def test_check_passes_a_correct_incremental_connector(recorded: Recorded, configuration: dict[str, str]) -> None:
    project, folder = recorded("correct")
    report = check_connector(project, folder, configuration=configuration, faults="repeat-next,empty-last")
    assert _statuses(report) == {**dict.fromkeys(PROPERTIES, PASS), "fault:repeat-next@last": PASS,
                                 "fault:empty-last@last": PASS}, render_text(report)
    assert report.ok and report.exchanges == 5 and report.recorded_runs == 2
    assert report.get("first-run").summary == "succeeded: 10 rows in 1 table, 4 checkpoints, 4 requests"
    assert report.get("resume").summary == "resuming after each of 4 checkpoints ends in the same tables"
    assert report.get("second-run").summary.startswith("changed nothing; re-sent 0 operations")
    assert report.get("state-secrets").summary.endswith("(checked: api_key, token)")
    assert FileStateStore.save.__name__ == "save" and FileStateStore.save.__qualname__ == "FileStateStore.save"


def test_check_catches_the_cursor_checkpointed_before_the_upserts(recorded: Recorded,
                                                                   configuration: dict[str, str]) -> None:
    project, folder = recorded("cursor_first")
    report = check_connector(project, folder, configuration=configuration)
    assert _statuses(report) == {**dict.fromkeys(PROPERTIES, PASS), "resume": FAIL}
    resume = report.get("resume")
    assert resume.summary == "resuming after 4 of 4 checkpoints ends in other tables than the uninterrupted run"
    assert resume.evidence[0] == ('resuming after checkpoint 1 (state {"updated_after": "2024-01-03T00:00:00Z"}) '
                                  'ends differently: table tester.items: 3 rows missing')
    assert resume.evidence[1] == '  missing: {"id": 1, "name": "item 1", "updated_at": "2024-01-01T00:00:00Z"}'
    assert resume.evidence[4].startswith("  why: these rows were not committed at checkpoint 1, yet the state saved "
                                         "there already points past them: the cursor was checkpointed before the "
                                         "rows were upserted")
    assert resume.evidence[-1] == "... and 1 more checkpoint like these"
    text = render_text(report)
    assert "FAIL         resume" in text and "1 of 7 properties failed: resume." in text


@pytest.mark.parametrize(("name", "evidence"), [
    ("no_loop_guard", "replay stopped the connector after 100 requests (the recording holds 4 exchanges): the "
                      "connector kept requesting GET "),
    ("page_limit", "answered the same page 7 times in a row, then the run succeeded (a page limit?); stop when a "
                   "next link repeats one already fetched"),
])
def test_check_catches_a_paginator_that_repeats_the_last_page(recorded: Recorded, configuration: dict[str, str],
                                                              name: str, evidence: str) -> None:
    project, folder = recorded(name, runs=1)
    (result,) = check_faults(project, folder, "repeat-next", configuration=configuration)
    assert (result.name, result.status) == ("fault:repeat-next@last", FAIL)
    assert result.summary == "looped: the connector kept requesting the same page"
    assert any(evidence in line for line in result.evidence), result.evidence
    (correct,) = check_faults(*recorded("correct"), "repeat-next", configuration=configuration)
    assert correct.status == PASS and correct.summary == "recovered: the sync succeeded with the same tables"


def test_check_catches_a_paginator_following_an_api_that_repeats_its_last_page(tmp_path: Path) -> None:
    api = ItemsApi(last_next_is_self=True)
    configuration = {"base_url": api.url, "api_key": API_KEY, "token": TOKEN, "page_size": "3"}
    project = write_project(tmp_path / "page_limit", "page_limit")
    record(project, configuration, tmp_path / "rec", runs=1)
    api.stop()
    report = check_connector(project, tmp_path / "rec", configuration=configuration)
    terminates = report.get("terminates")
    assert terminates.status == FAIL
    assert terminates.summary == "the first run fetched the same page 7 times in a row"
    assert "answered the same 200 page 7 times in a row; the run then succeeded" in terminates.evidence[0]


def test_check_second_run_is_inconclusive_without_a_recorded_second_run(recorded: Recorded,
                                                                         configuration: dict[str, str]) -> None:
    project, folder = recorded("correct", runs=1)
    report = check_connector(project, folder, configuration=configuration)
    second = report.get("second-run")
    assert second.status == INCONCLUSIVE and report.ok
    assert second.summary == "the second run asked for a request the recording does not hold"
    assert any("updated_after=2024-01-10T00:00:00Z" in line and "is not in the recording" in line
               for line in second.evidence)
    assert second.evidence[-1].startswith("record a second run into the same folder")
    assert "1 could not be decided from this recording: second-run." in render_text(report)


STATE_WITH_TOKEN = SOURCES["correct"].replace(
    'op.checkpoint({"updated_after": page["data"][-1]["updated_at"]})',
    'op.checkpoint({"updated_after": page["data"][-1]["updated_at"], "auth": "Bearer " + configuration["token"]})')

IGNORES_STATE = SOURCES["correct"].replace('"updated_after": state.get("updated_after", "")', '"updated_after": ""')

FETCHED_AT = SOURCES["correct"].replace('op.upsert("items", item)',
                                        'op.upsert("items", {**item, "fetched_at": time.time_ns()})'
                                        ).replace("import requests", "import time\nimport requests")


def test_check_catches_a_secret_stored_in_the_state(recorded: Recorded, configuration: dict[str, str]) -> None:
    project, folder = recorded("state_with_token", source=STATE_WITH_TOKEN)
    report = check_connector(project, folder, configuration=configuration)
    secrets = report.get("state-secrets")
    assert secrets.status == FAIL and secrets.summary == "the state holds a configuration secret"
    assert secrets.evidence[0] == "checkpoint 1: state['auth'] holds the value of configuration key 'token'"
    assert TOKEN not in report.to_json()


def test_check_fails_a_state_over_the_budget(recorded: Recorded, configuration: dict[str, str]) -> None:
    project, folder = recorded("correct")
    report = check_connector(project, folder, configuration=configuration, state_budget=16, max_resumes=1)
    size = report.get("state-size")
    assert size.status == FAIL
    assert size.summary == "the state reached 41 B at checkpoint 1, over the budget of 16 B"
    assert size.evidence == ["state['updated_after'] is 22 B"]
    assert report.get("resume").summary.startswith("resuming after each of 1 checkpoint ends in the same tables "
                                                   "(3 more checkpoints not tried")


def test_check_catches_a_connector_that_ignores_its_state(recorded: Recorded, configuration: dict[str, str]) -> None:
    project, folder = recorded("ignores_state", source=IGNORES_STATE)
    report = check_connector(project, folder, configuration=configuration)
    second = report.get("second-run")
    assert second.status == FAIL
    assert second.summary == "the second run re-sent everything (10 of 10 operations)"
    assert "the connector does not continue from its state" in second.evidence


def test_check_leaves_out_columns_that_differ_between_identical_runs(recorded: Recorded,
                                                                     configuration: dict[str, str]) -> None:
    project, folder = recorded("fetched_at", source=FETCHED_AT)
    report = check_connector(project, folder, configuration=configuration)
    assert report.ok, render_text(report)
    assert report.notes == ["tester.items: fetched_at differ between two identical runs (a clock or a random "
                            "value); left out of every comparison"]


def test_check_command_exit_status_and_formats(recorded: Recorded, configuration: dict[str, str],
                                               tmp_path: Path) -> None:
    config_file = tmp_path / "configuration.json"
    config_file.write_text(json.dumps(configuration))
    good, good_recording = recorded("correct")
    bad, bad_recording = recorded("cursor_first")

    passed = CliRunner().invoke(check, [str(good), "--replay", str(good_recording), "--configuration",
                                        str(config_file), "--max-resumes", "2"])
    assert passed.exit_code == 0, passed.output
    assert "All 7 checked properties passed." in passed.output

    failed = CliRunner().invoke(check, [str(bad), "--replay", str(bad_recording), "--configuration",
                                        str(config_file), "--format", "json", "--state-budget", "1KB"])
    assert failed.exit_code == 1
    data = json.loads(failed.output)
    assert data["ok"] is False
    assert [p["name"] for p in data["properties"] if p["status"] == "FAIL"] == ["resume"]

    bad_faults = CliRunner().invoke(check, [str(good), "--replay", str(good_recording), "--faults", "429"])
    assert bad_faults.exit_code == 2 and "needs a target" in bad_faults.output

    missing = CliRunner().invoke(check, [str(good), "--replay", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "error: no recording in" in missing.output


def test_state_budget_sizes_parse() -> None:
    assert [parse_bytes(text) for text in ("65536", "64KB", "64k", "1MB", "0.5kb")] == [65536, 65536, 65536,
                                                                                        1048576, 512]
