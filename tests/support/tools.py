"""What a test needs from the machine. A missing part fails the test with the command that provides it:
a green run has tested everything, unless the run opted out of parts by name (`make test SKIP=browser`,
i.e. ENVBUILDER_TEST_SKIP=browser), and then those tests are reported as skipped, never passed."""

import os
import shutil
from typing import NoReturn

import pytest

SKIP_VARIABLE = "ENVBUILDER_TEST_SKIP"
# What a run can opt out of: parts of the machine, and the test tiers (pytest markers) by name.
PARTS = {
    "docker": "a running Docker engine and the images made here",
    "rabbitmq": "RabbitMQ (Debian's rabbitmq-server) for the broker tests",
    "browser": "Chromium for the report's screenshot",
    "toolchain": "the Pulumi CLI and the test control plane that `make setup` builds",
    "root": "root, for network namespaces",
}
TIERS = {"slow", "engine", "kind", "faults"}


def opted_out() -> set[str]:
    """The parts and tiers this run leaves out; an unknown name is refused, so a typo cannot hide a part."""
    names = {name.strip() for name in os.environ.get(SKIP_VARIABLE, "").replace(",", " ").split() if name.strip()}
    unknown = names - PARTS.keys() - TIERS
    if unknown:
        raise pytest.UsageError(
            f"SKIP names {', '.join(sorted(unknown))}; known: {', '.join(sorted(PARTS.keys() | TIERS))}"
        )
    return names


def missing(part: str, reason: str, fix: str) -> NoReturn:
    """Fail the test because `part` is missing, saying how to provide it; skip it when the run opted out."""
    if part in opted_out():
        pytest.skip(reason=f"{reason} (left out: SKIP={part})")
    pytest.fail(f"{reason}: {fix} (or leave these tests out: make test SKIP={part})", pytrace=False)


def installed_tool(command: str, *, package: str, part: str) -> str:
    """The path of `command`, installed by Debian's `package` (tools/host/packages.txt lists it)."""
    path = shutil.which(command)
    if path is None:
        missing(part, f"{command} is not installed", f"apt-get install -y {package}, or make setup")
    return path
