"""The live progress line (a terminal only): redrawn in place, erased before every log line."""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

from headwater.log import Level, LogPrinter
from headwater.progress import ERASE, ProgressLine


class _FakeSync:
    def __init__(self) -> None:
        self.counters = SimpleNamespace(checkpoints=2)
        self.rows = {"orders": 1500, "customers": 20}

    def progress(self) -> dict[str, int]:
        return dict(self.rows)


def test_progress_line_shows_rows_per_table_checkpoints_and_rate() -> None:
    line = ProgressLine(_FakeSync(), LogPrinter(io.StringIO()))
    text = line.render()
    assert "1,520 rows" in text and "orders 1,500" in text and "customers 20" in text
    assert "checkpoints 2" in text and "rows/s" in text


def test_log_line_erases_the_progress_line_first() -> None:
    stream = io.StringIO()
    printer = LogPrinter(stream)
    line = ProgressLine(_FakeSync(), printer, interval=0.01, delay=0.0)
    line.start()
    deadline = time.monotonic() + 5
    while "syncing" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    printer.log(Level.INFO, "headwater", "a log line")
    line.stop()
    out = stream.getvalue()
    assert "syncing:" in out
    before_log = out[: out.index("a log line")]
    assert before_log.rstrip().endswith("]") and ERASE in before_log


def test_progress_line_appears_on_a_terminal_and_not_in_a_pipe(tmp_path: Path) -> None:
    (tmp_path / "connector.py").write_text(textwrap.dedent('''
        import time
        from fivetran_connector_sdk import Connector, Operations as op

        def update(configuration, state):
            for i in range(40):
                op.upsert("t", {"id": i})
                time.sleep(0.05)
            op.checkpoint({})

        connector = Connector(update=update)
    '''))
    headwater = str(Path(sys.executable).parent / "headwater")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIVETRAN_", "HEADWATER_"))}
    piped = subprocess.run([headwater, "debug", str(tmp_path)], capture_output=True, text=True, env=env, timeout=60)
    assert piped.returncode == 0 and "syncing:" not in piped.stdout

    shutil.rmtree(tmp_path / "files")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([headwater, "debug", str(tmp_path)], stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(leader)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "syncing:" in out and "Sync SUCCEEDED" in out
