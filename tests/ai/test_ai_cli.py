"""``headwater generate`` and ``headwater enhance`` through the installed console script, with the
fake model reached through ANTHROPIC_BASE_URL."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater.ai.cli import ProgressDisplay
from headwater.ai.client import Usage
from headwater.ai.eval_apis import EvalApiServer
from headwater.ai.evaluation import case_named, good_answer
from headwater.ai.fake_model import FakeMessagesServer, ScriptedAnswer
from headwater.ai.gates import GateResult
from headwater.ai.loop import LoopEvent
from headwater.lint import lint_project

Fake = Callable[..., FakeMessagesServer]
Api = Callable[..., EvalApiServer]
SECRET = "sk-test-SECRET-123"


def model_env(fake: FakeMessagesServer | None = None) -> dict[str, str | None]:
    return {"ANTHROPIC_API_KEY": "test-key" if fake else None, "ANTHROPIC_BASE_URL": fake.url if fake else None,
            "ANTHROPIC_AUTH_TOKEN": None}


def test_dry_run_prints_the_whole_prompt_without_calling_the_model(tmp_path: Path, run_cli: Callable[..., Any],
                                                                    docs_file: Path) -> None:
    configuration = tmp_path / "live.json"
    configuration.write_text(json.dumps({"base_url": "https://api.acme.test", "api_key": SECRET}), encoding="utf-8")

    code, out, err = run_cli("generate", tmp_path / "acme", "--describe", "Sync the Customer Directory API.",
                             "--docs", docs_file, "--tables", "customers", "--configuration", configuration,
                             "--dry-run", env=model_env())

    assert code == 0, err
    assert "===== system prompt =====" in out and "===== user prompt (generation) =====" in out
    assert "HW060" in out and "Sync the Customer Directory API." in out and "X-API-Key" in out
    assert '{"base_url": "<redacted>", "api_key": "<redacted>"}' in out
    assert SECRET not in out and "api.acme.test" not in out
    assert not (tmp_path / "acme").exists()


def test_generate_writes_a_project_whose_own_tests_pass_and_that_lints_clean(
        tmp_path: Path, run_cli: Callable[..., Any], fake_model: Fake, source_api: Api, docs_file: Path) -> None:
    api = source_api("offset")
    fake = fake_model([ScriptedAnswer(files=good_answer(case_named("offset")), notes="the connector")])
    configuration = tmp_path / "live.json"
    configuration.write_text(json.dumps({"base_url": api.url, "api_key": api.api_key}), encoding="utf-8")
    project = tmp_path / "customers"

    code, out, err = run_cli("generate", project, "--describe", "Sync the Customer Directory API.", "--docs",
                             docs_file, "--tables", "customers", "--configuration", configuration,
                             env=model_env(fake))

    assert code == 0, out + err
    assert "converged: every gate passed, 1 round" in out and "Total" in out
    assert "round 1: asking claude-sonnet-5-5" in err and "tests" in err
    assert sorted(path.name for path in project.iterdir()) == [
        ".gitignore", "README.md", "configuration.json", "connector.py", "files", "mock_server.py",
        "requirements.txt", "tests"]
    assert lint_project(project).findings == ()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                           capture_output=True, text=True, timeout=120, check=False)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert (project / "files" / "ai" / "transcript.jsonl").is_file()


def test_generate_without_an_api_key_says_what_to_set(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    code, _out, err = run_cli("generate", tmp_path / "p", "--describe", "x", env=model_env())

    assert code == 1 and "ANTHROPIC_API_KEY" in err


def test_enhance_shows_the_diff_and_writes_it_with_yes(tmp_path: Path, run_cli: Callable[..., Any],
                                                       fake_model: Fake, source_api: Api) -> None:
    api = source_api("offset")
    files = good_answer(case_named("offset"))
    project = tmp_path / "customers"
    for path, text in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    (project / "configuration.json").write_text(json.dumps({"base_url": api.url, "api_key": api.api_key}),
                                                encoding="utf-8")
    changed = files["connector.py"].replace("MAX_PAGE_SIZE = 25", "MAX_PAGE_SIZE = 20")
    fake = fake_model([ScriptedAnswer(files={"connector.py": changed})])

    code, out, err = run_cli("enhance", project, "--feature", "pages of 20", "--yes", "--no-tests",
                             env=model_env(fake))

    assert code == 0, out + err
    assert "--- a/connector.py\n+++ b/connector.py" in out and "-MAX_PAGE_SIZE = 25\n+MAX_PAGE_SIZE = 20" in out
    assert out.index("+++ b/connector.py") < out.index("wrote 1 file(s)")
    assert "MAX_PAGE_SIZE = 20" in (project / "connector.py").read_text(encoding="utf-8")
    assert json.loads((project / "configuration.json").read_text(encoding="utf-8"))["api_key"] == api.api_key


def test_enhance_without_yes_and_without_a_terminal_refuses_before_calling_the_model(
        tmp_path: Path, run_cli: Callable[..., Any], fake_model: Fake) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "connector.py").write_text("x = 1\n", encoding="utf-8")
    fake = fake_model()

    code, _out, err = run_cli("enhance", project, "--feature", "f", env=model_env(fake))

    assert code == 2 and "--yes" in err and fake.requests == []


def test_progress_is_plain_lines_off_a_terminal_and_a_spinner_on_one() -> None:
    plain, live = io.StringIO(), io.StringIO()
    events = [LoopEvent("round_started", 1, {"max_rounds": 3}), LoopEvent("model_waiting", 1, {"model": "m"}),
              LoopEvent("model_answered", 1, {"files": 2, "usage": Usage(10, 20), "cost_usd": 0.5, "seconds": 1.5}),
              LoopEvent("gate_finished", 1, {"result": GateResult("lint", "failed", "2 findings")})]

    for stream, is_live in ((plain, False), (live, True)):
        display = ProgressDisplay(stream, live=is_live)
        for event in events:
            display(event)
        display(LoopEvent("stopped", 1))

    assert plain.getvalue().splitlines() == [
        "round 1 of at most 3", "round 1: asking m (this can take a few minutes)",
        "round 1: answer in 1.5s: 2 files, 10 in / 20 out tokens, ~$0.5000", "  lint         FAIL  2 findings (0.0s)"]
    assert "waiting for m" in live.getvalue() and "\x1b[2K" in live.getvalue()
