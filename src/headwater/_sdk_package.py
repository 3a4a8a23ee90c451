"""What ``import fivetran_connector_sdk`` gives a connector under headwater (API-2, API-10)."""

from headwater import __version__ as __version__
from headwater.connector import Connector as Connector
from headwater.log import Logging
from headwater.operations import Operations
from headwater.sdk import configuration_form, file_upload, form_field, test
from headwater.sdk.configuration_form import ConfigurationForm
from headwater.sdk.file_upload import ByteStream, FileUpload
from headwater.sdk.test import Test

__all__ = ["ByteStream", "ConfigurationForm", "FileUpload", "Logging", "Operations", "Test", "form_field"]
__path__: list[str] = []  # a package, so `import fivetran_connector_sdk.form_field` resolves

_ = (configuration_form, file_upload, test)
