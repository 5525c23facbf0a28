"""How `make test` spreads the suite over xdist workers (`--dist loadgroup`): the tests of one group run on
one worker, one after another; every other test goes to whichever worker is free."""

import os

import pytest

# The tests that make kind clusters, and those that must not run beside them: two clusters starting at once
# on 2 cores would time each other out.
KIND_CLUSTERS = "kind-clusters"


def on_one_worker(module_name: str) -> pytest.MarkDecorator:
    """For a module whose fixture makes what all its tests share (an image, a server): made once, not per worker."""
    return pytest.mark.xdist_group(module_name)


def worker_number() -> int:
    """This xdist worker's number (gw0, gw1 ...), 0 outside xdist, below 10: what the port ranges are split by."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % 10
