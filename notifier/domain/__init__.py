"""The pure core: value objects, validation, MIME composition, ports and errors.

Imports only the standard library and attrs (tests/unit/test_architecture.py checks it).
"""
