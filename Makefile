# notifier: every developer task is a target here; README.md "Make targets" lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help init test tests.unit tests.contract tests.integration tests.e2e lint lint.python format invoke.local clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

init: $(STAMP) init.localstack init.podman init.chromium ## create .venv (Python 3.12), the test-only LocalStack environment and (as root) podman and chromium

test: $(STAMP) init.localstack podman.config ## unit, integration, e2e, podman image (and container, with Docker) tests: the README's test command
	$(BIN)/pytest tests

tests.unit: $(STAMP) ## unit tests only (no LocalStack)
	$(BIN)/pytest tests/unit

tests.contract: $(STAMP) ## the state ports' contract, run on the fakes and on the DynamoDB adapters (moto)
	$(BIN)/pytest tests/contract

tests.integration: $(STAMP) init.localstack ## integration tests against LocalStack
	$(BIN)/pytest tests/integration

tests.e2e: $(STAMP) init.localstack ## end-to-end: SQS/SNS -> runner -> handler -> SES on LocalStack
	$(BIN)/pytest tests/e2e

lint: lint.python lint.template lint.docker ## every check: Python, SAM template, Dockerfile and compose file

lint.python: $(STAMP) ## ruff format check, ruff lint, mypy strict on notifier/
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

EVENT ?= tests/events/direct.json
invoke.local: $(STAMP) ## call the handler with EVENT (default: the seed's direct event, fake-free: needs AWS_ENDPOINT_URL)
	$(BIN)/python -m notifier invoke --event $(EVENT)

clean: ## remove virtual environments and caches
	rm -rf $(VENV) .venv-* .mypy_cache .pytest_cache .ruff_cache .hypothesis

include $(wildcard mk/*.mk)
