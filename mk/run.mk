# `make run`: the service on this machine with no Docker and no AWS account (README.md "Set up,
# run, test"). LocalStack runs as a host process from .venv-localstack on 127.0.0.1:4566;
# LOCALSTACK_PORT moves it, RUN_ARGS=--once stops after the two sample emails.
RUN_ARGS ?=

.PHONY: run

run: $(STAMP) init.localstack ## LocalStack + provision + SQS runner on this host; sends and shows two sample emails; Ctrl-C stops
	$(BIN)/python -m devtools.run_local $(RUN_ARGS)
