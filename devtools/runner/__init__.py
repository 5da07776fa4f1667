"""`python -m devtools serve`: Lambda's SQS event source mapping, run on this machine.

Long-polls the email queue, hands each batch to the handler as the exact Lambda SQS event (in
this process, or over HTTP to the Lambda Runtime Interface Emulator), then deletes the messages
the handler did not name in `batchItemFailures`. The others are left to the visibility timeout,
so a message that keeps failing moves to the dead-letter queue after maxReceiveCount receives,
as in AWS. If the invocation itself fails, nothing is deleted and the whole batch comes back.

- `queue`: the `Queue` port and `SqsQueue`;
- `events`: ReceiveMessage messages -> Lambda's SQS event; `batchItemFailures` -> failed ids;
- `invokers`: the `Function` port, `InProcessFunction` and `HttpFunction`;
- `poller`: `Runner`, one batch at a time, and `StopFlag` for signals.
"""
