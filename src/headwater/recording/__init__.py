"""Record a connector's HTTP exchanges once, then replay them offline, with faults if you like.

::

    from headwater.recording import FaultPlan, recording, replaying
    from headwater.runner import DebugRequest, run_debug

    with recording("recordings/orders", secrets=configuration):     # live: every exchange is saved
        run_debug(DebugRequest(project="my_connector"))

    with replaying("recordings/orders", secrets=configuration) as session:   # offline
        report = run_debug(DebugRequest(project="my_connector"))
    print(session.describe(succeeded=report.succeeded, error=report.error))

    with replaying("recordings/orders", faults=FaultPlan.parse("429:retry-after=0@3,timeout@5")) as session:
        ...

Every request made through ``requests`` is covered (``requests.get``, sessions, adapters with a
urllib3 ``Retry``), because the hook is ``requests.adapters.HTTPAdapter.send``. Secrets never reach
the recording folder (see :mod:`headwater.recording.redaction`). A replay answers from the recording
only: a request it does not hold raises :class:`ReplayMissError` naming it and the closest recorded
ones, and any other network connection raises :class:`ReplayNetworkError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from headwater.recording.cassette import Cassette, Exchange, RecordedResponse, RequestKey
from headwater.recording.errors import (
    FaultSpecError,
    RecordingError,
    ReplayError,
    ReplayLimitError,
    ReplayMissError,
    ReplayNetworkError,
)
from headwater.recording.faults import Fault, FaultEvent, FaultPlan
from headwater.recording.redaction import REDACTED, secret_values
from headwater.recording.transport import (
    Recorder,
    ReplaySession,
    Secrets,
    ServedExchange,
    network_blocked,
    patched_transport,
    virtual_sleep,
)

__all__ = [
    "REDACTED",
    "Cassette",
    "Exchange",
    "Fault",
    "FaultEvent",
    "FaultPlan",
    "FaultSpecError",
    "RecordedResponse",
    "Recorder",
    "RecordingError",
    "ReplayError",
    "ReplayLimitError",
    "ReplayMissError",
    "ReplayNetworkError",
    "ReplaySession",
    "RequestKey",
    "ServedExchange",
    "project_configuration",
    "recording",
    "replaying",
    "secret_values",
]


@contextmanager
def recording(folder: str | os.PathLike[str], *, secrets: Secrets) -> Iterator[Recorder]:
    """Record every HTTP exchange made through ``requests`` inside the block into ``folder``.

    Args:
        folder: the recording folder; created if needed. Recording again into it appends a run.
        secrets: the connector's configuration (its secret values are found with
            :func:`secret_values`) or the literal values to redact.
    """
    recorder = Recorder(folder, secrets)
    try:
        with patched_transport(recorder):
            yield recorder
    finally:
        recorder.close()


@contextmanager
def replaying(
    folder: str | os.PathLike[str] | Cassette,
    *,
    faults: FaultPlan | str | None = None,
    secrets: Secrets = (),
    max_requests: int | None = None,
    block_network: bool = True,
) -> Iterator[ReplaySession]:
    """Answer every ``requests`` call inside the block from the recording in ``folder``; no network.

    Args:
        folder: a recording folder (or an already loaded :class:`Cassette`).
        faults: a :class:`FaultPlan` or its text form (``"429:retry-after=0@3,timeout@7"``).
        secrets: the configuration used now; only needed when a secret sits in a URL path or a
            parameter whose name does not say it is secret (the recording redacted it by value).
        max_requests: stop the connector with :class:`ReplayLimitError` past this many requests
            (default: 5 times the recorded exchanges, at least 100): a loop guard for paginators.
        block_network: make any other IPv4/IPv6 connection fail with :class:`ReplayNetworkError`.
    """
    cassette = folder if isinstance(folder, Cassette) else Cassette.load(folder)
    plan = FaultPlan.parse(faults) if isinstance(faults, str) else faults
    session = ReplaySession(cassette, faults=plan, secrets=secrets, max_requests=max_requests)
    with ExitStack() as stack:
        stack.enter_context(patched_transport(session))
        if block_network:
            stack.enter_context(network_blocked())
        if session.virtual:
            stack.enter_context(virtual_sleep(session))
        yield session


def project_configuration(
    project: str | os.PathLike[str] | None,
    *,
    configuration_file: str | None = None,
    environ: Any = None,
) -> dict[str, str]:
    """The configuration ``headwater debug`` would use for ``project`` (same precedence:
    ``configuration_file``, ``$FIVETRAN_CONFIGURATION``, ``configuration.json``), for ``secrets=``.

    Returns ``{}`` when it cannot be read: the sync itself then reports the problem.
    """
    from headwater.errors import HeadwaterError
    from headwater.project import resolve_inputs

    try:
        inputs = resolve_inputs(Path(project) if project is not None else None,
                                configuration_file=configuration_file, environ=environ)
    except HeadwaterError:
        return {}
    return dict(inputs.configuration)
