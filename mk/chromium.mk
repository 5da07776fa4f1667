# Debian's Chromium, for local tooling and tests only (never in the function's image): the mail
# viewer's browser tests drive it through Playwright (PyPI `playwright`, in the dev extras; its
# own browser download cannot be fetched here, so the tests launch /usr/bin/chromium), and
# `python -m devtools preview` screenshots a rendered template with it. Included by the
# Makefile; `init` and `test` depend on it.

CHROMIUM ?= /usr/bin/chromium

.PHONY: init.chromium

# Without root or apt it only says what is missing (the browser tests and preview's screenshot
# then skip); an apt-get that fails, fails the target.
init.chromium: ## Debian's chromium from apt (as root, when missing): browser tests, preview screenshots
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium (no recommends)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "not installed: $(CHROMIUM) - the browser tests and preview's screenshots will skip" \
			"(as root on Debian: make init.chromium)"; \
	fi
