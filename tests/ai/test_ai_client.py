"""The Messages API client, against the loopback fake through the real ``anthropic`` package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from headwater.ai.client import (
    WRITE_FILES_TOOL,
    ModelClient,
    Usage,
    error_class_for,
    estimate_cost,
    price_for,
)
from headwater.ai.errors import (
    GenerationError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelNotConfiguredError,
    ModelOutputError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
)
from headwater.ai.fake_model import FakeMessagesServer, ScriptedAnswer
from headwater.ai.redaction import Redactor

Fake = Callable[..., FakeMessagesServer]
Client = Callable[..., ModelClient]


def test_write_files_returns_the_files_and_usage_of_the_tool_call(fake_model: Fake, client: Client) -> None:
    fake = fake_model([ScriptedAnswer(files={"connector.py": "x = 1\n", "tests/test_x.py": "y = 2\n"},
                                      notes="done", input_tokens=1200, output_tokens=340)])

    reply = client(fake, model="claude-opus-4-6").write_files("the system prompt", "the prompt")

    assert [(edit.path, edit.content) for edit in reply.files] == [("connector.py", "x = 1\n"),
                                                                  ("tests/test_x.py", "y = 2\n")]
    assert reply.notes == "done" and reply.usage == Usage(1200, 340) and reply.stop_reason == "tool_use"
    request = fake.requests[0]
    assert request["system"] == "the system prompt"
    assert request["messages"] == [{"role": "user", "content": "the prompt"}]
    assert request["tools"][0]["name"] == "write_files"
    assert request["tools"][0]["input_schema"] == WRITE_FILES_TOOL["input_schema"]
    assert request["tool_choice"] == {"type": "tool", "name": "write_files"}


def test_models_that_refuse_a_forced_tool_choice_are_asked_with_auto(fake_model: Fake, client: Client) -> None:
    fake = fake_model([ScriptedAnswer(files={"a.py": ""})])

    client(fake, model="claude-sonnet-5-5").write_files("s", "p")

    assert fake.requests[0]["tool_choice"] == {"type": "auto"}


def test_a_400_to_a_forced_tool_choice_is_retried_once_with_auto(fake_model: Fake, client: Client) -> None:
    fake = fake_model([ScriptedAnswer(status=400, message="tool_choice forcing is not supported"),
                       ScriptedAnswer(files={"a.py": ""}), ScriptedAnswer(files={"a.py": ""})])
    model = client(fake, model="claude-future-9")

    model.write_files("s", "p")
    model.write_files("s", "p")

    assert [request["tool_choice"]["type"] for request in fake.requests] == ["tool", "auto", "auto"]


def test_an_answer_without_the_tool_call_is_an_output_error_that_keeps_its_usage(fake_model: Fake,
                                                                                 client: Client) -> None:
    fake = fake_model([ScriptedAnswer(text="Here is your connector: ...", output_tokens=77)])

    with pytest.raises(ModelOutputError, match="without calling write_files") as caught:
        client(fake).write_files("s", "p")

    assert isinstance(caught.value.usage, Usage) and caught.value.usage.output_tokens == 77


@pytest.mark.parametrize(("status", "error"), [
    (401, ModelAuthenticationError), (403, ModelAuthenticationError), (404, ModelRequestError),
    (429, ModelRateLimitError), (500, ModelServerError), (529, ModelServerError),
])
def test_api_errors_are_mapped_to_headwater_errors(fake_model: Fake, client: Client, status: int,
                                                   error: type[GenerationError]) -> None:
    fake = fake_model([ScriptedAnswer(status=status, message="scripted failure")])

    with pytest.raises(error, match="scripted failure") as caught:
        client(fake, model="claude-opus-4-6").write_files("s", "p")

    assert isinstance(caught.value, ModelAPIError) and caught.value.status_code == status


def test_every_anthropic_exception_maps_to_a_specific_headwater_error() -> None:
    generic_by_design = {"AnthropicError", "APIError", "APIWebhookValidationError", "RetryableError"}
    exceptions = {name: value for name, value in vars(anthropic).items()
                  if isinstance(value, type) and issubclass(value, anthropic.AnthropicError)}

    unmapped = sorted(name for name, value in exceptions.items()
                      if error_class_for(value) is ModelAPIError and name not in generic_by_design)

    assert len(exceptions) > 10 and unmapped == []
    assert error_class_for(anthropic.APIStatusError, 503) is ModelServerError
    assert error_class_for(anthropic.APIStatusError, 422) is ModelRequestError
    assert error_class_for(anthropic.APIConnectionError).category == "infrastructure"
    assert error_class_for(anthropic.AuthenticationError).category == "configuration"


def test_the_base_url_comes_from_anthropic_base_url(fake_model: Fake) -> None:
    fake = fake_model([ScriptedAnswer(files={"a.py": ""})])

    ModelClient(environ={"ANTHROPIC_API_KEY": "env-key", "ANTHROPIC_BASE_URL": fake.url},
                max_retries=0).write_files("s", "p")

    headers = fake.headers_seen[0]
    assert headers.get("x-api-key") == "env-key" or headers.get("authorization") == "Bearer env-key"


def test_without_an_api_key_the_client_is_not_configured() -> None:
    with pytest.raises(ModelNotConfiguredError, match="ANTHROPIC_API_KEY"):
        ModelClient(environ={})


def test_the_client_redacts_what_it_sends(fake_model: Fake, client: Client) -> None:
    fake = fake_model([ScriptedAnswer(files={"a.py": ""})])

    client(fake, redactor=Redactor(["hunter2-secret"])).write_files("s hunter2-secret", "p hunter2-secret")

    assert b"hunter2-secret" not in fake.raw_requests[0]


def test_cost_uses_the_longest_matching_price_and_a_high_fallback() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000)

    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")
    assert estimate_cost("claude-sonnet-5-5", usage) == pytest.approx(2.0 + 1.0)
    assert estimate_cost("claude-opus-4-1", usage) == pytest.approx(15.0 + 7.5)
    assert estimate_cost("some-new-model", usage) == pytest.approx(5.0 + 2.5)


def test_malformed_tool_input_is_an_output_error(client: Client) -> None:
    class Block:
        type, name, input = "tool_use", "write_files", {"files": [{"path": 3}]}

    class Message:
        content: list[Any] = [Block()]
        usage = None
        stop_reason = "tool_use"

    class Messages:
        def create(self, **_: Any) -> Message:
            return Message()

    class Sdk:
        def __init__(self, **_: Any) -> None:
            self.messages = Messages()

    model = ModelClient(api_key="k", environ={}, client_factory=Sdk)

    with pytest.raises(ModelOutputError, match="files\\[0\\]"):
        model.write_files("s", "p")
