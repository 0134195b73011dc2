# The two commands of the README, and what they stand on.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: lab test lint setup test-deps screenshots bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed

lab: setup                ## open the TUI against a fresh rehearsal lab
	$(VENV)/bin/runbook-tui --lab

test-deps:                ## Debian packages the tests use (real HAProxy, sshd, ss, socat)
	scripts/install-test-deps

lint: setup               ## import layers, ruff, mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check runbook_tui tests bench
	$(VENV)/bin/mypy runbook_tui

test: setup test-deps lint  ## the whole test suite
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

screenshots: setup        ## regenerate screenshots/*.svg
	$(PY) -m runbook_tui.tui.screenshots

bench: setup              ## print the benchmark figures
	$(PY) bench/engine_overhead.py
	$(PY) bench/ssh_roundtrip.py
	$(PY) bench/tui_flood.py
	$(PY) bench/seed_oneliners.py
	$(PY) bench/parallel_checks.py
	$(PY) bench/journal_listing.py
	$(PY) bench/startup.py
