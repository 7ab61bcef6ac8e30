# procplane developer entry points. `make run` and `make test` set up everything they need.
SHELL := /bin/bash
UV := python3 -m uv
PY := $(UV) run python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint postgres-server

-include mk/*.mk

## setup: install uv (from PyPI) and the locked Python dependencies
setup:
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

## postgres-server: the PostgreSQL server binaries the API tests start (Debian package)
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing the postgresql Debian package for the API tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

## run: migrate and serve procplane (API + reconciler) on http://$(HOST):$(PORT) with SQLite under
## .procplane/; with no kubeconfig configured, against the local cluster (started if needed)
run: setup
	@if [ -z "$$PROCPLANE_KUBECONFIG$$KUBECONFIG" ]; then $(MAKE) --no-print-directory cluster; fi
	@$(UV) run procplane migrate
	@$(UV) run procplane serve --host $(HOST) --port $(PORT) --install-crds

## lint: ruff, mypy --strict and the import contracts of the layout (pyproject.toml)
lint: setup
	@$(UV) run ruff check .
	@$(UV) run ruff format --check .
	@$(UV) run mypy
	@$(UV) run lint-imports

## test: everything: lint, then the whole test suite
test: setup postgres-server tools lint
	@$(UV) run pytest
