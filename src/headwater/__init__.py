"""headwater: run and build Fivetran-SDK-style connectors, locally and fast.

The connector-author surface::

    from headwater import Connector, Operations as op, Logging as log

    def update(configuration, state):
        op.upsert("hello", {"message": "hello, world!"})
        op.checkpoint(state)

    connector = Connector(update=update)

Running a sync from Python (the engine as a library)::

    import headwater

    result = headwater.sync("path/to/project", on_event=print)
"""

from headwater._version import __version__
from headwater.api import sync
from headwater.connector import Connector
from headwater.log import Logging
from headwater.operations import Operations
from headwater.sdk.configuration_form import ConfigurationForm
from headwater.sdk.file_upload import ByteStream, FileUpload
from headwater.sdk.test import Test

__all__ = [
    "ByteStream",
    "ConfigurationForm",
    "Connector",
    "FileUpload",
    "Logging",
    "Operations",
    "Test",
    "__version__",
    "sync",
]
