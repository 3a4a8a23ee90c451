"""Build what is sent to the model, from the versioned templates in ``prompts/``.

::

    spec = TaskSpec(description="The Acme orders API ...", tables=("orders",), configuration_keys=("api_key",))
    prompt = build_generation_prompt(spec, Redactor())
    print(prompt.text())        # what --dry-run prints: the system prompt, then the user prompt

Every prompt has the same system part (``system.md``: how to answer, the connector API summary from
``connector_api.md`` and headwater's lint rules, read from the rule registry) and a user part:
``basic_generation.md`` for the first round of ``generate`` (with the ``headwater init`` template
that fits as the starting point), ``enhancement.md`` for the first round of ``enhance`` and
``fix_round.md`` for every later round (the task again, the files as they are, the gates' findings).

Secrets: the configuration is shown as key names with ``<redacted>`` values, a recording is
redacted before a sample of it is included, and the finished text goes through the redactor once
more (the client does it a last time before sending).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from headwater.ai.redaction import Redactor, redact_recording
from headwater.ai.template import load_template
from headwater.ai.workspace import render_files

__all__ = [
    "DocFile",
    "Prompt",
    "TaskSpec",
    "build_enhancement_prompt",
    "build_fix_prompt",
    "build_generation_prompt",
    "choose_starter",
    "lint_rules_text",
    "starting_point",
    "system_prompt",
]

TestStrategy = Literal["recording", "fixture"]
STARTER_FILES: Final = ("connector.py", "tests/test_connector.py")
MAX_DOC_CHARS: Final = 40_000

TEST_STRATEGIES: Final[Mapping[str, str]] = {
    "recording": (
        "A recording of the API's answers (headwater's format: meta.json and exchanges.jsonl, secrets redacted) "
        "is in tests/recording. Replay it: `from headwater.recording import replaying`, then "
        "`with replaying(PROJECT / 'tests' / 'recording'): result = run_connector(PROJECT, configuration=..., "
        "warehouse_dir=tmp_path)` (from `headwater.testing`), and assert on `result.succeeded`, "
        "`result.rows(sql)` and `result.state`. Use made-up credential values; take the base URL from the first "
        "recorded request (`json.loads(first line of exchanges.jsonl)['request']['url']`, scheme and host), "
        "since the URLs you see here are redacted. Do not write a mock server."
    ),
    "fixture": (
        "Ship a small mock of the API in mock_server.py (standard library only, started in-process on a free "
        "loopback port, like the starting point's tests do) serving a few pages of realistic records in the "
        "documented format and checking the documented authentication. Test with "
        "`headwater.testing.run_connector(PROJECT, configuration={...}, warehouse_dir=tmp_path)`: a full first "
        "sync (row counts, checkpoints, state), an incremental second sync where the API supports it, and "
        "rejected credentials."
    ),
}


@dataclass(frozen=True)
class DocFile:
    """A documentation file given with ``--docs``."""

    name: str
    text: str


@dataclass(frozen=True)
class TaskSpec:
    """What the user asked for, as the prompts need it."""

    description: str
    docs: tuple[DocFile, ...] = ()
    tables: tuple[str, ...] = ()
    configuration_keys: tuple[str, ...] = ()
    starter: str | None = None
    test_strategy: TestStrategy = "fixture"
    recording_dir: Path | None = None
    lint_fail_on: str = "warning"

    @property
    def docs_text(self) -> str:
        return "\n\n".join(doc.text for doc in self.docs)


@dataclass(frozen=True)
class Prompt:
    """One request's text: the system prompt, the user prompt and the template versions used."""

    kind: str
    system: str
    user: str
    templates: Mapping[str, int] = field(default_factory=dict)

    def text(self) -> str:
        """Everything the model would be sent, as --dry-run prints it."""
        versions = ", ".join(f"{name} v{version}" for name, version in sorted(self.templates.items()))
        return (f"===== prompt templates: {versions} =====\n\n"
                f"===== system prompt =====\n{self.system.rstrip()}\n\n"
                f"===== user prompt ({self.kind}) =====\n{self.user.rstrip()}\n")


def lint_rules_text() -> str:
    """One line per lint rule: id, severity, name, summary, fix (from the rule registry)."""
    from headwater.lint import all_rules

    return "\n".join(f"- {rule.id} {rule.severity} {rule.name}: {rule.summary} Fix: {rule.fix}" for rule in all_rules())


LINT_POLICIES: Final[Mapping[str, str]] = {"error": "error", "warning": "error or warning",
                                            "info": "error, warning or info"}


def system_prompt(lint_fail_on: str = "warning") -> tuple[str, dict[str, int]]:
    """The system prompt of every round, and the versions of the templates in it."""
    system, api = load_template("system"), load_template("connector_api")
    text = system.render(connector_api=api.body.strip(), lint_rules=lint_rules_text(),
                         lint_policy=LINT_POLICIES[lint_fail_on])
    return text, {system.name: system.version, api.name: api.version}


STARTER_HINTS: Final[Sequence[tuple[str, re.Pattern[str]]]] = (
    ("database", re.compile(r"\b(sql|database|postgres|mysql|sqlite|jdbc|db-api|oracle|table dump)\b", re.I)),
    ("csv", re.compile(r"\b(csv|tsv|spreadsheet|files? in a folder|sftp|s3 bucket)\b", re.I)),
)


