# Two commands set up a machine: `make up` runs the stack, `make test` runs what CI runs.
# DATABASE_URL / REDIS_URL name existing servers; unset, embedded ones are started in .local/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: up test bench system-deps clean

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

up: $(VENV)/.installed
	$(PY) -m deploy.run up

test: $(VENV)/.installed system-deps
	$(PY) -m deploy.run test

# Headless Chromium (docs test) and wrk (benchmarks) come from Debian's packages.
system-deps:
	@bash deploy/system-deps.sh

bench: $(VENV)/.installed system-deps
	$(PY) -m deploy.run bench

clean:
	rm -rf .local
