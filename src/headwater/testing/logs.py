"""The log lines of a sync, parsed back from its output (format CLI-10).

::

    12:00:01.250 WARNING  [connector] rate limit low
    12:00:01.251 SEVERE   [headwater] Traceback (most recent call last):
                                        File "connector.py", line 9, in update

A record is one prefixed line plus its indented continuation lines; the summary block and other
unprefixed text in the output are not log lines. ``result.log`` gives them as :class:`LogLine`::

    assert any(line.origin == "connector" and "fetching" in line.message for line in result.log)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LogLine", "parse_log"]

_HEAD = re.compile(r"^(\d{2}:\d{2}:\d{2}\.\d{3}) ([A-Z]+) +\[([^\]]*)\] (.*)$")
# Width of "HH:MM:SS.mmm " plus the level column ("LEVEL" padded to 8, then a space).
_PREFIX_WIDTH = 13 + 9


@dataclass(frozen=True)
class LogLine:
    """One log record: ``time`` as printed (``HH:MM:SS.mmm``), ``level`` name, ``origin``
    (``"connector"`` or ``"headwater"``) and the ``message``, with its line breaks for multi-line records."""

    time: str
    level: str
    origin: str
    message: str

    def __str__(self) -> str:
        return f"{self.time} {self.level:<8} [{self.origin}] {self.message}"


def parse_log(output: str) -> list[LogLine]:
    """The log records in ``output`` (a sync's stdout), in order."""
    records: list[LogLine] = []
    head: tuple[str, str, str] | None = None
    message: list[str] = []
    indent = ""
    for line in output.splitlines():
        match = _HEAD.match(line)
        if match is not None:
            if head is not None:
                records.append(LogLine(*head, "\n".join(message)))
            time, level, origin, first = match.groups()
            head, message = (time, level, origin), [first]
            indent = " " * (_PREFIX_WIDTH + len(origin) + 3)
            continue
        if head is not None and line.startswith(indent):
            message.append(line[len(indent):])
            continue
        if head is not None:
            records.append(LogLine(*head, "\n".join(message)))
            head, message = None, []
    if head is not None:
        records.append(LogLine(*head, "\n".join(message)))
    return records
