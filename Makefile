# envbuilder: `make setup` once, then `make test`.
VENV ?= .venv
PYTHON ?= python3
PIP := $(VENV)/bin/pip
PYTEST := $(VENV)/bin/pytest

.PHONY: setup venv tools toolchain node-image lint test test-fast test-engine test-kind test-faults benchmarks clean

## setup: everything `make test` needs: the virtualenv, the external tools into .tools/bin, the test
## control plane, and (where no container registry is reachable) the kind node image
setup: venv tools toolchain
	bash tools/node-image/build.sh --unless-registry

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[engine,f5,sync,broker,test]'
	touch $@

## tools: kind, pulumi and the Kubernetes plugin where missing (official downloads, else built from Go modules)
tools:
	bash tools/install-tools.sh

## toolchain: everything built from Go modules, including the test control plane (etcd, apiserver, kwok)
toolchain:
	bash tools/toolchain/build.sh all

## node-image: the kind node image built without any registry (tools/node-image/build.sh)
node-image: venv
	bash tools/node-image/build.sh

LINTED := envbuilder tests benchmarks tools fixtures

## test: the linter, then the whole suite (real-component tests included; engine tests need the toolchain)
test: lint
	$(PYTEST)

## lint: ruff's pyflakes-level rules (pyproject.toml) over every Python file of the project
lint:
	$(VENV)/bin/ruff check $(LINTED)

## test-fast: the pure and unit tests only
test-fast:
	$(PYTEST) -m "not slow and not docker and not engine"

test-engine:
	$(PYTEST) -m engine

test-kind:
	$(PYTEST) -m kind

## test-faults: `up` and `down` interrupted (Ctrl-C, kill -9) in each phase, then recovered; figures in build/faults.json
test-faults:
	$(PYTEST) -m faults

benchmarks:
	$(VENV)/bin/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) .tools build .pytest_cache
