# `make soak`: the reconciliation soak (tests/soak, docs/security.md). SOAK_MESSAGES messages,
# 10 % invalid, 5 % duplicates, 20 % of SES calls throttled, through SQS -> `serve` -> handler ->
# SES on a LocalStack and a moto it starts; prints where every message went and the runner's
# memory, and fails unless lost = 0, sent twice = 0. Not part of `make test`, which runs the
# 200-message version (tests/e2e/test_soak.py). About 3.5 minutes for 5,000 on 2 CPUs.
SOAK_MESSAGES ?= 5000
SOAK_ARGS ?=

.PHONY: soak soak.quota

soak: $(STAMP) init.localstack ## reconciliation soak: 5,000 messages through a throttled SES; prints the account
	$(BIN)/python -m tests.soak --messages $(SOAK_MESSAGES) $(SOAK_ARGS)

# `make soak.quota`: the fair-share soak (issue 14; tests/soak/quota.py). Producer A floods
# QUOTA_BULK bulk messages (10 % through the transactional queue), producer B sends
# QUOTA_TRANSACTIONAL at 2 a second; SES takes 14 recipients a second; two runners on the
# transactional queue, one on the bulk queue, limits "campaigns=10/s; *=4/s". Fails unless
# nothing is lost, sent twice or dead-lettered, B's p95 enqueue-to-SES <= 5 s and A stays
# within its limit in every 1, 10 and 60 s window. About 9 minutes (A's 5,000 at 10 a second).
# A shortened version is tests/e2e/test_quota_soak.py.
QUOTA_BULK ?= 5000
QUOTA_TRANSACTIONAL ?= 200
QUOTA_ARGS ?=

soak.quota: $(STAMP) init.localstack ## fair-share soak: a bulk flood and a steady producer through SES at 14/s; prints latency and rates
	$(BIN)/python -m tests.soak quota --bulk $(QUOTA_BULK) --transactional $(QUOTA_TRANSACTIONAL) $(QUOTA_ARGS)
