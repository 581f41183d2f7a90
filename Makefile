# oscbench developer targets. Every target creates .venv (python3 -m venv) and installs into it,
# so they work on a fresh machine where the system pip refuses global installs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: quickstart test lint install speed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed

## The main job on the embedded default (trace patterning; no download).
quickstart: install
	$(BIN)/oscbench quickstart --out $(OUT)

## Set up, lint and run the whole test suite (first installs Debian chromium for the browser test, if root and missing).
test: install lint
	sh tests/ensure_chromium.sh
	$(BIN)/python -m pytest -q

## ruff, mypy and the import-linter contracts of .importlinter (the parts depend downward only).
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Steps per CPU-second of the streams and the reference learners.
speed: install
	$(BIN)/oscbench speed

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
