# `make test` and `make demo` do all the set-up themselves on a fresh machine: a local virtualenv in
# .venv with the package and its dev extra, and Apache Kafka's jars (localkafka/kafka_jars.lock.json) downloaded
# from Maven Central into ~/.cache/arb and checked against their pinned SHA-256. Java 17+ must be installed.
# Python dependencies come only from requirements-dev.lock (every package pinned, with its SHA-256); the
# Docker image installs requirements.lock (the same pins, without the dev extra). `make lock` regenerates
# both from pyproject.toml, keeping the current pins unless pyproject.toml needs others.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# --no-deps: the lock is the whole set (pip check proves it), and pip < 23.3 refuses extras of
# dependencies (httpx[http2]) in hash mode. The project itself is built with the locked setuptools.
$(STAMP): pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

.PHONY: install kafka test lint demo clean lock
install: $(STAMP)

# Regenerate the locks for CPython 3.11 on Linux x86_64 (hashes of every file of each pinned release).
# `make lock UPGRADE=--upgrade` moves every pin to the newest release pyproject.toml allows. setuptools
# (pyproject's build backend) is locked too: the project is then built without fetching anything.
LOCK_TOOLS := $(HOME)/.cache/arb/lock-tools
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --annotation-style line --custom-compile-command 'make lock'
lock:
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install -q --disable-pip-version-check uv
	echo 'setuptools>=68' | $(LOCK_TOOLS)/bin/uv pip compile pyproject.toml - --extra dev $(LOCK_FLAGS) $(UPGRADE) -o requirements-dev.lock
	echo 'setuptools>=68' | $(LOCK_TOOLS)/bin/uv pip compile pyproject.toml - $(LOCK_FLAGS) -c requirements-dev.lock -o requirements.lock

kafka: $(STAMP)
	$(BIN)/arb broker --install-only

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint kafka
	$(BIN)/pytest

demo: kafka
	$(BIN)/arb demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
