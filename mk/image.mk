# The image tests (tests/image): the function's tree built as the Dockerfile builds it, run by the
# real runtime interface client with no Docker engine (DEVELOPERS.md, "The image without Docker").
# Included by the Makefile; `make test` runs them with every other test.
#
# The runtime interface client is what the AWS base image provides in /var/runtime; its pins and
# hashes live in their own lock file, written by the same uv as `make lock` (mk/docker.mk).
RUNTIME_LOCK := requirements/lambda-runtime.txt

.PHONY: tests.image lock.runtime

tests.image: $(STAMP) init.localstack ## the image tests: the tree the Dockerfile builds, run from itself alone
	$(BIN)/pytest tests/image

# The uv venv's stamp is made in the recipe: mk/docker.mk, which names it, may be read after this.
lock.runtime: ## regenerate requirements/lambda-runtime.txt (awslambdaric, pinned in its .in file)
	@$(MAKE) --silent --no-print-directory $(DOCKER_TOOLS_STAMP)
	$(DOCKER_TOOLS_VENV)/bin/uv pip compile $(RUNTIME_LOCK:.txt=.in) --quiet --generate-hashes \
		--universal --python-version 3.12 --custom-compile-command 'make lock.runtime' \
		--output-file $(RUNTIME_LOCK)
