# Vigil: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DATA   ?= ../shared/data/fdh_simulated_transactions.csv.gz

.PHONY: demo test lint bench install install-dev services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/vigil demo --data $(DATA)

services:
	bash .ci/services

test: install-dev services
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check vigil tests benchmarks migrations
	$(BIN)/ruff format --check vigil tests benchmarks migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install-dev services
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/pipeline.py --postgres --redis
	$(BIN)/python benchmarks/graphql_queue.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
