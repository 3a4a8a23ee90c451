"""files/state.json is replaced atomically and only after the data commits (SEM-55): a staged state
is written aside while the warehouse commits and becomes the saved state only at save()."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from headwater.errors import StateStoreError
from headwater.statestore import FileStateStore


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_staged_state_is_not_the_saved_state_until_save(tmp_path: Path) -> None:
    path = tmp_path / "files" / "state.json"
    store = FileStateStore(path)
    store.save(json.dumps({"cursor": 1}))
    store.stage(json.dumps({"cursor": 2}))
    assert json.loads(path.read_text()) == {"cursor": 1}
    store.save(json.dumps({"cursor": 2}))
    assert json.loads(path.read_text()) == {"cursor": 2}
    assert leftovers(path.parent) == []


def test_discarded_stage_leaves_the_saved_state_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStateStore(path)
    store.save('{"cursor": 1}')
    store.stage('{"cursor": 2}')
    store.discard()
    assert path.read_text() == '{"cursor": 1}'
    assert leftovers(tmp_path) == []


def test_save_of_other_text_than_staged_saves_what_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStateStore(path)
    store.stage('{"cursor": 1}')
    store.save('{"cursor": "other"}')
    assert path.read_text() == '{"cursor": "other"}'


def test_many_checkpoints_each_save_their_own_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = FileStateStore(path)
    for n in range(200):
        text = json.dumps({"n": n})
        store.stage(text)
        store.save(text)
        assert json.loads(path.read_text()) == {"n": n}
    assert leftovers(tmp_path) == []


def test_mode_of_an_existing_state_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")
    os.chmod(path, 0o600)
    store = FileStateStore(path)
    store.stage('{"a": 1}')
    store.save('{"a": 1}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_new_state_file_is_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    FileStateStore(path).save("{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_error_of_a_staged_state_is_raised_by_save_as_a_state_store_error(tmp_path: Path) -> None:
    (tmp_path / "files").write_text("a file where the folder should be")
    path = tmp_path / "files" / "state.json"
    store = FileStateStore(path)
    store.stage("{}")
    with pytest.raises(StateStoreError, match="cannot save the state to .*state.json: Not a directory") as caught:
        store.save("{}")
    assert isinstance(caught.value.__cause__, OSError)
    assert not path.exists()


def test_a_saved_state_carries_the_identity_of_its_warehouse(tmp_path: Path) -> None:
    from headwater import pairing

    path = tmp_path / "state.json"
    FileStateStore(path, pairing=lambda: "abc123").save('{"n": 1}')
    assert pairing.read(path) in ("abc123", None)  # None only on a file system without extended attributes
    FileStateStore(path).save('{"n": 2}')
    assert pairing.read(path) is None


def test_staging_never_creates_the_state_folder(tmp_path: Path) -> None:
    # The warehouse creates files/ during the first commit, and deletes it again when a first sync
    # fails: a helper thread creating it meanwhile raced with that (FileExistsError).
    path = tmp_path / "files" / "state.json"
    store = FileStateStore(path)
    store.stage("{}")
    store.discard()
    assert not (tmp_path / "files").exists()
    store.stage('{"a": 1}')
    store.save('{"a": 1}')
    assert json.loads(path.read_text()) == {"a": 1}


def test_closing_the_store_ends_its_helper_thread(tmp_path: Path) -> None:
    import threading

    before = set(threading.enumerate())
    store = FileStateStore(tmp_path / "state.json")
    store.stage("{}")
    store.save("{}")
    helpers = [t for t in set(threading.enumerate()) - before if t.name == "headwater-state"]
    assert len(helpers) == 1
    store.close()
    helpers[0].join(timeout=5)
    assert not helpers[0].is_alive()
