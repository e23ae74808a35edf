# Two commands matter: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test deps lint typecheck bench train clean

run: deps  ## install what is missing, then start the whole system on the embedded default
	$(BIN)/sirekap run

test: deps  ## the whole suite: unit and integration (PostgreSQL, S3 server, Chromium)
	./scripts/ensure-postgres.sh
	$(BIN)/pytest

deps: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	./scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/python -m shared.forms.mnist fetch
	$(BIN)/python -m shared.forms.mnist_wide fetch
	touch $(STAMP)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy shared services clients sirekap benchmarks standins tests

bench: deps  ## the benchmarks (slow; not part of `make test`)
	$(BIN)/python -m benchmarks.ingest --backend embedded
	$(BIN)/python -m benchmarks.ingest --backend postgres-s3
	$(BIN)/python -m benchmarks.ocr_queue
	$(BIN)/python -m benchmarks.tally_metrics

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
