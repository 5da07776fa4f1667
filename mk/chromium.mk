# Debian's Chromium, the browser the browser tests drive through Playwright (PyPI `playwright`,
# in the dev extras). Playwright's own browser download cannot be fetched here, so the tests
# launch /usr/bin/chromium. Included by the Makefile; `init` and `test` depend on it.

CHROMIUM := /usr/bin/chromium

.PHONY: init.chromium

init.chromium: ## Debian's chromium from apt (as root, when /usr/bin/chromium is missing)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium (no recommends)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "not installed: $(CHROMIUM) - the browser tests will skip" \
			"(as root on Debian: make init.chromium)"; \
	fi
