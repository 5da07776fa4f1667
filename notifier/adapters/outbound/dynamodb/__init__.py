"""State on DynamoDB: idempotency records, the suppression list, transient-bounce counts and
producers' token buckets.

One table (NOTIFIER_STATE_TABLE), its key schema in `state_table.py` (partition key `pk` (S),
no sort key, TTL on `ttl`); items are told apart by the prefix of `pk`:

| pk                      | other attributes                                                |
| ----------------------- | --------------------------------------------------------------- |
| `IDEMPOTENCY#<key>`     | status, payload_hash, expires_at (N), ses_message_id, ttl (N)   |
| `SUPPRESSION#<address>` | reason, feedback_type, feedback_sub_type, feedback_id, timestamp |
| `BOUNCES#<address>`     | at (L of N: transient bounce times), version (N), ttl (N)       |
| `LIMIT#<producer>`      | tokens (N), at (N), day, day_count (N), version (N), ttl (N)    |

Addresses in keys are lower-case. `ttl` (whole epoch seconds) only lets DynamoDB's TTL sweep
delete dead items, which can take up to 48 hours; every decision about expiry is made in code,
from `expires_at` or `at`. Empty suppression attributes are not written.

Every botocore failure becomes `DependencyUnavailable` (transient): the message is retried, never
dropped. Throttling, 5xx and connection errors have already been through botocore's standard
retries (bootstrap builds the client with them). Anything else (a missing table, access denied,
a validation error) will not heal by itself, so it is also logged at error level with its code:
the messages wait in the queue, then in the dead-letter queue, until an operator fixes it.
"""

from notifier.adapters.outbound.dynamodb.idempotency import DynamoDbIdempotencyStore
from notifier.adapters.outbound.dynamodb.limits import DynamoDbLimitStore
from notifier.adapters.outbound.dynamodb.suppression import DynamoDbSuppressionList

__all__ = ["DynamoDbIdempotencyStore", "DynamoDbLimitStore", "DynamoDbSuppressionList"]
