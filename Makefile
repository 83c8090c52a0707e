# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: demo test lint compile container-test compose-test lock clean help bench-peers

help:
	@echo "make demo   install into .venv/ and run the whole loop on a bundled example"
	@echo "make test   install dev dependencies and run lint, types, layers and the test suite"

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"

# --compile-bytecode: every process (the CLI, uvicorn's workers, Ray's workers) then imports
# compiled modules; uv does not compile by default, and where PYTHONDONTWRITEBYTECODE is set
# (as in this sandbox, and by its times on CI) nothing is ever compiled: importing MLflow, Ray, scikit-learn and loopml
# took 8.2 s from source against 3.0 s compiled, in every one of those processes.
$(VENV)/.runtime: $(BIN)/uv requirements.lock pyproject.toml Makefile
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock Makefile
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements-dev.lock
	@touch $@

# loopml itself is installed editable: its modules are compiled here, where they change.
compile: $(VENV)/.runtime
	@$(BIN)/python -m compileall -q src

demo: $(VENV)/.runtime compile
	$(BIN)/python examples/demo.py

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint compile
	$(BIN)/python -m pytest -p no:cacheprovider -q -n 2 --dist loadfile --no-loadscope-reorder --durations=40

# Build the Docker image and run the compose services from it (needs a Docker engine;
# LOOPML_BASE_IMAGE=... replaces python:3.11-slim).
container-test: $(VENV)/.dev
	LOOPML_CONTAINER_TESTS=1 $(BIN)/python -m pytest -p no:cacheprovider -q tests/e2e/test_container.py

# docker compose up of the five services of docker-compose.yaml, checked end to end (needs a
# Docker engine with `docker compose`; LOOPML_STANDINS=1 builds PostgreSQL and Prometheus
# from Debian packages instead of pulling them, see docker-compose.standin.yaml).
compose-test: $(VENV)/.dev
	LOOPML_COMPOSE_TESTS=1 $(BIN)/python -m pytest -p no:cacheprovider -q -s tests/e2e/test_compose.py

# The peers of benchmarks/bench_quality.py (FLAML, AutoGluon) in their own virtualenv:
# AutoGluon 1.6 needs pandas < 2.4 and loopml's lock has pandas 3, so loopml's .venv stays
# untouched and bench_quality.py calls the peers as subprocesses (benchmarks/_peers.py).
PEERS := benchmarks/.venv-peers
bench-peers: $(PEERS)/.installed

$(PEERS)/.installed: $(BIN)/uv
	$(BIN)/uv venv -q --allow-existing -p $(PYTHON) $(PEERS)
	$(BIN)/uv pip install -q --python $(PEERS)/bin/python \
		"autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3" "flaml[automl]==2.8.0"
	@touch $@

# Regenerate the lock files after changing dependencies in pyproject.toml.
lock: $(BIN)/uv
	$(BIN)/uv pip compile -q pyproject.toml -p 3.11 -o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml -p 3.11 --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) .loopml build *.egg-info src/*.egg-info