def choose_starter(description: str, docs: str = "") -> str:
    """The ``headwater init`` template closest to the source: database, csv, or rest-api (the default)."""
    text = f"{description}\n{docs}"
    if re.search(r"\b(https?://|rest|api|endpoint|json)\b", text, re.I):
        return "rest-api"
    for template, pattern in STARTER_HINTS:
        if pattern.search(text):
            return template
    return "rest-api"


def starting_point(template: str) -> str:
    """The main files of ``headwater init --template <template>``, as Markdown sections."""
    from headwater.scaffold import scaffold

    with tempfile.TemporaryDirectory(prefix="headwater-starter-") as scratch:
        root = Path(scratch) / "connector"
        scaffold(root, template, name="connector")
        files = {name: (root / name).read_text(encoding="utf-8") for name in STARTER_FILES if (root / name).is_file()}
    return render_files(files, Redactor())


def _docs_section(docs: Sequence[DocFile], redactor: Redactor) -> str:
    if not docs:
        return "(none)"
    parts = []
    for doc in docs:
        text = doc.text if len(doc.text) <= MAX_DOC_CHARS else doc.text[:MAX_DOC_CHARS] + "\n... (cut)"
        parts.append(f"## {doc.name}\n\n{redactor.text(text).rstrip()}\n")
    return "\n".join(parts)


def _configuration_section(keys: Sequence[str], redactor: Redactor) -> str:
    if not keys:
        return "(none yet: choose the keys the API needs, e.g. base_url and api_key)"
    return json.dumps(redactor.configuration(dict.fromkeys(keys, "")))


def _tables_section(tables: Sequence[str]) -> str:
    return ", ".join(tables) if tables else "(not given: choose the tables the API's resources map to)"


def _data_structure(spec: TaskSpec, redactor: Redactor) -> str:
    lines = [
        f"Tables: {_tables_section(spec.tables)}. One row per API record; the primary key is the record's id "
        "(or the fields that identify it). Keep the API's field names, in snake_case.",
    ]
    if spec.recording_dir is not None and spec.recording_dir.is_dir():
        sample = redact_recording(spec.recording_dir, redactor)
        if sample:
            lines.append("A sample of recorded API traffic (redacted):\n\n````\n" + sample.rstrip() + "\n````")
    return "\n\n".join(lines)


def _finish(kind: str, user: str, templates: dict[str, int], redactor: Redactor,
            lint_fail_on: str = "warning") -> Prompt:
    system, system_versions = system_prompt(lint_fail_on)
    return Prompt(kind=kind, system=redactor.text(system), user=redactor.text(user),
                  templates={**system_versions, **templates})


def build_generation_prompt(spec: TaskSpec, redactor: Redactor) -> Prompt:
    """The first prompt of ``headwater generate``."""
    template = load_template("basic_generation")
    starter = spec.starter or choose_starter(spec.description, spec.docs_text)
    user = template.render(
        description=redactor.text(spec.description.strip()),
        docs=_docs_section(spec.docs, redactor),
        tables=_tables_section(spec.tables),
        configuration=_configuration_section(spec.configuration_keys, redactor),
        test_strategy=TEST_STRATEGIES[spec.test_strategy],
        data_structure=_data_structure(spec, redactor),
        starter=starter,
        starting_point=starting_point(starter),
    )
    return _finish("generation", user, {template.name: template.version}, redactor, spec.lint_fail_on)


def build_enhancement_prompt(feature: str, spec: TaskSpec, files: Mapping[str, str], redactor: Redactor) -> Prompt:
    """The first prompt of ``headwater enhance``: the feature and the project as it is."""
    template = load_template("enhancement")
    user = template.render(
        feature=redactor.text(feature.strip()),
        docs=_docs_section(spec.docs, redactor),
        configuration=_configuration_section(spec.configuration_keys, redactor),
        tables=_tables_section(spec.tables),
        test_strategy=TEST_STRATEGIES[spec.test_strategy],
        project_files=render_files(files, redactor),
    )
    return _finish("enhancement", user, {template.name: template.version}, redactor, spec.lint_fail_on)


def _gate_summary(results: Sequence[Any]) -> str:
    lines = [f"- {result.gate}: {result.status}" + (f" ({result.category})" if result.category else "")
             + f": {result.summary}" for result in results]
    return "\n".join(lines)


def build_fix_prompt(task: Prompt, files: Mapping[str, str], results: Sequence[Any], *, round_number: int,
                     max_rounds: int, redactor: Redactor) -> Prompt:
    """A later round: what failed (every gate's result, the findings as JSON), the files, the task."""
    template = load_template("fix_round")
    findings = [
        {"gate": result.gate, **finding} for result in results if result.status == "failed"
        for finding in result.findings
    ]
    user = template.render(
        round=str(round_number),
        max_rounds=str(max_rounds),
        gate_summary=_gate_summary(results),
        findings=redactor.text(json.dumps(findings, indent=1, ensure_ascii=False, default=str)),
        project_files=render_files(files, redactor),
        task=task.user,
    )
    return Prompt(kind="fix", system=task.system, user=redactor.text(user), templates={
        **task.templates, template.name: template.version})
