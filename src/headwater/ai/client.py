"""The one place that calls Anthropic: the Messages API through the official ``anthropic`` package.

::

    client = ModelClient(model="claude-sonnet-5-5")           # ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL
    reply = client.write_files(system="...", prompt="...")
    for edit in reply.files:
        print(edit.path, len(edit.content))
    print(reply.usage.input_tokens, reply.usage.output_tokens, estimate_cost(reply.model, reply.usage))

The model answers through one tool, ``write_files`` (a JSON schema: a list of ``{path, content}``,
paths to delete, and notes), so the files parse reliably whatever the model writes around them.
The tool is forced with ``tool_choice`` where the model accepts that; models that refuse a forced
tool choice (400) get ``tool_choice: auto`` and a system prompt that asks for the tool, and a
model not known either way falls back to ``auto`` once after a 400.

``anthropic`` is imported only when a client is created (it takes a second or two), so
``--dry-run`` and the rest of headwater never pay for it. Its exceptions stop here: each is mapped
to a :class:`~headwater.ai.errors.GenerationError` subclass by :func:`error_class_for`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from headwater.ai.errors import (
    GenerationError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelNotConfiguredError,
    ModelOutputError,
    ModelRateLimitError,
    ModelRequestError,
    ModelServerError,
)
from headwater.ai.redaction import Redactor

__all__ = [
    "DEFAULT_MODEL",
    "PRICES",
    "WRITE_FILES_TOOL",
    "FileEdit",
    "Model",
    "ModelClient",
    "ModelPrice",
    "ModelReply",
    "Usage",
    "error_class_for",
    "estimate_cost",
    "parse_write_files",
    "price_for",
]

DEFAULT_MODEL: Final = "claude-sonnet-5-5"
DEFAULT_MAX_OUTPUT_TOKENS: Final = 32_000
#: Seconds for one Messages API call. Passing a timeout also tells the SDK that a long
#: non-streaming request is intended.
DEFAULT_TIMEOUT: Final = 900.0
TOOL_NAME: Final = "write_files"


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million tokens."""

    input_per_mtok: float
    output_per_mtok: float


#: Published list prices (USD per million input / output tokens), matched by the longest prefix of
#: the model id, so dated ids (``claude-haiku-4-5-20251001``) find their family. Cache reads and
#: writes are priced as plain input: the estimate errs high.
PRICES: Final[Mapping[str, ModelPrice]] = {
    "claude-fable-5-1": ModelPrice(10.0, 50.0),
    "claude-opus-5-5": ModelPrice(4.0, 20.0),
    "claude-opus-5": ModelPrice(5.0, 25.0),
    "claude-sonnet-5-5": ModelPrice(2.0, 10.0),
    "claude-sonnet-5": ModelPrice(2.0, 10.0),
    "claude-opus-4-6": ModelPrice(5.0, 25.0),
    "claude-opus-4-5": ModelPrice(5.0, 25.0),
    "claude-opus-4-1": ModelPrice(15.0, 75.0),
    "claude-opus-4": ModelPrice(15.0, 75.0),
    "claude-sonnet-4": ModelPrice(3.0, 15.0),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0),
    "claude-3-5-haiku": ModelPrice(0.8, 4.0),
    "claude-3-haiku": ModelPrice(0.25, 1.25),
}
#: For a model missing from :data:`PRICES`: the dearest current Sonnet-class price, so a dollar
#: budget stops early rather than late.
FALLBACK_PRICE: Final = ModelPrice(5.0, 25.0)
#: Models documented to answer a forced ``tool_choice`` with 400.
FORCED_TOOL_CHOICE_REJECTED: Final = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1")

WRITE_FILES_TOOL: Final[Mapping[str, Any]] = {
    "name": TOOL_NAME,
    "description": (
        "Write the connector project. Give every file you create or change with its complete new "
        "content (never a diff or an excerpt); files you leave out stay as they are. Paths are relative "
        "to the project folder and use forward slashes, e.g. connector.py or tests/test_connector.py."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "description": "Files to write, each with its full content.",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "Relative path, e.g. connector.py"},
                        "content": {"type": "string", "description": "The whole file"},
                    },
                    "required": ["path", "content"],
                },
            },
            "delete": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Relative paths of files to remove from the project (usually empty).",
            },
            "notes": {
                "type": "string",
                "description": "A few sentences: what you wrote or changed, and why.",
            },
        },
        "required": ["files", "notes"],
    },
}


