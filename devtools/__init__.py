"""Developer tools, never shipped in the image (the Dockerfile copies only `notifier/`).

- `run_local`: `make run`, the whole service on this machine without Docker.
- `localstack`: start LocalStack (a host process, or a container when Docker answers).
- `ses_outbox`: read the mail LocalStack's SES has "sent"; `mailview` prints it.
"""
