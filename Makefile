# oscbench developer targets. Every target creates .venv (python3 -m venv) and installs into it,
# so they work on a fresh machine where the system pip refuses global installs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: quickstart test lint install speed cpp-side-by-side clean

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

## The authors' C++ and oscbench side by side on core 0 (not CI): make cpp-side-by-side CPP_SRC=/path/to/checkout
cpp-side-by-side: install
	@test -n "$(CPP_SRC)" || { echo "error: set CPP_SRC to a checkout of the authors' C++ (docs/performance.md)"; exit 2; }
	$(BIN)/python tools/cpp_side_by_side.py --cpp-src "$(CPP_SRC)"

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
