"""Programs the tests drive, looked up on PATH, where CI installs them."""

import os
import shutil

import pytest


def installed_tool(command: str, *, package: str) -> str:
    """The path of `command`. Missing, it skips the test on a workstation but fails it in CI (`CI`
    set, as GitHub Actions and .ci/run do): there a skip would hide that CI installs the wrong thing."""
    path = shutil.which(command)
    if path is None:
        reason = f"{command} is not installed (apt-get install -y {package})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, and CI must provide it", pytrace=False)
        pytest.skip(reason=reason)
    return path
