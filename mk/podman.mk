# The function's image built and run with podman, on a machine with no Docker engine and no
# container registry (this one, and CI). Included by the Makefile; README.md "The image without
# a Docker engine" says how to use it.
#
# Rootful podman from Debian, configured by two files of our own under .podman/ that podman reads
# through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF: nothing under /etc/containers is written,
# and the images live in .podman/storage, not in the machine's /var/lib/containers. The AWS base
# image cannot be pulled, so a stand-in is built from Debian packages and this machine's Python
# 3.12 (mk/podman/build-standin.sh) and the Dockerfile is built on it with BASE_IMAGE.

PODMAN_DIR := $(CURDIR)/.podman
PODMAN_CONF := $(PODMAN_DIR)/containers.conf
PODMAN_STORAGE_CONF := $(PODMAN_DIR)/storage.conf
PODMAN_ENV := CONTAINERS_CONF=$(PODMAN_CONF) CONTAINERS_STORAGE_CONF=$(PODMAN_STORAGE_CONF)
PODMAN := $(PODMAN_ENV) podman
# podman runs containers with runc; debootstrap builds the stand-in's root file system.
PODMAN_DEBS := podman runc debootstrap
STANDIN_IMAGE := localhost/lambda-python-standin:3.12
PODMAN_IMAGE ?= notifier:podman
PODMAN_TOOLS_IMAGE ?= notifier-tools:podman
PODMAN_BUILD := $(PODMAN) build --network host --pull=never --build-arg BASE_IMAGE=$(STANDIN_IMAGE)

.PHONY: init.podman podman.config image.standin image.build clean.podman

# default_ulimits is the one setting podman cannot run without here: its rootful default raises
# nofile above this machine's hard limit (20000) and runc refuses to start any container ("error
# setting rlimit type 7: operation not permitted"). runc (Debian's podman prefers crun, not
# installed), cgroupfs (no systemd here) and the file events log (no journal) are what podman
# falls back to anyway; stated so no fallback changes under us. netns "host": containers share
# the host's network (servers listen on 127.0.0.1 only), so no CNI network is ever set up.
define PODMAN_CONF_TEXT
# Written by mk/podman.mk (make init.podman); podman reads it through CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$(PODMAN_DIR)/events.log"
tmp_dir = "$(PODMAN_DIR)/tmp"
endef

define PODMAN_STORAGE_CONF_TEXT
# Written by mk/podman.mk (make init.podman); podman reads it through CONTAINERS_STORAGE_CONF.
[storage]
driver = "overlay"
graphroot = "$(PODMAN_DIR)/storage"
runroot = "$(PODMAN_DIR)/run"
endef

$(PODMAN_DIR):
	mkdir -p $@

$(PODMAN_CONF): mk/podman.mk | $(PODMAN_DIR)
	$(file >$@,$(PODMAN_CONF_TEXT))
	@echo "wrote $@"

$(PODMAN_STORAGE_CONF): mk/podman.mk | $(PODMAN_DIR)
	$(file >$@,$(PODMAN_STORAGE_CONF_TEXT))
	@echo "wrote $@"

podman.config: $(PODMAN_CONF) $(PODMAN_STORAGE_CONF) ## write .podman/containers.conf and storage.conf (make test does)

# Without root or apt it only says what is missing (the podman tests then skip); an apt-get that
# fails, fails the target.
init.podman: podman.config ## podman, runc, debootstrap from apt (as root, when missing) and podman.config
	@missing=$$(for command in $(PODMAN_DEBS); do \
		command -v $$command >/dev/null || echo $$command; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's $(PODMAN_DEBS) (no recommends)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(PODMAN_DEBS) >/dev/null; \
	else \
		echo "not installed:" $$missing "- the podman image tests will skip" \
			"(as root on Debian: make init.podman)"; \
	fi

image.standin: init.podman ## build localhost/lambda-python-standin:3.12 (root; a no-op when up to date)
	$(PODMAN_ENV) PYTHON=$(PYTHON) mk/podman/build-standin.sh

image.build: image.standin ## podman build the Dockerfile on the stand-in: notifier:podman, notifier-tools:podman
	$(PODMAN_BUILD) --target function --tag $(PODMAN_IMAGE) .
	$(PODMAN_BUILD) --target tools --tag $(PODMAN_TOOLS_IMAGE) .

clean.podman: ## remove .podman/: every podman image and container of this checkout
	if [ -f $(PODMAN_CONF) ] && command -v podman >/dev/null; then $(PODMAN) system reset --force; fi
	rm -rf $(PODMAN_DIR)
