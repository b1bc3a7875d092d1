# The daily commands, each a one-liner. `make run` and `make test` are the README's two commands.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test test-sqlite test-postgres lint fmt bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Install the project and its development tools into .venv (idempotent).
install: $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'

# Install, then run the bot: the real one with BOT_TOKEN, the local world without.
run: install
	$(BIN)/python -m bot

# Install, then run the whole suite on SQLite and on PostgreSQL + Redis, then lint and type-check.
test: install test-sqlite test-postgres lint

test-sqlite:
	$(BIN)/python -m pytest -q

test-postgres:
	PHANANH_TEST_BACKEND=postgres $(BIN)/python -m pytest -q

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
