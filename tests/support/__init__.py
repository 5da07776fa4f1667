"""Helpers the test tiers share: LocalStack start-up and the SES outbox reader."""
