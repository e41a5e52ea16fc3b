# Vigil: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DATA   ?= ../shared/data/fdh_simulated_transactions.csv.gz

.PHONY: demo test lint bench install install-dev services clean graphiql

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed graphiql

install-dev: $(VENV)/.installed-dev graphiql

# GraphiQL's scripts and styles from the npm registry into a git-ignored static folder, so the
# page at /graphql loads nothing from a CDN. Without npm or the registry it says so and goes on:
# the API works without its explorer.
GRAPHIQL_DIR = vigil/web/static/graphiql
GRAPHIQL_NPM = graphiql@3.8.3 react@18.3.1 react-dom@18.3.1
GRAPHIQL_FILES = react/umd/react.production.min.js react-dom/umd/react-dom.production.min.js \
                 graphiql/graphiql.min.js graphiql/graphiql.min.css

graphiql: $(GRAPHIQL_DIR)/.graphiql-3.8.3

$(GRAPHIQL_DIR)/.graphiql-3.8.3:
	@tmp=$$(mktemp -d); \
	if command -v npm >/dev/null && npm install --silent --no-save --no-audit --no-fund --fetch-retries=1 \
	    --no-package-lock --prefix $$tmp $(GRAPHIQL_NPM); then \
	  mkdir -p $(GRAPHIQL_DIR) && \
	  for f in $(GRAPHIQL_FILES); do cp $$tmp/node_modules/$$f $(GRAPHIQL_DIR)/; done && \
	  cp $$tmp/node_modules/graphiql/LICENSE $(GRAPHIQL_DIR)/LICENSE-graphiql && \
	  cp $$tmp/node_modules/react/LICENSE $(GRAPHIQL_DIR)/LICENSE-react && \
	  touch $@; \
	else echo "GraphiQL not installed (needs npm and its registry); the API works without it"; fi; \
	rm -rf $$tmp

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
	$(BIN)/python benchmarks/onnx_scoring.py
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/window_store.py
	$(BIN)/python benchmarks/graphql_queue.py
	$(BIN)/python benchmarks/relay.py
	$(BIN)/python benchmarks/rules.py
	$(BIN)/python benchmarks/ingest_nats.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
