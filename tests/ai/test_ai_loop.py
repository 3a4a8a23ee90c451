"""The generation loop end to end: the real anthropic client, a scripted fake model on loopback, a
mock source API, and every gate."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from headwater.ai.client import ModelClient
from headwater.ai.eval_apis import EvalApiServer
from headwater.ai.fake_model import FakeMessagesServer, ScriptedAnswer
from headwater.ai.loop import Budget, EnhanceRequest, GenerateRequest, LoopEvent, enhance, generate
from headwater.ai.report import render_summary

Fake = Callable[..., FakeMessagesServer]
Client = Callable[..., ModelClient]
Api = Callable[..., EvalApiServer]
Config = Callable[..., Mapping[str, str]]
SECRET = "sk-test-SECRET-123"


def request_for(tmp_path: Path, api: EvalApiServer, configuration: Mapping[str, str], docs: Path,
                **options: Any) -> GenerateRequest:
    return GenerateRequest(project=tmp_path / "customers", description="Sync the Customer Directory API.",
                           docs=(docs,), tables=("customers",), configuration=configuration, **options)


def statuses(report: Any) -> list[dict[str, str]]:
    return [{result.gate: result.status for result in record.gates} for record in report.rounds]


def test_loop_converges_after_a_lint_failure_then_a_data_failure(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any, docs_file: Path) -> None:
    api = source_api("offset")
    fake = fake_model([answers.lint_failing, answers.data_failing, answers.good])
    events: list[LoopEvent] = []

    report = generate(request_for(tmp_path, api, configuration_for(api), docs_file), model=client(fake),
                      on_event=events.append)

    assert report.status == "converged", render_summary(report)
    assert len(report.rounds) == 3 and len(fake.requests) == 3
    first, second, third = statuses(report)
    assert first["lint"] == "failed" and first["run"] == "passed" and first["tests"] == "skipped"
    assert second["lint"] == "passed" and second["invariants"] == "failed"
    assert set(third.values()) <= {"passed", "unavailable"}
    round_two, round_three = (request["messages"][0]["content"] for request in fake.requests[1:])
    assert '"rule": "HW020"' in round_two and "Round 2 of at most 5" in round_two
    assert '"kind": "empty_table"' in round_three
    project = tmp_path / "customers"
    assert (project / "connector.py").read_text(encoding="utf-8") == answers.files["connector.py"]
    rounds = json.loads((project / "files" / "ai" / "rounds.json").read_text(encoding="utf-8"))
    assert rounds["status"] == "converged" and [r["round"] for r in rounds["rounds"]] == [1, 2, 3]
    assert rounds["usage"]["input_tokens"] > 0 and rounds["cost_usd"] > 0
    transcript = [json.loads(line) for line in (project / "files" / "ai" / "transcript.jsonl").read_text().splitlines()]
    assert [entry["event"] for entry in transcript].count("request") == 3 and transcript[-1]["event"] == "stopped"
    assert "converged" in (project / "files" / "ai" / "summary.txt").read_text(encoding="utf-8")
    kinds = [event.kind for event in events]
    assert kinds.count("model_waiting") == 3 and kinds[-1] == "stopped"


def test_a_model_that_never_fixes_the_bug_stops_at_the_round_budget(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any, docs_file: Path) -> None:
    api = source_api("offset")
    fake = fake_model(lambda body: answers.lint_failing)

    report = generate(request_for(tmp_path, api, configuration_for(api), docs_file, budget=Budget(rounds=2)),
                      model=client(fake))
    summary = render_summary(report)

    assert report.status == "budget_exhausted" and len(report.rounds) == 2 and len(fake.requests) == 2
    assert "--max-rounds 2" in report.reason
    assert "stopped: the budget is spent" in summary and "lint (code)" in summary
    assert (tmp_path / "customers" / "connector.py").is_file()  # the last attempt is kept for the user


def test_a_credentials_failure_stops_without_asking_the_model_again(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any, docs_file: Path) -> None:
    api = source_api("offset")
    fake = fake_model([answers.good, answers.good])

    report = generate(request_for(tmp_path, api, configuration_for(api, api_key="sk-test-WRONG-key"), docs_file),
                      model=client(fake))

    assert report.status == "needs_configuration"
    assert len(fake.requests) == 1
    assert "refused the configured credentials" in report.reason
    run = next(result for result in report.rounds[0].gates if result.gate == "run")
    assert run.category == "configuration"


def test_no_configuration_value_appears_in_any_request_to_the_model(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, answers: Any) -> None:
    api = source_api("offset", api_key=SECRET)
    configuration = {"base_url": api.url, "api_key": SECRET, "page_size": "5"}
    docs = tmp_path / "api.md"
    docs.write_text(f"Call {api.url}/api/customers with `X-API-Key: {SECRET}`.\n", encoding="utf-8")
    leaky = answers.replace(
        "    settings = Settings.from_configuration(configuration)\n    offset",
        "    settings = Settings.from_configuration(configuration)\n"
        "    log.warning(f'configuration: {configuration}')\n"
        "    raise ValueError(f'cannot reach {settings.base_url} with key {settings.api_key}')\n    offset")
    fake = fake_model([leaky, answers.good])

    report = generate(GenerateRequest(project=tmp_path / "p", description=f"Customers at {api.url}, key {SECRET}",
                                      docs=(docs,), tables=("customers",), configuration=configuration),
                      model=client(fake))

    assert report.status == "converged" and len(fake.requests) == 2
    assert "<redacted>" in fake.requests[1]["messages"][0]["content"]  # the failed run's log, redacted
    forms = {SECRET, api.url, quote(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode(), api.url[7:]}
    for raw in fake.raw_requests:
        text = raw.decode("utf-8")
        assert not [form for form in forms if form in text or form in json.loads(text).__repr__()]
    written = json.loads((tmp_path / "p" / "configuration.json").read_text(encoding="utf-8"))
    assert all(value.startswith("<") and value.endswith(">") for value in written.values())
    for path in (tmp_path / "p" / "files" / "ai").iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path


def test_the_token_budget_stops_the_loop_before_the_next_call(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any, docs_file: Path) -> None:
    api = source_api("offset")
    expensive = ScriptedAnswer(files=answers.lint_failing.files, input_tokens=600_000, output_tokens=10_000)
    fake = fake_model([expensive, answers.good])

    report = generate(request_for(tmp_path, api, configuration_for(api), docs_file,
                                  budget=Budget(tokens=500_000, usd=100)), model=client(fake))

    assert report.status == "budget_exhausted" and "tokens" in report.reason and len(fake.requests) == 1


def test_the_dollar_budget_stops_the_loop_before_the_next_call(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any, docs_file: Path) -> None:
    api = source_api("offset")
    expensive = ScriptedAnswer(files=answers.lint_failing.files, input_tokens=100_000, output_tokens=100_000)
    fake = fake_model([expensive, answers.good])

    report = generate(request_for(tmp_path, api, configuration_for(api), docs_file, budget=Budget(usd=1.0)),
                      model=client(fake))

    assert report.status == "budget_exhausted" and "--budget-usd 1" in report.reason
    assert report.cost_usd >= 1.0


def test_unusable_answers_are_fed_back_and_unsafe_paths_never_written(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any, docs_file: Path) -> None:
    api = source_api("offset")
    escape = ScriptedAnswer(files={**answers.files, "../escaped.py": "x = 1\n"})
    fake = fake_model([ScriptedAnswer(text="I would write a connector like this: ..."), escape, answers.good])

    report = generate(request_for(tmp_path, api, configuration_for(api), docs_file, run_tests=False),
                      model=client(fake))

    assert report.status == "converged" and len(report.rounds) == 3
    assert "without calling write_files" in (report.rounds[0].error or "")
    assert "leaves the project folder" in (report.rounds[1].error or "")
    assert "answer_unusable" in fake.requests[1]["messages"][0]["content"]
    assert not (tmp_path / "escaped.py").exists()


def test_a_project_with_a_connector_is_left_to_enhance(tmp_path: Path, fake_model: Fake, client: Client) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "connector.py").write_text("x = 1\n", encoding="utf-8")

    try:
        generate(GenerateRequest(project=project, description="d"), model=client(fake_model()))
    except Exception as exc:  # noqa: BLE001 - asserting on the error's type and text below
        assert type(exc).__name__ == "GenerationError" and "headwater enhance" in str(exc)
    else:
        raise AssertionError("generate overwrote an existing connector")


def test_enhance_keeps_the_project_tests_and_writes_only_after_confirmation(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any) -> None:
    api = source_api("offset")
    project = tmp_path / "p"
    for path, text in answers.files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    tests = answers.files["tests/test_connector.py"]
    dropped = tests[:tests.index("def test_missing_base_url_fails_naming_the_key")]
    feature = answers.files["connector.py"].replace('log.info(f"fetched {fetched} customers")',
                                                    'log.info(f"fetched {fetched} customers in this sync")')
    fake = fake_model([ScriptedAnswer(files={"connector.py": feature, "tests/test_connector.py": dropped}),
                       ScriptedAnswer(files={"connector.py": feature, "tests/test_connector.py": tests})])
    shown: list[str] = []

    def confirm(diff: str) -> bool:
        shown.append(diff)
        return True

    report = enhance(EnhanceRequest(project=project, feature="say 'in this sync' in the last log line",
                                    configuration=configuration_for(api)), model=client(fake), confirm=confirm)

    assert report.status == "converged" and len(report.rounds) == 2
    assert statuses(report)[0]["tests"] == "failed"
    assert "tests_removed" in fake.requests[1]["messages"][0]["content"]
    assert shown and "+++ b/connector.py" in shown[0] and "in this sync" in shown[0]
    assert report.written == ["connector.py"]
    assert "in this sync" in (project / "connector.py").read_text(encoding="utf-8")
    assert (project / "tests" / "test_connector.py").read_text(encoding="utf-8") == tests


def test_enhance_writes_nothing_when_the_diff_is_declined(
        tmp_path: Path, fake_model: Fake, client: Client, source_api: Api, configuration_for: Config,
        answers: Any) -> None:
    api = source_api("offset")
    project = tmp_path / "p"
    for path, text in answers.files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    changed = answers.files["connector.py"].replace("MAX_PAGE_SIZE = 25", "MAX_PAGE_SIZE = 20")
    fake = fake_model([ScriptedAnswer(files={"connector.py": changed})])

    report = enhance(EnhanceRequest(project=project, feature="smaller pages", configuration=configuration_for(api),
                                    run_tests=False), model=client(fake), confirm=lambda diff: False)

    assert report.succeeded and report.written == [] and "MAX_PAGE_SIZE = 20" in report.diff
    assert (project / "connector.py").read_text(encoding="utf-8") == answers.files["connector.py"]
    assert (project / "files" / "ai" / "enhance.diff").is_file()
