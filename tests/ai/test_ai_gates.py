"""The gates, one by one, on small projects built from the offset case's connector."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from headwater.ai.eval_apis import EvalApiServer
from headwater.ai.evaluation import case_named, good_answer
from headwater.ai.fake_model import ScriptedAnswer
from headwater.ai.gates import (
    GateContext,
    GateOptions,
    GateResult,
    IncrementalGate,
    classify_run,
    default_gates,
    docs_type_hints,
    run_gates,
)

Api = Callable[..., EvalApiServer]


def project_of(root: Path, answer: ScriptedAnswer) -> Path:
    for path, text in answer.files.items():
        target = root / "project" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root / "project"


def gates_for(project: Path, scratch: Path, *, run_tests: bool = False, **options: Any) -> dict[str, GateResult]:
    scratch.mkdir(exist_ok=True)
    context = GateContext(GateOptions(run_tests=run_tests, **options), scratch)
    return {result.gate: result for result in run_gates(default_gates(), project, context)}


def test_a_good_connector_passes_every_gate(tmp_path: Path, answers: Any, source_api: Api,
                                            configuration_for: Callable[..., Mapping[str, str]]) -> None:
    api = source_api("offset")
    project = project_of(tmp_path, answers.good)

    results = gates_for(project, tmp_path / "scratch", configuration=configuration_for(api), tables=("customers",),
                        run_tests=True)

    assert {name: result.status for name, result in results.items()} == {
        "parse_import": "passed", "lint": "passed", "schema": "passed", "run": "passed", "invariants": "passed",
        "incremental": "unavailable", "tests": "passed"}
    assert results["invariants"].summary == "rows: customers 12"


def test_lint_warnings_fail_the_lint_gate_unless_allowed(tmp_path: Path, answers: Any) -> None:
    project = project_of(tmp_path, answers.lint_failing)

    strict = gates_for(project, tmp_path / "a")["lint"]
    relaxed = gates_for(project, tmp_path / "b", lint_fail_on="error")["lint"]

    assert strict.status == "failed" and strict.category == "code"
    assert {finding["rule"] for finding in strict.findings} == {"HW020", "HW022"}
    assert relaxed.status == "passed" and len(relaxed.findings) == 2


def test_a_syntax_error_fails_parse_import_and_skips_what_needs_it(tmp_path: Path, answers: Any) -> None:
    project = project_of(tmp_path, answers.replace("def schema(", "def schema(("))

    results = gates_for(project, tmp_path / "scratch", configuration={})

    assert results["parse_import"].findings[0]["kind"] == "syntax_error"
    assert results["schema"].status == "skipped" and results["run"].status == "skipped"


def test_an_undeclared_requested_table_fails_the_schema_gate(tmp_path: Path, answers: Any) -> None:
    results = gates_for(project_of(tmp_path, answers.good), tmp_path / "scratch", configuration={},
                        tables=("customers", "orders"))

    assert results["schema"].status == "failed"
    assert [finding["table"] for finding in results["schema"].findings] == ["orders"]


def test_rejected_configured_credentials_are_a_configuration_problem(
        tmp_path: Path, answers: Any, source_api: Api, configuration_for: Callable[..., Mapping[str, str]]) -> None:
    api = source_api("offset")

    run = gates_for(project_of(tmp_path, answers.good), tmp_path / "scratch",
                    configuration=configuration_for(api, api_key="sk-test-WRONG-key"))["run"]

    assert run.status == "failed" and run.category == "configuration"
    assert "refused the configured credentials" in run.summary
    assert "sk-test-WRONG-key" not in str(run.to_dict())


def test_a_401_to_a_request_without_the_credentials_is_a_code_problem(
        tmp_path: Path, answers: Any, source_api: Api, configuration_for: Callable[..., Mapping[str, str]]) -> None:
    api = source_api("offset")
    project = project_of(tmp_path, answers.replace('make_session({"X-API-Key": settings.api_key})', "make_session({})"))

    run = gates_for(project, tmp_path / "scratch", configuration=configuration_for(api))["run"]

    assert run.status == "failed" and run.category == "code"


def test_real_hosts_are_blocked_without_live(tmp_path: Path, answers: Any) -> None:
    configuration = {"base_url": "https://api.example.com", "api_key": "k-123456"}

    run = gates_for(project_of(tmp_path, answers.good), tmp_path / "scratch", configuration=configuration)["run"]

    assert run.status == "failed" and run.category == "configuration"
    assert "--live" in run.summary


def test_an_unreachable_fixture_is_an_infrastructure_problem(tmp_path: Path, answers: Any) -> None:
    configuration = {"base_url": "http://127.0.0.1:9", "api_key": "k-123456"}
    impatient = answers.replace("BACKOFF_FACTOR = 1.0", "BACKOFF_FACTOR = 0.0")

    run = gates_for(project_of(tmp_path, impatient), tmp_path / "scratch", configuration=configuration)["run"]

    assert run.status == "failed" and run.category == "infrastructure"


def test_placeholders_or_no_configuration_stop_the_run_gate(tmp_path: Path, answers: Any) -> None:
    project = project_of(tmp_path, answers.good)

    missing = gates_for(project, tmp_path / "a")["run"]
    placeholder = gates_for(project, tmp_path / "b", configuration={"base_url": "<BASE_URL>"})["run"]

    assert missing.category == placeholder.category == "configuration"


def test_data_gate_flags_empty_tables_and_dates_or_numbers_stored_as_text(
        tmp_path: Path, answers: Any, source_api: Api, configuration_for: Callable[..., Mapping[str, str]]) -> None:
    api = source_api("offset")
    untyped = answers.replace('"balance": {"type": "DECIMAL", "precision": 12, "scale": 2},\n', "").files
    untyped["connector.py"] = untyped["connector.py"].replace('"signup_date": "NAIVE_DATE",\n', "").replace(
        '"created_at": "UTC_DATETIME",\n', "")
    project = project_of(tmp_path / "a", ScriptedAnswer(files=untyped))
    docs = "- `balance` (decimal number, sent as a string)\n- `signup_date` (date)\n"

    typed = gates_for(project, tmp_path / "s1", configuration=configuration_for(api), docs_text=docs)["invariants"]
    empty = gates_for(project_of(tmp_path / "b", answers.data_failing), tmp_path / "s2",
                      configuration=configuration_for(api), tables=("customers",))["invariants"]

    assert typed.status == "failed"
    assert {(finding["kind"], finding["column"]) for finding in typed.findings} == {
        ("number_as_text", "balance"), ("date_as_text", "signup_date"), ("date_as_text", "created_at")}
    assert empty.status == "failed" and empty.findings[0]["kind"] == "empty_table"


def test_docs_type_hints_read_the_word_after_the_column_name() -> None:
    docs = "- `id` (integer): the id\n- `email` (string)\n| created_at | timestamp |\n"

    assert docs_type_hints(docs, ["id", "email", "created_at", "missing"]) == {"id": "number", "created_at": "date"}


@pytest.mark.parametrize(("outcome", "category"), [
    ({"timeout": 30}, "code"),
    ({"crash": "boom"}, "infrastructure"),
    ({"blocked": ["api.example.com"]}, "configuration"),
    ({"exchanges": [{"method": "GET", "url": "u", "status": 401, "carried_credentials": True}]}, "configuration"),
    ({"exchanges": [{"method": "GET", "url": "u", "status": 401, "carried_credentials": False}]}, "code"),
    ({"exchanges": [{"method": "GET", "url": "u", "status": 503}]}, "infrastructure"),
    ({"exchanges": [{"method": "GET", "url": "u", "status": 429}]}, "code"),
    ({"exchanges": [{"method": "GET", "url": "u", "error": "ConnectionError"}]}, "infrastructure"),
    ({"exchanges": [{"method": "GET", "url": "u", "status": 404}]}, "code"),
])
def test_run_failures_are_classified_by_status_and_error_type(outcome: dict[str, Any], category: str) -> None:
    assert classify_run(outcome)[0] == category


def test_trusted_credentials_make_a_401_a_code_problem() -> None:
    outcome = {"exchanges": [{"method": "GET", "url": "u", "status": 401, "carried_credentials": True}]}

    assert classify_run(outcome, trust_credentials=True)[0] == "code"


def test_the_incremental_gate_runs_headwater_check_on_a_recording(
        tmp_path: Path, answers: Any, source_api: Api, configuration_for: Callable[..., Mapping[str, str]]) -> None:
    recording_module = pytest.importorskip("headwater.recording")
    from headwater.testing import run_connector

    api = source_api("cursor")
    project = project_of(tmp_path, ScriptedAnswer(files=good_answer(case_named("cursor"))))
    configuration = {"base_url": api.url, "api_key": api.api_key, "page_size": "5"}
    recording = tmp_path / "recording"
    with recording_module.recording(recording, secrets=configuration):
        assert run_connector(project, configuration=configuration, warehouse_dir=tmp_path / "rec").succeeded
    api.stop()  # from here on only the recording answers

    results = gates_for(project, tmp_path / "scratch", configuration=configuration, recording_dir=recording)

    assert results["run"].status == "passed", results["run"].findings
    assert "recording" in results["run"].summary
    assert results["incremental"].status == "passed", results["incremental"].findings


def test_the_incremental_gate_without_headwater_check_is_not_available(tmp_path: Path) -> None:
    context = GateContext(GateOptions(), tmp_path)

    result = IncrementalGate(checker=None).run(tmp_path, context)

    assert result.status == "unavailable" and "not available" in result.summary


def test_a_live_run_stops_at_its_request_cap_and_keeps_what_it_checkpointed(
        tmp_path: Path, answers: Any, source_api: Api, configuration_for: Callable[..., Mapping[str, str]]) -> None:
    api = source_api("offset")

    results = gates_for(project_of(tmp_path, answers.good), tmp_path / "scratch", live=True, live_max_requests=2,
                        configuration=configuration_for(api))

    assert results["run"].status == "passed" and results["run"].findings[0]["kind"] == "capped"
    assert results["invariants"].summary == "rows: customers 10"


def test_a_live_recorded_run_feeds_the_incremental_check_and_the_projects_tests(
        tmp_path: Path, source_api: Api) -> None:
    pytest.importorskip("headwater.recording")
    api = source_api("cursor")
    project = project_of(tmp_path, ScriptedAnswer(files=good_answer(case_named("cursor"))))
    record = tmp_path / "files" / "ai" / "recording"

    results = gates_for(project, tmp_path / "scratch", live=True, record_dir=record,
                        configuration={"base_url": api.url, "api_key": api.api_key, "page_size": "5"})

    assert results["run"].status == "passed" and "the live API" in results["run"].summary
    assert (record / "exchanges.jsonl").is_file() and (project / "tests" / "recording" / "meta.json").is_file()
    assert results["incremental"].status == "passed", results["incremental"].findings
