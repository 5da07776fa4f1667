# `make bench`: notifier's five figures (cold start, per-message cost, batch concurrency,
# throughput, memory ceiling) beside baselines measured in the same run, written to
# bench/RESULTS.md; `make bench.profile` writes the profiles behind them to bench/PROFILE.md.
# docs/performance.md says how to read both. Neither is part of `make test`.
#
# The bench has a venv of its own, .venv-bench: the Lambda image's pinned runtime packages
# (requirements/lambda.txt, so the figures are for what production runs), then the baselines'
# and the profiler's packages (bench/requirements.txt), then notifier itself. LocalStack runs
# from .venv-localstack (mk/localstack.mk), as for the integration tests.

BENCH_PYTHON ?= python3.12
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: init.bench bench bench.quick bench.profile

$(BENCH_STAMP): requirements/lambda.txt bench/requirements.txt pyproject.toml mk/bench.mk
	rm -rf $(BENCH_VENV)
	$(BENCH_PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/lambda.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet -e .
	touch $@

init.bench: $(BENCH_STAMP) ## create .venv-bench (Python 3.12) for make bench

bench: $(BENCH_STAMP) init.localstack ## measure the five figures against their baselines -> bench/RESULTS.md (a few minutes)
	$(BENCH_VENV)/bin/python -m bench.run

bench.quick: $(BENCH_STAMP) init.localstack ## make bench with fewer repetitions (noisier), to try the harness
	$(BENCH_VENV)/bin/python -m bench.run --quick

bench.profile: $(BENCH_STAMP) init.localstack ## -X importtime, pyinstrument and memory profiles behind the figures -> bench/PROFILE.md
	$(BENCH_VENV)/bin/python -m bench.profile
