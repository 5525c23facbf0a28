"""Fixtures for tests that need a real Kubernetes API (marked ``engine``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:
    from tests.support.controlplane import ControlPlane, missing_binaries
except ImportError:  # repository root not on sys.path (e.g. rootdir-less invocation)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.support.controlplane import ControlPlane, missing_binaries


@pytest.fixture(scope="session")
def control_plane():
    """A loopback control plane (etcd, apiserver, controller-manager, scheduler, kwok)
    with two fake nodes, shared by the whole session."""
    missing = missing_binaries()
    if missing:
        pytest.skip(reason=f"toolchain not built: run make toolchain (missing: {', '.join(missing)})")
    with ControlPlane(nodes=2) as cp:
        yield cp
