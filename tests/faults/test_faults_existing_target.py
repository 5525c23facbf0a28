"""Every phase of `up` and `down` on an existing cluster (the test control plane, KWOK nodes),
interrupted by Ctrl-C and by kill -9 (of envbuilder; once, of its whole process group): the next
`up` is green, no process of the interrupted run outlives it, and the next `down` leaves nothing;
an interrupted `down` is finished by the next `down`, after which `up` makes the environment again.

The existing target has no cluster, pod network or image phases (the cluster is the user's);
its smoke checks fail on KWOK's pods, which answer no HTTP, so the run that is interrupted
during smoke asks for them and the recovering `up` does not.
"""

import os
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from tests.faults.conftest import Case, Figures, engines_of, interrupt_at, run, run_case
from tests.support.leftovers import leftovers

pytestmark = [pytest.mark.faults, pytest.mark.engine, pytest.mark.slow]
SERVICES = "web"
REVISION = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent).stdout.strip()


@pytest.fixture
def environment(control_plane, isolated_state):
    """A name no real environment has, this test's home, and the test control plane as the user's cluster."""
    name = f"ft-{secrets.token_hex(3)}"
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig), "ENVBUILDER_HOME": str(isolated_state)}
    yield name, env
    if (isolated_state / "environments" / f"{name}.json").exists():  # the test did not get to its down
        run(env, "down", name)


def up_args(name: str, smoke: bool = False) -> list[str]:
    return ["up", "--services", SERVICES, "--name", name, "--target", "existing", "--kube-context", "envbuilder-test",
            "--revision", REVISION, *([] if smoke else ["--no-smoke"])]


@pytest.mark.parametrize(("phase", "interruption"), [
    *((phase, interruption) for phase in ("broker", "f5", "services", "smoke") for interruption in ("ctrl-c", "kill-9")),
    # The engine dies too, so it cannot stop its plugins: the next `up` does.
    ("f5", "kill-9 of the group"),
])
def test_up_interrupted_in_a_phase_is_recovered_by_the_next_up_and_down_leaves_nothing(
        control_plane, environment, figures: Figures, phase, interruption):
    name, env = environment
    run_case(Case("existing", "up", phase, interruption), figures,
             interrupt=lambda: interrupt_at(env, up_args(name, smoke=phase == "smoke"), phase, interruption),
             again=lambda: run(env, *up_args(name)), down=lambda: run(env, "down", name),
             left=lambda: leftovers(name, Path(env["ENVBUILDER_HOME"]), control_plane.kubeconfig))


@pytest.mark.parametrize("interruption", ["ctrl-c", "kill-9"])
@pytest.mark.parametrize("phase", ["destroy", "cleanup"])
def test_down_interrupted_in_a_phase_is_finished_by_the_next_down_and_the_environment_can_be_made_again(
        control_plane, environment, figures: Figures, phase, interruption):
    name, env = environment
    home = Path(env["ENVBUILDER_HOME"])
    created = run(env, *up_args(name))
    assert created.returncode == 0, created.stdout + created.stderr

    def finish_then_up() -> subprocess.CompletedProcess:
        finished = run(env, "down", name)
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert leftovers(name, home, control_plane.kubeconfig) == {}
        return run(env, *up_args(name))

    run_case(Case("existing", "down", phase, interruption), figures,
             interrupt=lambda: interrupt_at(env, ["down", name], phase, interruption),
             again=finish_then_up, down=lambda: run(env, "down", name),
             left=lambda: leftovers(name, home, control_plane.kubeconfig))



def test_up_killed_with_its_engine_wedged_kills_that_engine_and_recovers(control_plane, environment, figures: Figures):
    """The engine of the run killed is wedged (stopped): nothing it is sent is handled, so the next `up`
    kills it, with its plugins, once it has not stopped within the engine's grace period."""
    name, env = environment
    wedged: list[int] = []

    def wedge_the_engine(pgid: int) -> None:
        wedged.extend(engines_of(pgid))
        for pid in wedged:
            os.kill(pid, signal.SIGSTOP)

    recovering = run_case(
        Case("existing", "up", "f5", "kill-9, engine wedged"), figures,
        interrupt=lambda: interrupt_at(env, up_args(name), "f5", "kill-9", on_reaching=wedge_the_engine),
        again=lambda: run(env, *up_args(name)), down=lambda: run(env, "down", name),
        left=lambda: leftovers(name, Path(env["ENVBUILDER_HOME"]), control_plane.kubeconfig))
    assert len(wedged) == 1
    assert f"killed that engine (pid {wedged[0]})" in recovering.stdout + recovering.stderr
