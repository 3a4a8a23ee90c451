"""Fixtures for the headwater generate/enhance tests: a fake Messages API, mock source APIs, answers.

- ``fake_model(answers)`` starts a :class:`~headwater.ai.fake_model.FakeMessagesServer` on loopback
  (stopped after the test) that answers from the list, in order; ``client(fake)`` is the real
  ``anthropic``-backed :class:`~headwater.ai.client.ModelClient` pointed at it.
- ``source_api(kind, **options)`` starts one of the evaluation's mock APIs (``offset`` ...).
- ``answers`` builds scripted answers from the offset case's good connector: ``good``, and variants
  that fail lint, the data gate, or credentials handling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from headwater.ai.client import ModelClient
from headwater.ai.eval_apis import EvalApiServer
from headwater.ai.evaluation import case_named, good_answer
from headwater.ai.fake_model import FakeMessagesServer, ScriptedAnswer

SECRET = "sk-test-SECRET-123"


@pytest.fixture
def fake_model() -> Iterator[Callable[..., FakeMessagesServer]]:
    started: list[FakeMessagesServer] = []

    def start(answers: Any = ()) -> FakeMessagesServer:
        server = FakeMessagesServer(answers).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client() -> Callable[..., ModelClient]:
    def make(fake: FakeMessagesServer, model: str = "claude-sonnet-5-5", **options: Any) -> ModelClient:
        return ModelClient(model=model, api_key="test-key", base_url=fake.url, max_retries=0, environ={}, **options)

    return make


@pytest.fixture
def source_api() -> Iterator[Callable[..., EvalApiServer]]:
    started: list[EvalApiServer] = []

    def start(kind: str = "offset", **options: Any) -> EvalApiServer:
        server = EvalApiServer(kind, **{"records": 12, **options}).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class Answers:
    """Scripted answers built from the offset case's good connector."""

    def __init__(self) -> None:
        self.files = good_answer(case_named("offset"))
        self.connector = self.files["connector.py"]

    def with_connector(self, connector: str, notes: str = "draft") -> ScriptedAnswer:
        assert connector != self.connector, "the variant must differ from the good connector"
        return ScriptedAnswer(files={**self.files, "connector.py": connector}, notes=notes)

    @property
    def good(self) -> ScriptedAnswer:
        return ScriptedAnswer(files=dict(self.files), notes="the good connector")

    @property
    def lint_failing(self) -> ScriptedAnswer:
        """print() and log.fine(): two lint warnings (HW020, HW022)."""
        connector = self.connector.replace(
            'log.info(f"reading customers from offset {offset}")',
            'print(f"reading customers from offset {offset}")',
        ).replace('log.info(f"fetched {fetched} customers")', 'log.fine(f"fetched {fetched} customers")')
        return self.with_connector(connector, "first draft")

    @property
    def data_failing(self) -> ScriptedAnswer:
        """Lint-clean, but the rows go to a table the schema does not declare: `customers` stays empty.

        The table name is computed (``TABLE[:-1]``), so lint (HW033) cannot see the typo; the data gate must."""
        return self.with_connector(self.connector.replace("op.upsert(table=TABLE,", "op.upsert(table=TABLE[:-1],"),
                                   "second draft")

    def replace(self, old: str, new: str) -> ScriptedAnswer:
        assert old in self.connector, old
        return self.with_connector(self.connector.replace(old, new))


@pytest.fixture
def answers() -> Answers:
    return Answers()


def offset_configuration(api: EvalApiServer, **overrides: str) -> dict[str, str]:
    return {"base_url": api.url, "api_key": api.api_key, "page_size": "5", **overrides}


@pytest.fixture
def configuration_for() -> Callable[..., Mapping[str, str]]:
    return offset_configuration


@pytest.fixture
def docs_file(tmp_path: Path) -> Path:
    path = tmp_path / "api.md"
    path.write_text(case_named("offset").docs, encoding="utf-8")
    return path
