"""The `docker run` command line the wrapper builds from a container spec."""

from envbuilder.cluster.commands import CommandResult
from envbuilder.cluster.docker import ContainerSpec, Docker


def test_added_capabilities_are_passed_with_cap_add_and_nothing_else_is_granted():
    calls: list[tuple[str, ...]] = []

    def runner(args, **_options) -> CommandResult:
        calls.append(tuple(args))
        return CommandResult(tuple(args), 0, "id\n", "")

    spec = ContainerSpec(name="f5", image="img", network="kind", labels={}, capabilities=("NET_ADMIN",))
    Docker(runner=runner).run_container(spec)
    [create, _start] = calls
    assert create[create.index("--cap-add") + 1] == "NET_ADMIN"
    assert create.count("--cap-add") == 1 and "--privileged" not in create
