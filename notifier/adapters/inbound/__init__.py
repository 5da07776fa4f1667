"""Inbound adapters: Lambda events (SQS, SNS, direct) -> domain requests."""
