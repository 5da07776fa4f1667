# LocalStack for the integration tests runs as a host process from its own venv when there is no
# Docker engine (DEVELOPERS.md says how and why). Included by the Makefile.
LOCALSTACK_PYTHON ?= python3.13
LOCALSTACK_VENV := .venv-localstack
LOCALSTACK_STAMP := $(LOCALSTACK_VENV)/.installed
# localstack-core 2026.3.0 runs on Python 3.13; the four upper bounds keep pip from picking
# releases of its dependencies that this LocalStack version does not start with.
LOCALSTACK_PACKAGES := 'localstack-core[runtime]==2026.3.0' 'cbor2<6' 'cryptography<45' \
	'pyopenssl<25' 'service_identity<25'

.PHONY: init.localstack

init.localstack: $(LOCALSTACK_STAMP) ## create .venv-localstack (Python 3.13) for the integration tests

$(LOCALSTACK_STAMP): mk/localstack.mk
	$(LOCALSTACK_PYTHON) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/python -m pip install --quiet $(LOCALSTACK_PACKAGES)
	touch $@
