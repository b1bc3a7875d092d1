# The daily commands, each a one-liner. `make run` and `make test` are the README's two commands.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install chromium run test test-sqlite test-postgres lint fmt bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Install the project and its development tools into .venv (idempotent).
install: $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'

# Install, then run the bot: the real one with BOT_TOKEN, the local world without.
run: install
	$(BIN)/python -m bot

# Debian's Chromium (and a colour emoji font) for the playground's browser test. Where it cannot be
# installed this says why, and the test skips with the reason (in CI it fails instead).
chromium:
	@if [ -x /usr/bin/chromium ]; then \
	  echo "chromium: /usr/bin/chromium is installed"; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "chromium: not installed and not root, so skipped (as root: apt-get install -y chromium)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "chromium: not installed and no apt-get on this machine, so skipped"; \
	else \
	  echo "chromium: installing Debian's chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium fonts-noto-color-emoji >/dev/null) \
	  || echo "chromium: apt-get failed, so the browser test will skip (and fail in CI)"; \
	fi

# Install, then run the whole suite on SQLite and on PostgreSQL + Redis, then lint and type-check.
test: install chromium test-sqlite test-postgres lint

# Three processes (-n 3) on these 2-core machines: the end-to-end tests mostly wait on sockets
# (the SQLite run took 163 s against 228 with -n 2, 2026-12-01, 14204ac; -n 4 took 138 s, and
# PostgreSQL + Redis 211 against 245, but loads a slow machine more for little), and each
# process gets its own SQLite files, PostgreSQL database and Redis number (tests/backends.py).
test-sqlite:
	$(BIN)/python -m pytest -q -n 3

test-postgres:
	PHANANH_TEST_BACKEND=postgres $(BIN)/python -m pytest -q -n 3

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The benchmarks (not part of the tests): one table, medians of 3 runs; see bench/RESULTS.md.
bench: install
	$(BIN)/python -m bench

fmt:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
