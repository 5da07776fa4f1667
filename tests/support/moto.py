"""moto's server for the tests' DynamoDB: the launcher lives in devtools (`make run` uses it
too); see devtools/moto.py."""

from devtools.moto import MotoError, MotoServer, start_moto

__all__ = ["MotoError", "MotoServer", "start_moto"]
