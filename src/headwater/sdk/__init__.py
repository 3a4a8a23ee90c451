"""The parts of the Connector SDK surface that headwater v1 accepts but does not use (API-35, API-50).

Setup forms, setup tests and file uploads can be built, so connectors that define them load and
run under ``headwater debug``; headwater never calls ``configuration_form()`` and rejects ``file=``.
"""
