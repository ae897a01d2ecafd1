# Two commands on a fresh machine: `make demo` and `make test`. Everything installs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := var/demo.db

.PHONY: install demo test lint bench eval train record test-live clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@mkdir -p var
	@rm -f $(DEMO_DB)
	DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/assistant run samples/inbox
	DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/assistant queue

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check assistant tests evals bench
	$(BIN)/ruff format --check assistant tests evals bench
	$(BIN)/mypy

train: $(STAMP)
	$(BIN)/python -m assistant train

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var reports build dist *.egg-info
