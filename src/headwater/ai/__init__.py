"""``headwater generate`` and ``headwater enhance``: Claude writes the connector, deterministic gates
decide when it is done.

::

    from pathlib import Path
    from headwater.ai import GenerateRequest, ModelClient, generate

    report = generate(
        GenerateRequest(project=Path("acme"), description="The Acme orders API: GET /v1/orders ...",
                        tables=("orders",), configuration={"base_url": "http://127.0.0.1:8765", "api_key": "k"}),
        model=ModelClient(),               # ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL honoured
    )
    assert report.succeeded, report.reason

Modules: ``client`` (the one place that calls Anthropic), ``prompts/`` (versioned templates) and
``prompt`` (building them, redacted), ``gates`` (the checks), ``probe`` (running generated code in a
child process), ``loop`` (rounds and budget), ``report`` (files/ai/ and the summary), ``cli`` (the
commands), ``fake_model`` (a loopback fake of the Messages API), ``evaluation`` and ``eval_apis``
(the ``make ai-eval`` harness). Names are imported lazily: importing this package imports neither
``anthropic`` nor the gates.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.ai.client import DEFAULT_MODEL, FileEdit, Model, ModelClient, ModelReply, Usage, estimate_cost
    from headwater.ai.errors import GenerationError
    from headwater.ai.gates import GateOptions, GateResult, default_gates
    from headwater.ai.loop import Budget, EnhanceRequest, GenerateRequest, LoopEvent, enhance, generate
    from headwater.ai.report import GenerationReport, render_summary

__all__ = [
    "DEFAULT_MODEL",
    "Budget",
    "EnhanceRequest",
    "FileEdit",
    "GateOptions",
    "GateResult",
    "GenerateRequest",
    "GenerationError",
    "GenerationReport",
    "LoopEvent",
    "Model",
    "ModelClient",
    "ModelReply",
    "Usage",
    "default_gates",
    "enhance",
    "estimate_cost",
    "generate",
    "render_summary",
]

_HOMES = {
    "client": ("DEFAULT_MODEL", "FileEdit", "Model", "ModelClient", "ModelReply", "Usage", "estimate_cost"),
    "errors": ("GenerationError",),
    "gates": ("GateOptions", "GateResult", "default_gates"),
    "loop": ("Budget", "EnhanceRequest", "GenerateRequest", "LoopEvent", "enhance", "generate"),
    "report": ("GenerationReport", "render_summary"),
}


def __getattr__(name: str) -> Any:
    for module, names in _HOMES.items():
        if name in names:
            return getattr(importlib.import_module(f"headwater.ai.{module}"), name)
    raise AttributeError(f"module 'headwater.ai' has no attribute {name!r}")
