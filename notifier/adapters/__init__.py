"""Adapters: translate between the outside world (events, AWS APIs) and the domain."""
