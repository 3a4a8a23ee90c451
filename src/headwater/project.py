"""A debug run's inputs, parsed once at the edge (CLI-3 to CLI-6): project path, configuration,
state and naming, each checked in the order of ERR-2 and turned into a frozen :class:`RunInputs`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater import naming as naming_rules
from headwater.errors import ConfigurationError, ProjectError, StateFileError, UsageError

__all__ = ["RunInputs", "load_configuration", "load_state", "resolve_inputs", "resolve_naming"]

MAX_CONFIGURATION_KEYS = 100


@dataclass(frozen=True)
class RunInputs:
    """Everything a sync needs to know before it starts."""

    project: Path
    configuration: dict[str, str]
    configuration_source: Path | None
    state: dict[str, Any]
    state_path: Path           # where checkpoints write the state
    naming: str
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def warehouse_path(self) -> Path:
        return self.project / "files" / "warehouse.db"


def resolve_naming(flag: str | None, environ: Mapping[str, str]) -> str:
    """``--naming`` or ``FIVETRAN_NAMING`` or FIVETRAN (CLI-6); a bad value is ERR-CLI-2."""
    value, origin = (flag, "--naming") if flag is not None else (environ.get("FIVETRAN_NAMING"), "FIVETRAN_NAMING")
    if value is None:
        return naming_rules.FIVETRAN
    try:
        return naming_rules.parse_convention(value)
    except ValueError:
        raise UsageError(
            f"invalid {origin} value {value!r}: the naming convention must be FIVETRAN or SOURCE"
        ) from None


def _read_json_object(
    path: Path, what: str, error: type[ConfigurationError] | type[StateFileError]
) -> tuple[Any, bool]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"the {what} file {path} is not valid JSON (not UTF-8 text: {exc.reason})") from None
    except OSError as exc:
        raise error(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not text.strip():
        return {}, True
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"the {what} file {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise error(
            f"the {what} file {path} must hold a JSON object ({{...}}), but it holds a "
            f"{type(value).__name__ if value is not None else 'null'}"
        )
    return value, False


def load_configuration(path: Path) -> dict[str, str]:
    """Read a configuration file: a JSON object whose values are all strings (CLI-5, ERR-CFG-2..4)."""
    value, _ = _read_json_object(path, "configuration", ConfigurationError)
    return check_configuration(value, source=str(path))


def check_configuration(value: Any, *, source: str = "configuration") -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"the configuration must be a JSON object (a dict), got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise ConfigurationError(
                f"configuration values must be strings, but key {key!r} in {source} holds "
                f"{json.dumps(item)[:60]} ({type(item).__name__}); quote it, e.g. \"{key}\": \"{item}\""
            )
    return dict(value)


def load_state(path: Path) -> dict[str, Any]:
    """Read a state file: a JSON object; empty or whitespace-only counts as {} (CLI-4)."""
    value, _ = _read_json_object(path, "state", StateFileError)
    return dict(value)


def _given_path(project: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else project / path


def resolve_inputs(
    project: str | os.PathLike[str] | None,
    *,
    configuration_file: str | None = None,
    state_file: str | None = None,
    naming: str | None = None,
    environ: Mapping[str, str] | None = None,
    configuration: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> RunInputs:
    """Resolve and check the project, configuration and state, in the order of ERR-2.

    ``configuration``/``state`` dicts (from ``connector.debug()``) replace the files.
    """
    env = os.environ if environ is None else environ
    convention = resolve_naming(naming, env)
    root = Path(project) if project is not None else Path.cwd()
    if not root.is_dir():
        raise ProjectError(
            f"project path {str(root)!r} does not exist or is not a directory; "
            "pass the folder that holds connector.py"
        )
    root = root.resolve()
    warnings: list[str] = []
    notes: list[str] = []

    source: Path | None = None
    if configuration is not None:
        config = check_configuration(configuration, source="the configuration dict")
    else:
        named = configuration_file if configuration_file is not None else env.get("FIVETRAN_CONFIGURATION")
        if named is not None:
            source = _given_path(root, named)
            if not source.is_file():
                raise ConfigurationError(
                    f"configuration file not found: {named} (looked for {source}); "
                    "check the --configuration path or FIVETRAN_CONFIGURATION"
                )
        elif (root / "configuration.json").is_file():
            source = root / "configuration.json"
        if source is None:
            config = {}
            notes.append("no configuration file found; running with an empty configuration {}")
        else:
            config = load_configuration(source)
    if len(config) > MAX_CONFIGURATION_KEYS:
        warnings.append(
            f"the configuration has {len(config)} keys; Fivetran refuses more than "
            f"{MAX_CONFIGURATION_KEYS} when you deploy"
        )

    named_state = state_file if state_file is not None else env.get("FIVETRAN_STATE")
    if named_state is not None:
        state_path = _given_path(root, named_state)
        if not state_path.is_file():
            raise StateFileError(
                f"state file not found: {named_state} (looked for {state_path}); "
                "check the --state path or FIVETRAN_STATE"
            )
    else:
        state_path = root / "files" / "state.json"
    if state is not None:
        if not isinstance(state, dict):
            raise StateFileError(f"the state must be a dict, got {type(state).__name__}")
        initial = json.loads(json.dumps(state))
    elif state_path.is_file():
        initial = load_state(state_path)
    else:
        initial = {}
    return RunInputs(
        project=root,
        configuration=config,
        configuration_source=source,
        state=initial,
        state_path=state_path,
        naming=convention,
        warnings=tuple(warnings),
        notes=tuple(notes),
    )
