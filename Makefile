# envbuilder: `make setup` once, then `make test`.
VENV ?= .venv
PYTHON ?= python3
PIP := $(VENV)/bin/pip
PYTEST := $(VENV)/bin/pytest
# `make test` spreads the suite over this many pytest-xdist workers: one makes the kind clusters one after
# another (tests/support/parallel.py), the others share the rest; the tests mostly wait on servers and
# engines, so three keep 2 cores busy (docs/ci.md has the figures).
TEST_WORKERS ?= 3
# Each part of setup and test runs as a timed step: .ci/run sums them up at the end (tools/ci_summary.py).
TIMED := bash tools/timed.sh

.PHONY: setup host venv node-rootfs tools controlplane toolchain node-image lint test test-fast test-engine test-kind test-faults benchmarks clean

## setup: everything `make test` needs, on a fresh Debian or Ubuntu machine (as root or through sudo):
## the system packages and a running Docker engine first, with every command the long steps need
## checked in the first seconds; then the virtualenv, the tools, the test control plane and (where no
## container registry is reachable) the kind node image; last `envbuilder doctor`, all green.
## The engine's tools and the test control plane build beside each other (one Go build alone leaves
## a core idle while it links); the virtualenv and the node's root filesystem, which mostly wait on
## downloads, run beside them (docs/ci.md has the figures). Once every binary is built, the Go build
## cache (13 GB after a cold setup, of no use until a pin changes) is dropped; binaries and modules stay.
setup: host
	$(MAKE) --no-print-directory -j3 tools controlplane node-rootfs
	$(TIMED) node-image bash tools/node-image/build.sh --unless-registry
	$(TIMED) "prune build cache" bash tools/toolchain/build.sh prune
	$(TIMED) doctor $(VENV)/bin/envbuilder doctor

## host: the packages of tools/host/packages.txt, Docker started (tools/host/prepare-docker.sh), and
## the build scripts' own checks of what they run
host:
	$(TIMED) "system packages" bash tools/host/install-packages.sh
	$(TIMED) docker bash tools/host/prepare-docker.sh
	bash tools/toolchain/build.sh check
	bash tools/node-image/build.sh --check

venv: $(VENV)/.installed

# The components (components/*) in the same pip command, so envbuilder's dependency on them resolves here.
$(VENV)/.installed: pyproject.toml components/f5mock/pyproject.toml components/f5sync/pyproject.toml
	$(TIMED) venv bash -c "$(PYTHON) -m venv $(VENV) && $(PIP) install --quiet --upgrade pip \
	  && $(PIP) install --quiet -e components/f5mock -e components/f5sync -e '.[engine,broker,test]'"
	touch $@

node-rootfs: venv
	$(TIMED) "node root filesystem" bash tools/node-image/build.sh --rootfs --unless-registry

## tools: kind, pulumi and the Kubernetes plugin where missing (official downloads, else built from Go modules)
tools:
	$(TIMED) tools bash tools/install-tools.sh

## controlplane: the test control plane (etcd, kube-apiserver and its controllers, kwok) from Go modules
controlplane:
	$(TIMED) "control plane" bash tools/toolchain/build.sh controlplane

## toolchain: everything built from Go modules: the engine's tools and the test control plane
toolchain: tools controlplane

## node-image: the kind node image built without any registry (tools/node-image/build.sh)
node-image: venv
	bash tools/node-image/build.sh

LINTED := envbuilder components tests benchmarks tools fixtures conftest.py

## test: the linter, then the whole suite; a missing part fails its tests with the fix, unless left out
## by name: make test SKIP=browser,kind (parts: docker rabbitmq browser toolchain root; tiers: slow
## engine kind faults), reported as skipped
SKIP ?=
test: lint
	ENVBUILDER_TEST_SKIP="$(SKIP)" $(TIMED) pytest $(PYTEST) -n $(TEST_WORKERS) --dist loadgroup

## lint: ruff's pyflakes-level rules (pyproject.toml) over every Python file of the project
lint:
	$(TIMED) lint $(VENV)/bin/ruff check $(LINTED)

## test-fast: every test that needs no Docker, no cluster, no engine and no network beyond loopback, on
## both cores (pytest-xdist): the loop to run while editing (docs/ci.md has its time)
test-fast:
	$(PYTEST) -n 2 -m "not slow and not docker and not engine"

test-engine:
	$(PYTEST) -m engine

test-kind:
	$(PYTEST) -m kind

## test-faults: `up` and `down` interrupted (Ctrl-C, kill -9) in each phase, then recovered; figures in build/faults.json
test-faults:
	$(PYTEST) -m faults

benchmarks:
	$(VENV)/bin/python benchmarks/cli_startup.py

## clean: remove what setup and the product made (venv, tools, caches, images), listing each
clean:
	bash tools/clean.sh
