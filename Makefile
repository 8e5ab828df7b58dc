# Two commands set up a machine: `make up` runs the stack, `make test` runs what CI runs.
# DATABASE_URL / REDIS_URL name existing servers; unset, embedded ones are started in .local/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: up test bench system-deps clean

# Runtime requirements only (no linters), pinned with hashes; `make test` adds the development ones.
$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

up: $(VENV)/.installed
	$(PY) -m deploy.run up

test: $(VENV)/.installed-dev system-deps
	$(PY) -m deploy.run test

# Headless Chromium (docs test) and wrk (benchmarks) come from Debian's packages.
system-deps:
	@bash deploy/system-deps.sh

bench: $(VENV)/.installed-dev system-deps
	$(PY) -m deploy.run bench

clean:
	rm -rf .local
