"""`make setup`'s first step on a machine that lacks something: it stops in seconds, naming each missing
piece with the command that installs it, instead of half an hour later in the middle of a build."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.docker import require_docker
from tests.support.tools import missing

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tools_copy() -> Iterator[Path]:
    """A copy of tools/ that another user can read (pytest's own temporary folders are root's alone)."""
    top = Path(tempfile.mkdtemp(prefix="envbuilder-test-tools-"))
    try:
        shutil.copytree(REPO / "tools", top / "tools")
        for path in [top, *top.rglob("*")]:
            path.chmod(0o755)
        yield top / "tools"
    finally:
        shutil.rmtree(top)


def path_without(*commands: str, tmp_path: Path) -> str:
    """A PATH holding every command of this one but `commands`."""
    shown = tmp_path / "bin"
    shown.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        if not os.path.isdir(directory):
            continue
        for entry in os.listdir(directory):
            target = shown / entry
            if entry not in commands and not target.exists() and os.access(os.path.join(directory, entry), os.X_OK):
                target.symlink_to(os.path.join(directory, entry))
    return str(shown)


def test_a_node_image_build_without_debootstrap_stops_before_anything_naming_it(tmp_path):
    result = subprocess.run(["bash", str(REPO / "tools/node-image/build.sh"), "--check"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PATH": path_without("debootstrap", tmp_path=tmp_path)})

    assert result.returncode == 1
    assert "missing debootstrap: install with apt-get install -y debootstrap" in result.stderr


@pytest.mark.docker
def test_setups_first_step_names_every_missing_command_of_the_long_steps(tmp_path):
    require_docker()  # else the step would start the engine, as make setup does
    path = path_without("debootstrap", "git", tmp_path=tmp_path)
    result = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "host"], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PATH": path})

    assert result.returncode != 0
    assert "missing git: install with apt-get install -y git" in result.stderr


def test_missing_packages_without_root_or_sudo_are_named_with_the_command_that_installs_them(tools_copy):
    if os.geteuid() != 0:
        missing("root", "running the script as another user needs root", "run the tests as root")
    listed = tools_copy / "host" / "packages.txt"
    listed.write_text(listed.read_text() + "envbuilder-test-no-such-package  # never installed\n")

    result = subprocess.run(["runuser", "-u", "nobody", "--", "bash", str(tools_copy / "host/install-packages.sh")],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert ("missing system packages: envbuilder-test-no-such-package; install them with: "
            "sudo apt-get install -y --no-install-recommends envbuilder-test-no-such-package") in result.stderr


def test_with_every_package_installed_nothing_is_installed(tools_copy):
    result = subprocess.run(["bash", str(tools_copy / "host/install-packages.sh")], capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 0, result.stderr
    assert "system packages are installed" in result.stderr


def test_the_ports_host_preparation_keeps_from_the_ephemeral_range_are_envbuilders_default_range():
    from envbuilder.state.ports import DEFAULT_RANGE

    script = (REPO / "tools/host/prepare-docker.sh").read_text()
    low, high = DEFAULT_RANGE
    assert f"\nENVBUILDER_PORTS={low}-{high}\n" in script
