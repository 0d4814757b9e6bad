# Two entry points: `make demo` runs the demo on sample_repo/, `make test` runs the suite.
# Each creates .venv on first use; nothing needs installing by hand beyond python3, git and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m orch_core.demo

test: $(STAMP)
	$(BIN)/ruff check orch_core tests benchmarks testing
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check orch_core tests benchmarks testing
	$(BIN)/mypy
