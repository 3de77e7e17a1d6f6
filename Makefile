# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the demo needs orderflow alone; the tests need the dev extras (a superset)
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint typecheck pytest xstate mermaid clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/orderflow demo

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests examples bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The real XState 5, for the differential tests (needs node and npm); .ci/run calls this.
xstate: .cache/xstate/node_modules/xstate/package.json

.cache/xstate/node_modules/xstate/package.json:
	mkdir -p .cache/xstate
	cd .cache/xstate && npm install --no-audit --no-fund --silent xstate@5.33.3

# The real Mermaid and a headless-browser driver, for the diagram rendering tests
# (they also need Debian's chromium; .ci/run installs it).
mermaid: .cache/mermaid/node_modules/mermaid/package.json

.cache/mermaid/node_modules/mermaid/package.json:
	mkdir -p .cache/mermaid
	npm install --prefix .cache/mermaid --no-audit --no-fund --silent mermaid@11.17.2 playwright-core@1.65.1

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis
