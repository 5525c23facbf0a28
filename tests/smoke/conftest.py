import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from envbuilder.smoke.framework import Check
from f5sync.kubeconfig import load_kubeconfig
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.result import CheckResult
from tests.smoke.fake_kube import FakeKube, node

NAMESPACE = "env-demo"


@pytest.fixture
def fake() -> FakeKube:
    """Two Ready nodes, ready for each test to add what it needs."""
    api = FakeKube()
    api.put("/api/v1/nodes/demo-control-plane", node("demo-control-plane", "172.18.0.2"))
    api.put("/api/v1/nodes/demo-worker", node("demo-worker", "172.18.0.3"))
    return api


@pytest.fixture
def kube(fake: FakeKube, tmp_path: Path) -> Iterator[Kube]:
    yield Kube(load_kubeconfig(fake.kubeconfig(tmp_path)), fake.transport())


def run_one(check: Check) -> CheckResult:
    from envbuilder.smoke.framework import run_check

    return asyncio.run(run_check(check))
