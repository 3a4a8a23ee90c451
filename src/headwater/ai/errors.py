"""Errors of ``headwater generate`` and ``headwater enhance``.

::

    HeadwaterError
    └── GenerationError                      generate/enhance cannot go on; exit status 1
        ├── ModelNotConfiguredError          no API key, or the anthropic package is missing
        ├── ModelAPIError                    the Messages API call failed (mapped from anthropic's errors)
        │   ├── ModelAuthenticationError     401/402/403: the key or the account was refused
        │   ├── ModelRateLimitError          429, still after the SDK's retries          retryable
        │   ├── ModelConnectionError         network failure or timeout                  retryable
        │   ├── ModelServerError             5xx / 529 overloaded                        retryable
        │   └── ModelRequestError            400/404/413/422: the request itself was refused
        ├── ModelOutputError                 the answer holds no usable ``write_files`` call
        ├── UnsafePathError(ValueError)      the model named a file outside the project
        └── TemplateError(ValueError)        a prompt template and its values do not match

Each class says which kind of failure it is (``category``): ``configuration`` (the user must fix a
setting: a key, an account), ``infrastructure`` (the network or the service; try again later) or
``code`` (the model's answer was unusable; the next round may do better).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from headwater.errors import HeadwaterError

__all__ = [
    "Category",
    "GenerationError",
    "ModelAPIError",
    "ModelAuthenticationError",
    "ModelConnectionError",
    "ModelNotConfiguredError",
    "ModelOutputError",
    "ModelRateLimitError",
    "ModelRequestError",
    "ModelServerError",
    "TemplateError",
    "UnsafePathError",
]

Category = Literal["code", "configuration", "infrastructure"]


class GenerationError(HeadwaterError):
    """``headwater generate`` or ``enhance`` cannot go on; the message says why and what to do."""

    category: ClassVar[Category] = "infrastructure"
    retryable: ClassVar[bool] = False


class ModelNotConfiguredError(GenerationError):
    """The model cannot be called at all: no API key, or ``anthropic`` is not installed."""

    category = "configuration"


class ModelAPIError(GenerationError):
    """The Messages API answered with an error, or could not be reached.

    ``status_code`` is the HTTP status when there was a response (None for network failures).
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ModelAuthenticationError(ModelAPIError):
    """The API refused the key or the account (401, 402, 403)."""

    category = "configuration"


class ModelRateLimitError(ModelAPIError):
    """429 from the Messages API, after the SDK's own retries."""

    retryable = True


class ModelConnectionError(ModelAPIError):
    """The Messages API could not be reached, or did not answer in time."""

    retryable = True


class ModelServerError(ModelAPIError):
    """The Messages API failed on its side (5xx, 529 overloaded)."""

    retryable = True


class ModelRequestError(ModelAPIError):
    """The Messages API refused the request (400, 404, 413, 422): a model id or size problem."""

    category = "configuration"


class ModelOutputError(GenerationError):
    """The model answered, but not with a usable ``write_files`` call (text only, cut off, malformed).

    ``usage`` holds the tokens the answer cost, so budgets still count them.
    """

    category = "code"

    def __init__(self, message: str, usage: object = None) -> None:
        super().__init__(message)
        self.usage = usage


class UnsafePathError(GenerationError, ValueError):
    """A file path from the model is absolute, leaves the project, or targets files/ or .git/."""

    category = "code"


class TemplateError(GenerationError, ValueError):
    """A prompt template's placeholders and the values given to it do not match (a headwater bug)."""
