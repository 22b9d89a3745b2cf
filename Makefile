# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every version pinned, runtime and tools alike (constraints.txt).
PIP := $(BIN)/pip install --quiet --constraint constraints.txt
# `make run` needs the runtime only; the test tools come with the first `make test`.
RUNTIME := $(VENV)/.runtime
DEV := $(VENV)/.dev
# `make run PORT=9000` serves on another port.
PORT ?=

.PHONY: run test check browser screenshots bench soak lint typecheck constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(RUNTIME): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(DEV): pyproject.toml constraints.txt $(RUNTIME)
	$(PIP) -e '.[dev]'
	touch $@

run: $(RUNTIME)
	$(BIN)/nanoadmin start --conf conf/nanomq.conf $(if $(PORT),--port $(PORT))

# The browser tests drive Debian's Chromium; as root with apt it is installed, else they skip.
CHROMIUM := /usr/bin/chromium

browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
	  echo "no $(CHROMIUM), and no root with apt-get to install it: the browser tests will skip"; \
	fi

test: $(DEV) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# The quick loop: everything `make test` runs but the tests marked slow (under a minute).
check: $(DEV) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow"

# One PNG per console view into docs/screenshots (the README shows them).
screenshots: $(DEV) browser
	NANOADMIN_SCREENSHOTS=docs/screenshots NANOADMIN_REQUIRE_BROWSER=1 \
	  $(BIN)/pytest -q tests/test_console_browser.py

bench: $(DEV)
	$(BIN)/python bench/run.py

# 1,000 slowloris sockets and 1,000 half-sent bodies held while a real client is timed (~40 s).
soak: $(RUNTIME)
	$(BIN)/python bench/soak.py

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV)
	$(BIN)/mypy

# After changing pyproject.toml's dependencies: pin what a fresh install takes now.
constraints:
	rm -rf .venv-pin
	$(PYTHON) -m venv .venv-pin
	.venv-pin/bin/pip install --quiet --upgrade pip
	.venv-pin/bin/pip install --quiet -e '.[dev]'
	{ sed -n '1,2p' constraints.txt; .venv-pin/bin/pip freeze --all --exclude-editable \
	  | grep -v -e '^setuptools==' -e '^wheel=='; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-pin

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
