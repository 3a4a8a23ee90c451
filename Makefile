# headwater — developer entry points. Needs only Python >= 3.10 on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED ?= ../shared

.PHONY: demo test lint bench conformance venv clean ai-eval

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e ".[dev]"
	@$(BIN)/python -m compileall -q src >/dev/null
	@touch $(STAMP)

## make demo: install, run the bundled example connector into DuckDB, show the summary
demo: venv
	@$(BIN)/headwater reset --force examples/incremental_orders >/dev/null
	@$(BIN)/headwater debug examples/incremental_orders
	@echo
	@echo "The data is in examples/incremental_orders/files/warehouse.db (schema tester). Look at it with:"
	@echo "  $(BIN)/python -c \"import duckdb; print(duckdb.connect('examples/incremental_orders/files/warehouse.db', read_only=True).sql('SELECT * FROM tester.orders LIMIT 5'))\""
	@echo "Run 'make demo' again to start over, or '$(BIN)/headwater debug examples/incremental_orders' to continue incrementally."

## make test: the whole suite (unit, CLI end to end, conformance)
test: venv
	@$(BIN)/python -m pytest

## make conformance: only the conformance suite of ../shared
conformance: venv
	@$(BIN)/python $(SHARED)/conformance/check.py --cli "$(CURDIR)/$(BIN)/headwater debug"

## make lint: formatting-free checks (ruff) and types (mypy --strict)
lint: venv
	@$(BIN)/ruff check src tests benchmarks examples
	@$(BIN)/mypy

## make bench: throughput and memory scenarios (benchmarks/), one table of results
bench: venv
	@$(BIN)/python benchmarks/run.py

## make ai-eval: headwater generate on the evaluation corpus (fake model offline; real model with ANTHROPIC_API_KEY)
ai-eval: venv
	@$(BIN)/python benchmarks/ai_eval.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
