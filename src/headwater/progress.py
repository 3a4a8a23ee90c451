"""A live progress line for long syncs on a terminal: rows per table, checkpoints, rows/s.

It redraws one line in place (carriage return, erase line) every half second, and erases itself
before any log line is written, so the normal log reads as if it were not there. Only used when
stdout is a terminal; without one the log alone is the record.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from headwater.log import LogPrinter

__all__ = ["ProgressLine"]

ERASE = "\r\x1b[2K"


class ProgressLine:
    """Draws ``sync.progress()`` on the printer's stream until :meth:`stop`."""

    def __init__(self, sync: Any, printer: LogPrinter, *, interval: float = 0.5, delay: float = 1.0) -> None:
        self.sync = sync
        self.printer = printer
        self.interval = interval
        self.delay = delay
        self._stop = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._loop, name="headwater-progress", daemon=True)
        self._started = time.monotonic()

    def start(self) -> None:
        self.printer.before_write = self._erase
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with self.printer._lock:
            self._erase()
            self.printer.before_write = None

    def _erase(self) -> None:
        if self._shown:
            self.printer.stream.write(ERASE)
            self._shown = False

    def render(self) -> str:
        tables = self.sync.progress()
        total = sum(tables.values())
        elapsed = max(time.monotonic() - self._started, 1e-9)
        parts = ", ".join(f"{name} {rows:,}" for name, rows in sorted(tables.items(), key=lambda kv: -kv[1])[:4])
        more = f" +{len(tables) - 4} tables" if len(tables) > 4 else ""
        return (f"syncing: {total:,} rows ({parts}{more}) | checkpoints {self.sync.counters.checkpoints} | "
                f"{total / elapsed:,.0f} rows/s | {elapsed:,.0f}s")

    def _loop(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            text = self.render()
            with self.printer._lock:
                stream = self.printer.stream
                stream.write(ERASE + text[:200])
                stream.flush()
                self._shown = True
            self._stop.wait(self.interval)