@dataclass(frozen=True)
class Usage:
    """Tokens one or more calls used."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


def price_for(model: str) -> ModelPrice | None:
    """The price of ``model`` (longest matching prefix of :data:`PRICES`), or None if unknown."""
    matches = [prefix for prefix in PRICES if model == prefix or model.startswith(prefix + "-")]
    return PRICES[max(matches, key=len)] if matches else None


def estimate_cost(model: str, usage: Usage) -> float:
    """Estimated US dollars for ``usage`` on ``model`` (:data:`FALLBACK_PRICE` when the model is unknown)."""
    price = price_for(model) or FALLBACK_PRICE
    return (usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok) / 1_000_000


@dataclass(frozen=True)
class FileEdit:
    """One file the model wrote: a relative path and its whole content."""

    path: str
    content: str


@dataclass(frozen=True)
class ModelReply:
    """What one ``write_files`` answer held."""

    files: tuple[FileEdit, ...]
    deleted: tuple[str, ...]
    notes: str
    usage: Usage
    model: str
    stop_reason: str | None = None
    message_id: str | None = None


class Model(Protocol):
    """Anything that answers a prompt with files: :class:`ModelClient`, or a fake in tests."""

    @property
    def model(self) -> str: ...

    def write_files(self, system: str, prompt: str) -> ModelReply: ...


def parse_write_files(tool_input: Any, *, usage: Usage, model: str, stop_reason: str | None = None,
                      message_id: str | None = None) -> ModelReply:
    """Check a ``write_files`` tool input and turn it into a :class:`ModelReply`."""
    if not isinstance(tool_input, dict):
        raise ModelOutputError(f"the {TOOL_NAME} input is a {type(tool_input).__name__}, not an object", usage)
    files = tool_input.get("files")
    if not isinstance(files, list):
        raise ModelOutputError(f"the {TOOL_NAME} input has no 'files' list", usage)
    edits: list[FileEdit] = []
    for index, item in enumerate(files):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not isinstance(
            item.get("content"), str
        ):
            raise ModelOutputError(f"{TOOL_NAME} files[{index}] must be an object with string 'path' and 'content'",
                                   usage)
        edits.append(FileEdit(path=item["path"], content=item["content"]))
    deleted = tool_input.get("delete") or []
    if not isinstance(deleted, list) or not all(isinstance(path, str) for path in deleted):
        raise ModelOutputError(f"the {TOOL_NAME} 'delete' value must be a list of paths", usage)
    notes = tool_input.get("notes")
    return ModelReply(
        files=tuple(edits), deleted=tuple(deleted), notes=notes if isinstance(notes, str) else "", usage=usage,
        model=model, stop_reason=stop_reason, message_id=message_id,
    )


def _status_of(error_type: type[BaseException]) -> int | None:
    status = getattr(error_type, "status_code", None)
    return status if isinstance(status, int) else None


def error_class_for(error_type: type[BaseException], status_code: int | None = None) -> type[GenerationError]:
    """The headwater error for an ``anthropic`` exception class (and, for a bare status error, its status).

    Decided by class and status code, never by message text.
    """
    import anthropic

    by_class: list[tuple[str, type[GenerationError]]] = [
        ("AuthenticationError", ModelAuthenticationError),
        ("PermissionDeniedError", ModelAuthenticationError),
        ("PaymentRequiredError", ModelAuthenticationError),
        ("RateLimitError", ModelRateLimitError),
        ("APITimeoutError", ModelConnectionError),
        ("APIConnectionError", ModelConnectionError),
        ("CredentialsError", ModelNotConfiguredError),
        ("WorkloadIdentityError", ModelAuthenticationError),
        ("APIResponseValidationError", ModelOutputError),
    ]
    for name, mapped in by_class:
        candidate = getattr(anthropic, name, None)
        if isinstance(candidate, type) and issubclass(error_type, candidate):
            return mapped
    if issubclass(error_type, anthropic.APIStatusError):
        status = status_code if status_code is not None else _status_of(error_type)
        if status is None or status >= 500:
            return ModelServerError
        if status in (401, 402, 403):
            return ModelAuthenticationError
        if status == 429:
            return ModelRateLimitError
        if status in (408, 499):
            return ModelConnectionError
        return ModelRequestError
    return ModelAPIError


def _describe(exc: Exception, mapped: type[GenerationError], model: str) -> str:
    status = getattr(exc, "status_code", None)
    detail = getattr(exc, "api_message", None) or getattr(exc, "message", None) or str(exc) or type(exc).__name__
    prefix = f"the Messages API answered {status}" if status else "the Messages API call failed"
    advice = {
        ModelAuthenticationError: "check ANTHROPIC_API_KEY and the account's access and billing",
        ModelRateLimitError: "wait a minute and run again, or lower the request rate",
        ModelConnectionError: "check the network and ANTHROPIC_BASE_URL, then run again",
        ModelServerError: "the service is having trouble; run again later",
        ModelRequestError: f"check the model id ({model!r}, --model) and the prompt size",
        ModelNotConfiguredError: "set ANTHROPIC_API_KEY",
        ModelOutputError: "run again; the answer did not match the expected shape",
    }.get(mapped, "run again; if it keeps failing, report it")
    return f"{prefix}: {' '.join(str(detail).split())[:300]}; {advice}"


class ModelClient:
    """A Messages API client that answers with the ``write_files`` tool.

    Args:
        model: the model id (:data:`DEFAULT_MODEL`).
        api_key: default ``ANTHROPIC_API_KEY`` from ``environ``.
        base_url: default ``ANTHROPIC_BASE_URL`` from ``environ``, then Anthropic's.
        max_retries: the SDK's retries for 408/409/429/5xx and connection errors.
        redactor: applied to the system prompt and the prompt just before they are sent, a last
            guard behind the prompt builder's own redaction.
        client_factory: builds the SDK client from keyword arguments (tests inject one).
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = 2,
        timeout: float = DEFAULT_TIMEOUT,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        redactor: Redactor | None = None,
        environ: Mapping[str, str] | None = None,
        client_factory: Callable[..., Any] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        key = api_key if api_key is not None else env.get("ANTHROPIC_API_KEY")
        if not key:
            raise ModelNotConfiguredError(
                "no Anthropic API key: set ANTHROPIC_API_KEY (or use --dry-run to print the prompt without calling "
                "the model)"
            )
        url = base_url if base_url is not None else (env.get("ANTHROPIC_BASE_URL") or None)
        if client_factory is None:
            try:
                import anthropic
            except ImportError as exc:
                raise ModelNotConfiguredError(
                    "headwater generate needs the anthropic package: pip install 'headwater[ai]'"
                ) from exc
            client_factory = anthropic.Anthropic
        self._model = model
        self.base_url = url
        self.max_output_tokens = max_output_tokens
        self.timeout = timeout
        self.redactor = redactor or Redactor()
        self._force_tool = not model.startswith(FORCED_TOOL_CHOICE_REJECTED)
        self._client: Any = client_factory(api_key=key, base_url=url, max_retries=max_retries, timeout=timeout)

    @property
    def model(self) -> str:
        return self._model

    def write_files(self, system: str, prompt: str) -> ModelReply:
        """Send one prompt; return the files of the model's ``write_files`` call.

        Raises a :class:`~headwater.ai.errors.ModelAPIError` subclass when the call fails and
        :class:`~headwater.ai.errors.ModelOutputError` when the answer holds no usable call.
        """
        system = self.redactor.text(system)
        prompt = self.redactor.text(prompt)
        try:
            message = self._create(system, prompt, forced=self._force_tool)
        except GenerationError:
            raise
        except Exception as exc:
            if self._force_tool and _is_bad_request(exc):
                # Some models refuse a forced tool choice; ask again with "auto" and remember that.
                self._force_tool = False
                return self.write_files(system, prompt)
            raise self._mapped(exc) from exc
        return self._reply(message)

    def _create(self, system: str, prompt: str, *, forced: bool) -> Any:
        tool_choice = {"type": "tool", "name": TOOL_NAME} if forced else {"type": "auto"}
        return self._client.messages.create(
            model=self._model,
            max_tokens=self.max_output_tokens,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            tools=[dict(WRITE_FILES_TOOL)],
            tool_choice=tool_choice,
            timeout=self.timeout,
        )

    def _mapped(self, exc: Exception) -> GenerationError:
        try:
            mapped = error_class_for(type(exc), getattr(exc, "status_code", None))
        except ImportError:  # pragma: no cover - a client without anthropic (injected factory)
            mapped = ModelAPIError
        message = _describe(exc, mapped, self._model)
        if issubclass(mapped, ModelAPIError):
            status = getattr(exc, "status_code", None)
            return mapped(message, status if isinstance(status, int) else None)
        return mapped(message)

    def _reply(self, message: Any) -> ModelReply:
        raw_usage = getattr(message, "usage", None)
        usage = Usage(
            input_tokens=int(getattr(raw_usage, "input_tokens", 0) or 0)
            + int(getattr(raw_usage, "cache_creation_input_tokens", 0) or 0)
            + int(getattr(raw_usage, "cache_read_input_tokens", 0) or 0),
            output_tokens=int(getattr(raw_usage, "output_tokens", 0) or 0),
        )
        stop_reason = getattr(message, "stop_reason", None)
        for block in getattr(message, "content", None) or []:
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
                return parse_write_files(getattr(block, "input", None), usage=usage, model=self._model,
                                         stop_reason=stop_reason, message_id=getattr(message, "id", None))
        if stop_reason == "max_tokens":
            raise ModelOutputError(
                f"the answer was cut off at {self.max_output_tokens} output tokens before it called {TOOL_NAME}; "
                "raise --max-output-tokens", usage)
        raise ModelOutputError(f"the model answered without calling {TOOL_NAME} (stop_reason {stop_reason!r})",
                               usage)


def _is_bad_request(exc: Exception) -> bool:
    try:
        import anthropic
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, anthropic.BadRequestError)
