"""Log lines in the format of CLI-10, and the SDK's ``Logging`` class (API-40 to API-42).

Every line goes through one :class:`LogPrinter`, so the live progress display (a terminal only)
can step aside before a line is written::

    12:00:01.250 WARNING  [connector] rate limit low
    12:00:01.251 INFO     [headwater] calling update()

The library never prints directly: the runner installs a printer for the sync and removes it after.

Secrets: a printer can be given a ``redact`` function (``LogPrinter(..., redact=f)`` or
``printer.redact = f``), applied to every message before it is formatted, whatever its origin —
the connector's own ``Logging`` lines and ``Operations.warning``/``error`` included — and to raw
text (the summary). The runner installs the run's :class:`headwater.secrets.SecretMasker`, so a
connector that logs its API key prints ``<redacted>``. Without one (the default), lines are printed
as they are. What connector code writes with ``print()`` does not go through the printer and is
not masked.
"""

from __future__ import annotations

import contextlib
import enum
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TextIO

__all__ = ["Level", "LogPrinter", "Logging", "emit", "format_line", "redacting", "use_printer"]


class Level(enum.IntEnum):
    """Log levels of the Connector SDK (API-40)."""

    DEBUG = 1
    FINE = 2
    INFO = 3
    WARNING = 4
    ERROR = 5
    SEVERE = 6
    CRITICAL = 7


# Width of "HH:MM:SS.mmm " + "LEVEL    " (8 characters and a space).
_PREFIX_WIDTH = 13 + 9


def format_line(now: float, level: Level, origin: str, message: str) -> str:
    """One log record as text: the first line prefixed, continuation lines indented (CLI-10)."""
    local = time.localtime(now)
    millis = int((now - int(now)) * 1000)
    head = f"{time.strftime('%H:%M:%S', local)}.{millis:03d} {level.name:<8} [{origin}] "
    if "\n" not in message:
        return head + message
    indent = " " * (_PREFIX_WIDTH + len(origin) + 3)
    first, *rest = message.split("\n")
    return head + first + "".join("\n" + indent + line for line in rest)


class LogPrinter:
    """Writes log lines to a stream, thread-safely, filtering connector lines below ``min_level``.

    Args:
        stream: where lines go (stdout for the CLI).
        min_level: the lowest level printed for the connector's own lines (API-42).
        clock: returns the wall-clock time in seconds, injectable for tests.
        redact: applied to every message (and raw text) before it is written, to mask secrets;
            None (the default) writes text as it is. Settable later as :attr:`redact`.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        min_level: Level = Level.DEBUG,
        clock: Callable[[], float] = time.time,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self._stream = stream
        self.min_level = min_level
        self._clock = clock
        #: Masks secrets in each message before it is formatted (before continuation lines are
        #: indented, so a multi-line secret is still found whole).
        self.redact = redact
        self._lock = threading.Lock()
        #: Called (under the lock) before a line is written; the progress display uses it to clear itself.
        self.before_write: Callable[[], None] | None = None
        self.closed = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def log(self, level: Level, origin: str, message: str) -> None:
        if origin == "connector" and level < self.min_level:
            return
        redact = self.redact
        if redact is not None:
            message = redact(message)
        self._write(format_line(self._clock(), level, origin, message) + "\n")

    def write_raw(self, text: str) -> None:
        """Write text without a log prefix (the summary block)."""
        redact = self.redact
        self._write(redact(text) if redact is not None else text)

    def _write(self, text: str) -> None:
        with self._lock:
            if self.closed:
                return
            if self.before_write is not None:
                self.before_write()
            stream = self.stream
            try:
                stream.write(text)
                stream.flush()
            except (BrokenPipeError, ValueError):
                # The reader went away (`headwater debug | head`): the sync must not fail for
                # that, so the log is dropped from here on; the data and state are unaffected.
                self.closed = True


_printer = LogPrinter()


def use_printer(printer: LogPrinter) -> LogPrinter:
    """Install ``printer`` for all log lines; returns the previous one (to restore it)."""
    global _printer
    previous, _printer = _printer, printer
    return previous


@contextlib.contextmanager
def redacting(redact: Callable[[str], str] | None) -> Iterator[LogPrinter]:
    """Mask secrets with ``redact`` in every line the installed printer writes, for the block.

    The runner wraps a sync in it with the run's :class:`headwater.secrets.SecretMasker`, so the
    connector's own ``Logging`` lines are masked as well as headwater's; the printer's previous
    ``redact`` is restored at the end.
    """
    printer = _printer
    previous = printer.redact
    printer.redact = redact
    try:
        yield printer
    finally:
        printer.redact = previous


def emit(level: Level, message: str, *, origin: str = "headwater") -> None:
    """Write one log line through the installed printer."""
    _printer.log(level, origin, message)


def _text(message: Any, exception: BaseException | None = None) -> str:
    text = message if isinstance(message, str) else str(message)
    if exception is not None:
        detail = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
        text = f"{text}\n{detail.rstrip()}"
    return text


class Logging:
    """The SDK's logger: ``log.info("...")`` prints one line with origin ``connector`` (API-41)."""

    Level = Level

    @staticmethod
    def debug(message: Any) -> None:
        _printer.log(Level.DEBUG, "connector", _text(message))

    @staticmethod
    def fine(message: Any) -> None:
        """Deprecated alias of a level between DEBUG and INFO; prints ``FINE``."""
        _printer.log(Level.FINE, "connector", _text(message))

    @staticmethod
    def info(message: Any) -> None:
        _printer.log(Level.INFO, "connector", _text(message))

    @staticmethod
    def warning(message: Any) -> None:
        _printer.log(Level.WARNING, "connector", _text(message))

    @staticmethod
    def error(message: Any, exception: BaseException | None = None) -> None:
        _printer.log(Level.ERROR, "connector", _text(message, exception))

    @staticmethod
    def severe(message: Any, exception: BaseException | None = None) -> None:
        """Deprecated; prints ``SEVERE``."""
        _printer.log(Level.SEVERE, "connector", _text(message, exception))

    @staticmethod
    def critical(message: Any, exception: BaseException | None = None) -> None:
        _printer.log(Level.CRITICAL, "connector", _text(message, exception))
