"""The rule families; importing this package registers every rule (see :mod:`headwater.lint.registry`).

Ids are grouped by family: HW00x structure, HW01x operations, HW02x logging, HW03x schema,
HW04x configuration.json, HW05x credentials, HW06x HTTP, HW07x exceptions, HW08x state,
HW09x requirements.txt.
"""

from headwater.lint.rules import (
    config_files,
    credentials,
    errors,
    http,
    logging,
    operations,
    requirements,
    schema,
    state,
    structure,
)

__all__ = ["config_files", "credentials", "errors", "http", "logging", "operations", "requirements", "schema",
           "state", "structure"]
