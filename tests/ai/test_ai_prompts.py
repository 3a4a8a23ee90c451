"""Prompt templates, the prompts built from them, and the redaction of what they include."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from headwater.ai.errors import TemplateError
from headwater.ai.gates import GateResult
from headwater.ai.prompt import (
    DocFile,
    TaskSpec,
    build_enhancement_prompt,
    build_fix_prompt,
    build_generation_prompt,
    choose_starter,
)
from headwater.ai.redaction import REDACTED, Redactor, redact_recording
from headwater.ai.template import PLACEHOLDER, TEMPLATE_NAMES, load_template, parse_template
from headwater.lint import all_rules

SECRET = "sk-test-SECRET-123"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_has_a_version_and_every_placeholder_is_filled(name: str) -> None:
    template = load_template(name)
    values = {placeholder: f"VALUE-OF-{placeholder}" for placeholder in template.placeholders}

    rendered = template.render(**values)

    assert template.version >= 1 and template.description
    assert not [p for p in PLACEHOLDER.findall(rendered) if p in template.placeholders], "a placeholder was left"
    for value in values.values():
        assert value in rendered


def test_render_refuses_missing_and_unknown_values() -> None:
    template = parse_template("t", "version: 3\n---\nHello {name} from {place}\n")

    with pytest.raises(TemplateError, match="no value for place"):
        template.render(name="x")
    with pytest.raises(TemplateError, match="no placeholder for extra"):
        template.render(name="x", place="y", extra="z")


def test_render_does_not_scan_values_for_placeholders() -> None:
    template = parse_template("t", "version: 1\n---\nDocs: {docs}\n")

    assert template.render(docs="GET /users/{id}") == "Docs: GET /users/{id}\n"


def test_a_template_without_a_version_header_is_refused() -> None:
    with pytest.raises(TemplateError, match="version"):
        parse_template("t", "title: x\n---\nbody\n")


def test_generation_prompt_holds_the_task_rules_api_summary_and_starting_point() -> None:
    spec = TaskSpec(description="Sync the Acme orders API.", docs=(DocFile("api.md", "GET /v1/orders ..."),),
                    tables=("orders", "refunds"), configuration_keys=("base_url", "api_key"))

    prompt = build_generation_prompt(spec, Redactor())
    text = prompt.text()

    assert prompt.templates == {"system": 1, "connector_api": 1, "basic_generation": 1}
    assert "Sync the Acme orders API." in prompt.user and "GET /v1/orders" in prompt.user
    assert "orders, refunds" in prompt.user
    assert all(rule.id in prompt.system for rule in all_rules())
    assert "op.checkpoint(state=" in prompt.system
    assert "headwater init --template rest-api" in prompt.user and "HttpClient(" in prompt.user
    assert '"api_key": "<redacted>"' in prompt.user
    assert "===== system prompt =====" in text and "===== user prompt (generation) =====" in text


def test_configuration_values_never_appear_in_a_prompt() -> None:
    configuration = {"base_url": "https://api.acme.test", "api_key": SECRET}
    redactor = Redactor.from_configuration(configuration)
    docs = DocFile("api.md", f"curl -H 'X-API-Key: {SECRET}' https://api.acme.test/v1/orders?key={SECRET}")
    spec = TaskSpec(description=f"Acme at https://api.acme.test, key {SECRET}", docs=(docs,),
                    configuration_keys=tuple(configuration))

    text = build_generation_prompt(spec, redactor).text()

    assert SECRET not in text and "https://api.acme.test" not in text
    assert REDACTED in text


def test_fix_prompt_carries_failed_findings_files_and_the_task() -> None:
    redactor = Redactor([SECRET])
    task = build_generation_prompt(TaskSpec(description="the task text"), redactor)
    results = [
        GateResult("lint", "failed", "1 finding", [{"kind": "lint", "rule": "HW020", "message": "print() used"}],
                   "code"),
        GateResult("run", "failed", "sync failed", [{"kind": "sync_failed", "log_tail": f"key={SECRET}"}], "code"),
        GateResult("tests", "skipped", "skipped: lint did not pass"),
    ]

    prompt = build_fix_prompt(task, {"connector.py": "x = 1\n"}, results, round_number=2, max_rounds=4,
                              redactor=redactor)

    assert prompt.kind == "fix" and "fix_round" in prompt.templates
    assert "Round 2 of at most 4" in prompt.user
    assert '"rule": "HW020"' in prompt.user and "- tests: skipped" in prompt.user
    assert "## connector.py" in prompt.user and "the task text" in prompt.user
    assert SECRET not in prompt.user


def test_enhancement_prompt_shows_the_project_with_configuration_keys_only() -> None:
    files = {"connector.py": "def update(configuration, state): ...\n",
             "configuration.json": json.dumps({"api_key": SECRET})}
    redactor = Redactor([SECRET])

    prompt = build_enhancement_prompt("also sync refunds", TaskSpec(description="also sync refunds",
                                                                    configuration_keys=("api_key",)), files, redactor)

    assert "also sync refunds" in prompt.user and "## connector.py" in prompt.user
    assert SECRET not in prompt.user and '"api_key": "<redacted>"' in prompt.user


def test_recordings_are_redacted_before_they_reach_a_prompt(tmp_path: Path) -> None:
    basic = base64.b64encode(f"user:{SECRET}".encode()).decode()
    exchange = {"run": 1, "seq": 1,
                "request": {"method": "GET", "url": f"https://api.acme.test/v1/orders?api_key={SECRET}&limit=5",
                            "headers": {"Authorization": f"Basic {basic}"}},
                "response": {"status": 200, "headers": {"Link": '<https://api.acme.test/v1/orders?page=2>; rel="next"'},
                             "body": json.dumps({"data": [{"id": 1, "token": "abc-live-token"}]})}}
    (tmp_path / "exchanges.jsonl").write_text(json.dumps(exchange) + "\n", encoding="utf-8")
    (tmp_path / "meta.json").write_text(json.dumps({"config_keys": ["api_key"], "password": SECRET}),
                                        encoding="utf-8")

    sample = redact_recording(tmp_path, Redactor([SECRET, "user"]))

    assert SECRET not in sample and basic not in sample and "abc-live-token" not in sample
    assert "GET https://api.acme.test/v1/orders?api_key=<redacted>&limit=5" in sample
    assert "-> 200" in sample and 'rel=\\"next\\"' in sample


@pytest.mark.parametrize(("text", "starter"), [
    ("Sync the REST API at https://x", "rest-api"),
    ("Copy tables from our Postgres database", "database"),
    ("Load the CSV files in a folder", "csv"),
])
def test_the_starting_template_follows_the_source(text: str, starter: str) -> None:
    assert choose_starter(text) == starter
