# Headless Chromium from Debian's packages, for local tooling only (never in the function's
# image): `python -m devtools preview` screenshots a rendered template with it, and browser tests
# may drive it. Included by the Makefile; `make init` depends on init.chromium.

CHROMIUM ?= /usr/bin/chromium

.PHONY: init.chromium

# Without root or apt it only says what is missing (preview's screenshot, and its test, then
# cannot run); an apt-get that fails, fails the target.
init.chromium: ## Debian's chromium from apt (as root, when missing): headless screenshots for preview
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium (no recommends)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "not installed: $(CHROMIUM) - preview cannot take screenshots" \
			"(as root on Debian: make init.chromium)"; \
	fi
