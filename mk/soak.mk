# `make soak`: the reconciliation soak (tests/soak, docs/security.md). SOAK_MESSAGES messages,
# 10 % invalid, 5 % duplicates, 20 % of SES calls throttled, through SQS -> `serve` -> handler ->
# SES on a LocalStack and a moto it starts; prints where every message went and the runner's
# memory, and fails unless lost = 0, sent twice = 0. Not part of `make test`, which runs the
# 200-message version (tests/e2e/test_soak.py). About 3.5 minutes for 5,000 on 2 CPUs.
SOAK_MESSAGES ?= 5000
SOAK_ARGS ?=

.PHONY: soak

soak: $(STAMP) init.localstack ## reconciliation soak: 5,000 messages through a throttled SES; prints the account
	$(BIN)/python -m tests.soak --messages $(SOAK_MESSAGES) $(SOAK_ARGS)
