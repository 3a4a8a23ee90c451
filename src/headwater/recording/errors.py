"""The errors of recording and replaying HTTP exchanges.

::

    HeadwaterError
    ├── FaultSpecError(ValueError)      a fault plan specification that does not parse
    └── RecordingError                  a recording folder cannot be written or read
        └── ReplayError                 a replay cannot answer the connector
            ├── ReplayMissError         a request the recording does not hold
            ├── ReplayLimitError        the connector kept requesting (a pagination loop?)
            └── ReplayNetworkError      a network connection opened during a replay

They subclass :class:`~headwater.errors.HeadwaterError`, not ``requests.RequestException``: a
connector that retries on request errors must not retry a replay miss forever.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.errors import HeadwaterError

__all__ = [
    "FaultSpecError",
    "RecordingError",
    "ReplayError",
    "ReplayLimitError",
    "ReplayMissError",
    "ReplayNetworkError",
]


class RecordingError(HeadwaterError):
    """The recording folder is missing, unreadable, of another format, or already in use."""


class ReplayError(RecordingError):
    """A replay cannot answer what the connector asked."""


class ReplayMissError(ReplayError):
    """The connector made a request the recording does not hold (or holds fewer times).

    ``method`` and ``url`` name the request (secrets redacted); ``closest`` lists the most similar
    recorded requests, best first.
    """

    def __init__(self, method: str, url: str, *, folder: str, closest: Sequence[str] = (),
                 exhausted: int = 0, body: str | None = None) -> None:
        self.method = method
        self.url = url
        self.closest = tuple(closest)
        self.exhausted = exhausted
        if exhausted:
            what = (f"{method} {url} was recorded {exhausted} time{'s' if exhausted != 1 else ''} and "
                    f"every recorded answer has been replayed already")
        else:
            what = f"{method} {url} is not in the recording {folder}"
            if body is not None:
                what += f" (request body {body})"
        hint = ("; closest recorded: " + "; ".join(self.closest)) if self.closest and not exhausted else ""
        super().__init__(
            f"replay miss: {what}{hint}. A replay answers only the requests recorded: record again with "
            "`headwater debug --record DIR` (from the same state), or make the request deterministic "
            "(no current time or random values in URLs and bodies)"
        )


class ReplayLimitError(ReplayError):
    """The connector made far more requests than the recording holds; the replay stopped it."""


class ReplayNetworkError(ReplayError):
    """Code opened a network connection during a replay (only ``requests`` is replayed)."""


class FaultSpecError(HeadwaterError, ValueError):
    """A ``--faults`` specification that cannot be parsed."""
