# Template checks. cfn-lint, the SAM CLI and checkov pin clashing versions of
# the same libraries, so each gets a virtualenv of its own. The stamp file names
# the pinned version: bumping a pin reinstalls that tool and only that tool.

PYTHON ?= python3.12
SAM_TEMPLATE := template.yaml

CFN_LINT_VERSION := 1.58.0
SAM_CLI_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30

CFN_STAMP := .venv-cfn/.installed-$(CFN_LINT_VERSION)
SAM_STAMP := .venv-sam/.installed-$(SAM_CLI_VERSION)
CHECKOV_STAMP := .venv-checkov/.installed-$(CHECKOV_VERSION)

# The checks run offline and need no AWS credentials: no telemetry, and checkov
# neither fetches its guideline mapping nor looks for a newer release of itself.
TEMPLATE_ENV := SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE

.PHONY: init.deploy lint.template

# $(call tool_venv,DIR,REQUIREMENT)
define tool_venv
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet '$(2)'
	touch $@
endef

$(CFN_STAMP):
	$(call tool_venv,.venv-cfn,cfn-lint==$(CFN_LINT_VERSION))

$(SAM_STAMP):
	$(call tool_venv,.venv-sam,aws-sam-cli==$(SAM_CLI_VERSION))

$(CHECKOV_STAMP):
	$(call tool_venv,.venv-checkov,checkov==$(CHECKOV_VERSION))

init.deploy: $(CFN_STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) ## install cfn-lint, SAM CLI, checkov (one venv each)

lint.template: init.deploy ## cfn-lint, sam validate --lint and checkov on template.yaml
	$(TEMPLATE_ENV) .venv-cfn/bin/cfn-lint $(SAM_TEMPLATE)
	$(TEMPLATE_ENV) .venv-sam/bin/sam validate --lint --region us-east-1 -t $(SAM_TEMPLATE)
	$(TEMPLATE_ENV) .venv-checkov/bin/checkov -f $(SAM_TEMPLATE) --quiet --compact --skip-download
