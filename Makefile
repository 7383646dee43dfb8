# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
JOURNAL ?= journal.db

.PHONY: run test lint pytest bench fuzz clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

## run: paper-trade the bundled real daily bars into ./journal.db (replaced each time, never while
##      another process writes it) and print a summary
run: $(VENV)/.installed
	$(BIN)/engine run --journal $(JOURNAL) --replace

## test: lint, type-check and run the whole suite
test: lint pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(VENV)/.installed-test
	$(BIN)/pytest -q

## fuzz: coverage-guided fuzzing of the bar parser and the config loader, FUZZ_SECONDS each (atheris)
FUZZ_SECONDS ?= 300
fuzz: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,fuzz]'
	$(BIN)/python -m tools.fuzz bars --seconds $(FUZZ_SECONDS)
	$(BIN)/python -m tools.fuzz config --seconds $(FUZZ_SECONDS)

## bench: the benchmarks of tools/bench (figures are medians; see docs/benchmarks.md); the comparison with
##        NautilusTrader runs when .venv-nt holds it (make .venv-nt/.installed), else the engine's figures alone
bench: $(VENV)/.installed-test
	$(BIN)/python -m tools.bench.all

## .venv-nt/.installed: NautilusTrader 1.221.0 in a virtualenv of its own (it needs pandas<3, the engine pandas 3)
.venv-nt/.installed: tools/bench/requirements-nautilus.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 2; }
	$(PYTHON) -m venv .venv-nt
	.venv-nt/bin/pip install --quiet -r tools/bench/requirements-nautilus.txt
	touch $@

clean:
	rm -rf $(VENV) .venv-nt build *.egg-info .pytest_cache .mypy_cache .ruff_cache
