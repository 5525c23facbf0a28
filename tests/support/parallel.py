"""How `make test` spreads the suite over xdist workers (`--dist loadgroup`): the tests of one group run on
one worker, one after another; every other test goes to whichever worker is free."""

import pytest

# The tests that make kind clusters run in two groups, so at most two clusters start at once (on 2 cores, a
# third beside them would time them out): the kind tier, and the fault cases interrupted on kind. Each group's
# clusters are made one after another; the two groups take about as long (docs/ci.md).
KIND_CLUSTERS = "kind-clusters"
KIND_FAULTS = "kind-faults"


def on_one_worker(module_name: str) -> pytest.MarkDecorator:
    """For a module whose fixture makes what all its tests share (an image, a server): made once, not per worker."""
    return pytest.mark.xdist_group(module_name)
