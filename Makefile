# Two front-door targets (see README): `make demo` and `make test`.
# Each builds .venv from scratch if needed, so a fresh machine needs nothing else.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/uv:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

.PHONY: install install-test demo test lint
# --compile-bytecode compiles the dependencies; segwise itself, installed editable, is
# compiled by compileall: where PYTHONDONTWRITEBYTECODE is set (as many Docker images do)
# every command would otherwise compile its 70-odd modules anew (0.2 s a command).
install: $(BIN)/uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e .
	$(BIN)/python -m compileall -q src

install-test: $(BIN)/uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[test]"
	$(BIN)/python -m compileall -q src

demo: install
	$(BIN)/segwise demo

test: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --durations=25

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
