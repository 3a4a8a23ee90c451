"""headwater.project.resolve_inputs: where the configuration, state and naming of a run come from
(CLI-3 to CLI-6, API-13) and the before-sync errors ERR-CLI-2, ERR-CLI-3, ERR-CFG-1 to ERR-CFG-4,
ERR-STATE-1 to ERR-STATE-3 with their required phrases, in the order of ERR-2.

The environment is always passed explicitly (``environ={...}``); the process environment is never
read or changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import ConfigurationError, HeadwaterError, ProjectError, StateFileError, UsageError
from headwater.project import RunInputs, resolve_inputs


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def write(path: Path, content: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def resolve(project: Path, environ: dict[str, str] | None = None, **options: Any) -> RunInputs:
    return resolve_inputs(project, environ=environ if environ is not None else {}, **options)


def fails(error: type[HeadwaterError], project: Path, *phrases: str, environ: dict[str, str] | None = None,
          **options: Any) -> str:
    with pytest.raises(error) as info:
        resolve(project, environ, **options)
    message = info.value.message
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"{phrase!r} not in {message!r}"
    return message


# ---------------------------------------------------------------------------------------------
# configuration: --configuration, FIVETRAN_CONFIGURATION, configuration.json, {} (CLI-5)


def test_configuration_flag_wins_over_environment_and_project_file(project: Path) -> None:
    write(project / "flag.json", {"from": "flag"})
    write(project / "env.json", {"from": "env"})
    write(project / "configuration.json", {"from": "project"})
    inputs = resolve(project, {"FIVETRAN_CONFIGURATION": "env.json"}, configuration_file="flag.json")
    assert inputs.configuration == {"from": "flag"}
    assert inputs.configuration_source == project / "flag.json"


def test_configuration_environment_wins_over_project_file(project: Path) -> None:
    write(project / "env.json", {"from": "env"})
    write(project / "configuration.json", {"from": "project"})
    inputs = resolve(project, {"FIVETRAN_CONFIGURATION": "env.json"})
    assert inputs.configuration == {"from": "env"}


def test_project_configuration_json_is_used_by_default(project: Path) -> None:
    write(project / "configuration.json", {"api_key": "k", "region": "eu"})
    inputs = resolve(project)
    assert inputs.configuration == {"api_key": "k", "region": "eu"}
    assert inputs.configuration_source == project / "configuration.json"
    assert inputs.notes == ()


def test_no_configuration_anywhere_is_an_empty_dict_with_a_note(project: Path) -> None:
    inputs = resolve(project)
    assert inputs.configuration == {}
    assert inputs.configuration_source is None
    assert any("configuration" in note.lower() for note in inputs.notes)


def test_named_configuration_means_the_project_file_is_not_read(project: Path) -> None:
    write(project / "configuration.json", "{ not json")
    write(project / "good.json", {"ok": "yes"})
    assert resolve(project, configuration_file="good.json").configuration == {"ok": "yes"}
    assert resolve(project, {"FIVETRAN_CONFIGURATION": "good.json"}).configuration == {"ok": "yes"}


@pytest.mark.parametrize("via", ["flag", "env"])
def test_relative_configuration_path_is_resolved_against_the_project(project: Path, tmp_path: Path,
                                                                     via: str) -> None:
    write(project / "conf" / "c.json", {"where": "project"})
    write(tmp_path / "conf" / "c.json", {"where": "outside"})  # next to the project, must not be used
    options = {"configuration_file": "conf/c.json"} if via == "flag" else {}
    environ = {"FIVETRAN_CONFIGURATION": "conf/c.json"} if via == "env" else {}
    assert resolve(project, environ, **options).configuration == {"where": "project"}


def test_absolute_configuration_path_is_used_as_is(project: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere" / "c.json", {"where": "absolute"})
    assert resolve(project, configuration_file=str(outside)).configuration == {"where": "absolute"}


@pytest.mark.parametrize("content", ["", "   \n\t  ", "\n"], ids=["empty", "whitespace", "newline"])
def test_empty_configuration_file_counts_as_empty_object(project: Path, content: str) -> None:
    write(project / "configuration.json", content)
    assert resolve(project).configuration == {}
    write(project / "named.json", content)
    assert resolve(project, configuration_file="named.json").configuration == {}


def test_configuration_dict_replaces_the_files(project: Path) -> None:
    write(project / "configuration.json", "broken")
    inputs = resolve(project, configuration={"k": "v"})
    assert inputs.configuration == {"k": "v"}


def test_configuration_dict_must_still_hold_strings(project: Path) -> None:
    fails(ConfigurationError, project, "must be strings", "port", configuration={"port": 5432})


def test_more_than_100_configuration_keys_only_warns(project: Path) -> None:
    write(project / "configuration.json", {f"k{i}": "v" for i in range(101)})
    inputs = resolve(project)
    assert len(inputs.configuration) == 101
    assert len(inputs.warnings) == 1 and "101" in inputs.warnings[0]
    write(project / "configuration.json", {f"k{i}": "v" for i in range(100)})
    assert resolve(project).warnings == ()


# ERR-CFG-1 to ERR-CFG-4


@pytest.mark.parametrize("via", ["flag", "env"])
def test_named_configuration_file_must_exist(project: Path, via: str) -> None:
    write(project / "configuration.json", {"present": "but not named"})
    name = "missing/conf.json"
    options = {"configuration_file": name} if via == "flag" else {}
    environ = {"FIVETRAN_CONFIGURATION": name} if via == "env" else {}
    with pytest.raises(ConfigurationError) as info:
        resolve(project, environ, **options)
    assert "configuration file not found" in info.value.message.lower()
    assert name in info.value.message
    assert info.value.exit_code == 1


def test_configuration_path_that_is_a_directory_is_not_found(project: Path) -> None:
    (project / "adir").mkdir()
    fails(ConfigurationError, project, "configuration file not found", "adir", configuration_file="adir")


@pytest.mark.parametrize("content", ["{", "{'a': 'b'}", '{"a": "b",}', "nope", '{"a": "b"} trailing', b"\xff\xfe{}"],
                         ids=["unclosed", "single_quotes", "trailing_comma", "word", "trailing_text", "not_utf8"])
def test_configuration_that_is_not_json_is_refused(project: Path, content: Any) -> None:
    write(project / "configuration.json", content)
    fails(ConfigurationError, project, "configuration", "not valid JSON")


@pytest.mark.parametrize("content", ["[]", '["a"]', '"text"', "null", "5", "true"],
                         ids=["empty_list", "list", "string", "null", "number", "bool"])
def test_configuration_that_is_not_a_json_object_is_refused(project: Path, content: str) -> None:
    write(project / "configuration.json", content)
    fails(ConfigurationError, project, "configuration", "JSON object")


@pytest.mark.parametrize("value", [1, 2.5, True, None, ["a"], {"nested": "x"}],
                         ids=["int", "float", "bool", "null", "list", "object"])
def test_configuration_values_must_be_strings(project: Path, value: Any) -> None:
    write(project / "configuration.json", {"fine": "x", "bad_key": value, "later_bad": 7})
    message = fails(ConfigurationError, project, "must be strings", "bad_key")
    assert "later_bad" not in message


# ---------------------------------------------------------------------------------------------
# state: --state, FIVETRAN_STATE, files/state.json, {} (CLI-4)


def test_state_flag_wins_over_environment_and_saved_state(project: Path) -> None:
    write(project / "flag_state.json", {"from": "flag"})
    write(project / "env_state.json", {"from": "env"})
    write(project / "files" / "state.json", {"from": "saved"})
    inputs = resolve(project, {"FIVETRAN_STATE": "env_state.json"}, state_file="flag_state.json")
    assert inputs.state == {"from": "flag"}
    assert inputs.state_path == project / "flag_state.json"


def test_state_environment_wins_over_saved_state(project: Path) -> None:
    write(project / "env_state.json", {"from": "env"})
    write(project / "files" / "state.json", {"from": "saved"})
    inputs = resolve(project, {"FIVETRAN_STATE": "env_state.json"})
    assert inputs.state == {"from": "env"}
    assert inputs.state_path == project / "env_state.json"


def test_saved_state_is_used_by_default(project: Path) -> None:
    write(project / "files" / "state.json", {"cursor": "2024-01-01", "n": 3})
    inputs = resolve(project)
    assert inputs.state == {"cursor": "2024-01-01", "n": 3}
    assert inputs.state_path == project / "files" / "state.json"


def test_no_state_anywhere_is_an_empty_dict_written_to_files_state_json(project: Path) -> None:
    inputs = resolve(project)
    assert inputs.state == {}
    assert inputs.state_path == project / "files" / "state.json"
    assert not (project / "files").exists()


def test_named_state_means_the_saved_state_is_not_read(project: Path) -> None:
    write(project / "files" / "state.json", "{ broken")
    write(project / "mine.json", {"ok": True})
    assert resolve(project, state_file="mine.json").state == {"ok": True}
    assert resolve(project, {"FIVETRAN_STATE": "mine.json"}).state == {"ok": True}


@pytest.mark.parametrize("via", ["flag", "env"])
def test_relative_state_path_is_resolved_against_the_project(project: Path, tmp_path: Path, via: str) -> None:
    write(project / "st" / "s.json", {"where": "project"})
    write(tmp_path / "st" / "s.json", {"where": "outside"})
    options = {"state_file": "st/s.json"} if via == "flag" else {}
    environ = {"FIVETRAN_STATE": "st/s.json"} if via == "env" else {}
    inputs = resolve(project, environ, **options)
    assert inputs.state == {"where": "project"}
    assert inputs.state_path == project / "st" / "s.json"


@pytest.mark.parametrize("content", ["", "  \n "], ids=["empty", "whitespace"])
def test_empty_state_file_counts_as_empty_object(project: Path, content: str) -> None:
    write(project / "files" / "state.json", content)
    assert resolve(project).state == {}
    write(project / "named.json", content)
    inputs = resolve(project, state_file="named.json")
    assert inputs.state == {} and inputs.state_path == project / "named.json"


def test_state_dict_replaces_the_state_file_but_checkpoints_still_go_to_files_state_json(project: Path) -> None:
    write(project / "files" / "state.json", "not json")
    inputs = resolve(project, state={"given": [1, 2]})
    assert inputs.state == {"given": [1, 2]}
    assert inputs.state_path == project / "files" / "state.json"


def test_state_dict_with_state_path_writes_to_that_path(project: Path) -> None:
    write(project / "custom.json", {"ignored": True})
    inputs = resolve(project, state={"given": 1}, state_file="custom.json")
    assert inputs.state == {"given": 1}
    assert inputs.state_path == project / "custom.json"


# ERR-STATE-1 to ERR-STATE-3


@pytest.mark.parametrize("via", ["flag", "env"])
def test_named_state_file_must_exist(project: Path, via: str) -> None:
    write(project / "files" / "state.json", {"present": True})
    options = {"state_file": "nope.json"} if via == "flag" else {}
    environ = {"FIVETRAN_STATE": "nope.json"} if via == "env" else {}
    with pytest.raises(StateFileError) as info:
        resolve(project, environ, **options)
    assert "state file not found" in info.value.message.lower()
    assert info.value.exit_code == 1


@pytest.mark.parametrize("named", [False, True], ids=["saved", "named"])
@pytest.mark.parametrize("content", ["{", "[1,", "cursor=5", b"\x80\x81"], ids=["unclosed", "list", "text", "bytes"])
def test_state_that_is_not_json_is_refused(project: Path, content: Any, named: bool) -> None:
    if named:
        write(project / "s.json", content)
        fails(StateFileError, project, "state", "not valid JSON", state_file="s.json")
    else:
        write(project / "files" / "state.json", content)
        fails(StateFileError, project, "state", "not valid JSON")


@pytest.mark.parametrize("content", ["[]", '"cursor"', "null", "42"], ids=["list", "string", "null", "number"])
def test_state_that_is_not_a_json_object_is_refused(project: Path, content: str) -> None:
    write(project / "files" / "state.json", content)
    fails(StateFileError, project, "state", "JSON object")


# ---------------------------------------------------------------------------------------------
# naming (CLI-6), project path (CLI-3) and the order of errors (ERR-2)


@pytest.mark.parametrize(("flag", "env", "expected"), [
    (None, None, "FIVETRAN"),
    ("source", None, "SOURCE"),
    ("Fivetran", None, "FIVETRAN"),
    (None, "SOURCE", "SOURCE"),
    (None, "fivetran", "FIVETRAN"),
    ("FIVETRAN", "SOURCE", "FIVETRAN"),
    ("SOURCE", "not a convention", "SOURCE"),
])
def test_naming_comes_from_the_flag_then_the_environment(project: Path, flag: Any, env: Any, expected: str) -> None:
    environ = {"FIVETRAN_NAMING": env} if env is not None else {}
    assert resolve(project, environ, naming=flag).naming == expected


@pytest.mark.parametrize(("flag", "env"), [("snake", None), (None, "lower"), ("", None)],
                         ids=["flag", "env", "empty_flag"])
def test_unknown_naming_is_a_usage_error(project: Path, flag: Any, env: Any) -> None:
    environ = {"FIVETRAN_NAMING": env} if env is not None else {}
    with pytest.raises(UsageError) as info:
        resolve(project, environ, naming=flag)
    assert "naming" in info.value.message.lower() and "SOURCE" in info.value.message
    assert info.value.exit_code == 2


def test_project_path_must_exist(tmp_path: Path) -> None:
    fails(ProjectError, tmp_path / "missing", "project path")


def test_project_path_must_be_a_directory(tmp_path: Path) -> None:
    file = write(tmp_path / "connector.py", "x = 1")
    with pytest.raises(ProjectError) as info:
        resolve(file)
    assert "project path" in info.value.message.lower() and info.value.exit_code == 1


def test_relative_project_path_resolves_to_an_absolute_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.parent)
    inputs = resolve_inputs("project", environ={})
    assert inputs.project == project.resolve() and inputs.project.is_absolute()
    assert inputs.warehouse_path == project.resolve() / "files" / "warehouse.db"


def test_naming_error_comes_before_project_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        resolve(tmp_path / "missing", naming="bad")


def test_project_error_comes_before_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError):
        resolve(tmp_path / "missing", configuration_file="also_missing.json")


def test_configuration_error_comes_before_state_error(project: Path) -> None:
    write(project / "configuration.json", "[]")
    write(project / "files" / "state.json", "[]")
    with pytest.raises(ConfigurationError):
        resolve(project, state_file="missing.json")


def test_inputs_are_not_written_or_created(project: Path) -> None:
    write(project / "configuration.json", {"a": "b"})
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    resolve(project)
    with pytest.raises(StateFileError):
        resolve(project, state_file="missing.json")
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
