"""Helpers for the lint tests: write a small project into ``tmp_path`` and lint it.

- ``lint_code(code, *, files=None, git=False, select=None)`` writes ``connector.py`` from ``code``
  (dedented) plus any other ``files`` (relative path -> text) into a fresh folder, optionally makes
  it a git work tree, lints it and returns the :class:`~headwater.lint.LintReport`.
- ``write_project(files, *, git=False)`` only writes the folder and returns its path.
- ``hits(report, rule=None)`` is ``[(rule, path name, line), ...]``, for compact assertions.

Test modules annotate these fixtures with ``Callable[..., ...]`` rather than importing this module.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable, Iterable, Mapping
from itertools import count
from pathlib import Path

import pytest

from headwater.lint import LintReport, lint_project

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_folders = count()

WriteProject = Callable[..., Path]
LintCode = Callable[..., LintReport]


def _hits(report: LintReport, rule: str | None = None) -> list[tuple[str, str, int]]:
    return [(f.rule, Path(f.path).name, f.line) for f in report.findings if rule is None or f.rule == rule]


@pytest.fixture
def hits() -> Callable[..., list[tuple[str, str, int]]]:
    return _hits


def git_init(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    def write(files: Mapping[str, str], *, git: bool = False) -> Path:
        root = tmp_path / f"project{next(_folders)}"
        root.mkdir()
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        if git:
            git_init(root)
        return root

    return write


@pytest.fixture
def lint_code(write_project: WriteProject) -> LintCode:
    def lint(code: str, *, files: Mapping[str, str] | None = None, git: bool = False,
             select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> LintReport:
        root = write_project({"connector.py": code, **(files or {})}, git=git)
        return lint_project(root, select=select, ignore=ignore)

    return lint
