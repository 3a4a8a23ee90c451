"""Re-export of headwater.sdk.file_upload (API-2)."""
from headwater.sdk.file_upload import *  # noqa: F401,F403
from headwater.sdk.file_upload import __all__  # noqa: F401
