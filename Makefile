# `make test` and `make demo` do all the set-up themselves on a fresh machine: a local virtualenv in
# .venv with the package and its dev extra, and Apache Kafka's jars (core/kafka_jars.lock.json) downloaded
# from Maven Central into ~/.cache/arb and checked against their pinned SHA-256. Java 17+ must be installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

.PHONY: install kafka test lint demo clean
install: $(STAMP)

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
