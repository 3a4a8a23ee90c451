"""headwater's implementation of the Connector SDK surface, importable as ``fivetran_connector_sdk``.

Installed with headwater so that ``python connector.py`` runs ``connector.debug()`` through headwater
(API-3). Installing Fivetran's own package in the same environment is unsupported: both own this name.
"""

from headwater._sdk_package import (
    ByteStream,
    ConfigurationForm,
    FileUpload,
    Logging,
    Operations,
    Test,
    form_field,
)
from headwater._sdk_package import Connector as Connector  # importable by name, not in __all__ (API-10)
from headwater._sdk_package import __version__ as __version__

__all__ = ["ByteStream", "ConfigurationForm", "FileUpload", "Logging", "Operations", "Test", "form_field"]
