"""`up` on the kind target interrupted while kind creates the cluster (kill -9), while the images go to
the machine's registry (Ctrl-C, which reaches `docker push` too) and while the services roll out
(Ctrl-C): the next `up` is green (smoke checks included) and the next `down`
leaves no container, volume, network, kind cluster, record, stack, port or process. `down` killed
(kill -9) as it deletes the cluster: the next `down` finishes and leaves nothing.

Each case costs a cluster, so the last two share one: the environment the services case recovers is the one
whose `down` is killed. That an environment can be made again once an interrupted `down` is finished is shown
on the existing target (its `down` cases, test_faults_existing_target.py): on kind, with nothing of the name
left on the machine, that `up` would be any other new environment's."""

import os
import secrets
from pathlib import Path

import pytest

from tests.faults.conftest import REPO, Case, Figures, interrupt_at, run, run_case
from tests.support.docker import require_docker
from tests.support.leftovers import leftovers

pytestmark = [pytest.mark.faults, pytest.mark.kind, pytest.mark.docker, pytest.mark.slow]
SERVICES = "web,worker"


def home_and_env(isolated_state: Path) -> tuple[str, Path, dict[str, str]]:
    """A name no real environment has, this test's home, and the built tools first on the PATH."""
    env = {**os.environ, "ENVBUILDER_HOME": str(isolated_state),
           "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    return f"kf-{secrets.token_hex(3)}", Path(isolated_state), env


@pytest.mark.parametrize(("phase", "interruption"), [("cluster", "kill-9"), ("push", "ctrl-c")])
def test_up_on_kind_interrupted_in_a_phase_is_recovered_by_the_next_up_and_down_leaves_nothing(
        isolated_state, figures: Figures, phase, interruption):
    require_docker()
    name, home, env = home_and_env(isolated_state)
    up = ["up", "--services", SERVICES, "--name", name]
    try:
        run_case(Case("kind", "up", phase, interruption), figures,
                 interrupt=lambda: interrupt_at(env, up, phase, interruption, timeout=1500),
                 again=lambda: run(env, *up, timeout=1500), down=lambda: run(env, "down", name),
                 left=lambda: leftovers(name, home))
    finally:
        run(env, "down", name)  # should the test not get there


def test_up_on_kind_interrupted_as_the_services_roll_out_is_recovered_and_its_down_killed_is_finished_by_the_next(
        isolated_state, figures: Figures):
    require_docker()
    name, home, env = home_and_env(isolated_state)
    up = ["up", "--services", SERVICES, "--name", name]

    def down_killed_as_the_cluster_goes_then_finished():
        return run_case(Case("kind", "down", "destroy", "kill-9"), figures,
                        interrupt=lambda: interrupt_at(env, ["down", name], "destroy", "kill-9"),
                        again=lambda: run(env, "down", name), down=None, left=lambda: leftovers(name, home))

    try:
        run_case(Case("kind", "up", "services", "ctrl-c"), figures,
                 interrupt=lambda: interrupt_at(env, up, "services", "ctrl-c", timeout=1500),
                 again=lambda: run(env, *up, timeout=1500), down=down_killed_as_the_cluster_goes_then_finished,
                 left=lambda: leftovers(name, home))
    finally:
        run(env, "down", name)  # should the test not get there
