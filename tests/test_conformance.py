"""The shared conformance suite (../shared/conformance) against the installed ``headwater`` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.mark.skipif(not (CONFORMANCE / "check.py").is_file(),
                    reason="../shared/conformance not found: conformance suite skipped")
def test_conformance_suite_passes(hw: Any) -> None:
    completed = subprocess.run(
        [sys.executable, str(CONFORMANCE / "check.py"), "--cli", f"{hw.HEADWATER} debug"],
        cwd=CONFORMANCE,
        env=hw.clean_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    failures = "\n".join(line for line in lines if not line.startswith("PASS "))
    assert completed.returncode == 0 and last.endswith(" passed, 0 failed"), (
        f"conformance suite: {last or 'no summary line'} (exit status {completed.returncode})\n"
        f"{failures}\n{completed.stderr}"
    )
