# envbuilder: `make setup` once, then `make test`.
VENV ?= .venv
PYTHON ?= python3
PIP := $(VENV)/bin/pip
PYTEST := $(VENV)/bin/pytest

.PHONY: setup venv tools toolchain test test-fast test-engine benchmarks clean

## setup: the virtualenv with envbuilder and its test extras, and the external tools into .tools/bin
setup: venv tools

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

## test: the whole suite (real-component tests included; engine tests need the toolchain)
test:
	$(PYTEST)

## test-fast: the pure and unit tests only
test-fast:
	$(PYTEST) -m "not slow and not docker and not engine"

test-engine:
	$(PYTEST) -m engine

benchmarks:
	$(VENV)/bin/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) .tools build .pytest_cache
