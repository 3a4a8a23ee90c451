"""headwater's implementation of the Connector SDK surface, importable as ``fivetran_connector_sdk``.

Installed with headwater so that ``python connector.py`` runs ``connector.debug()`` through headwater
(API-3). Installing Fivetran's own package in the same environment is unsupported: both own this name.
"""

from headwater._sdk_package import (  # noqa: F401
    ByteStream,
    ConfigurationForm,
    Connector,
    FileUpload,
    Logging,
    Operations,
    Test,
    __version__,
    form_field,
)

__all__ = ["ByteStream", "ConfigurationForm", "FileUpload", "Logging", "Operations", "Test", "form_field"]
