"""`up` on the kind target interrupted while kind creates the cluster (kill -9), while the images go to
the machine's registry (Ctrl-C, which reaches `docker push` too) and while the services roll out
(Ctrl-C): the next `up` is green (smoke checks included) and the next `down`
leaves no container, volume, network, kind cluster, record, stack, port or process. `down` killed
(kill -9) as it deletes the cluster: the next `down` finishes, and `up` makes the environment again."""

import os
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.faults.conftest import REPO, Case, Figures, interrupt_at, run, run_case
from tests.support.docker import require_docker
from tests.support.leftovers import leftovers

pytestmark = [pytest.mark.faults, pytest.mark.kind, pytest.mark.docker, pytest.mark.slow]
SERVICES = "web,worker"


@pytest.mark.parametrize(("phase", "interruption"), [("cluster", "kill-9"), ("push", "ctrl-c"), ("services", "ctrl-c")])
def test_up_on_kind_interrupted_in_a_phase_is_recovered_by_the_next_up_and_down_leaves_nothing(
        isolated_state, figures: Figures, phase, interruption):
    require_docker()
    name = f"kf-{secrets.token_hex(3)}"
    env = {**os.environ, "ENVBUILDER_HOME": str(isolated_state),
           "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    up = ["up", "--services", SERVICES, "--name", name]
    try:
        run_case(Case("kind", "up", phase, interruption), figures,
                 interrupt=lambda: interrupt_at(env, up, phase, interruption, timeout=1500),
                 up=lambda: run(env, *up, timeout=1500), down=lambda: run(env, "down", name),
                 left=lambda: leftovers(name, Path(isolated_state)))
    finally:
        run(env, "down", name)  # should the test not get there


def test_down_on_kind_killed_while_the_cluster_goes_is_finished_by_the_next_down_and_up_makes_it_again(
        isolated_state, figures: Figures):
    require_docker()
    name = f"kf-{secrets.token_hex(3)}"
    home = Path(isolated_state)
    env = {**os.environ, "ENVBUILDER_HOME": str(isolated_state),
           "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    up = ["up", "--services", SERVICES, "--name", name]
    try:
        created = run(env, *up, timeout=1500)
        assert created.returncode == 0, created.stdout + created.stderr

        def finish_then_up() -> subprocess.CompletedProcess:
            finished = run(env, "down", name)
            assert finished.returncode == 0, finished.stdout + finished.stderr
            assert leftovers(name, home) == {}
            return run(env, *up, timeout=1500)

        run_case(Case("kind", "down", "destroy", "kill-9"), figures,
                 interrupt=lambda: interrupt_at(env, ["down", name], "destroy", "kill-9"),
                 up=finish_then_up, down=lambda: run(env, "down", name), left=lambda: leftovers(name, home))
    finally:
        run(env, "down", name)  # should the test not get there
