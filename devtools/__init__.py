"""Developer tools, never shipped in the function's image (its stage copies only `notifier/`;
the Dockerfile's `tools` stage, which compose runs, adds this package).

- `cli` (`python -m devtools provision|serve|send`): provisioning, the SQS runner, a producer.
- `provision`, `runner/` (queue, events, invokers, poller): what those commands run.
- `run_local`: `make run`, the whole service on this machine without Docker.
- `localstack`, `moto`: start LocalStack (a host process, or a container when Docker answers)
  and moto's server for DynamoDB.
- `ses_outbox`: read the mail LocalStack's SES has "sent"; `mailview` prints it.
- `invoice`: the producers' sample message (tests/events/direct.json).
- `image_tree`, `dockerfile`, `execution_env`, `runtime_api`, `lambda_bootstrap`: the function's
  image without Docker (tests/image).
"""
