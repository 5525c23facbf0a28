"""The phases are declared once, with what each needs: the graph the engine and the status lines follow."""

from envbuilder.desired.phases import PHASES, Phase


def test_every_phase_is_declared_with_a_title_and_needs_only_declared_phases():
    assert set(PHASES) == set(Phase)
    for phase in Phase:
        assert phase.title and phase not in phase.needs_transitively()  # no cycle
        assert all(needed in PHASES for needed in phase.needs)


def test_the_f5_and_the_broker_need_ready_nodes_and_not_each_other():
    assert Phase.BROKER not in Phase.F5.needs_transitively()
    assert Phase.F5 not in Phase.BROKER.needs_transitively()
    assert {Phase.CNI, Phase.PUSH, Phase.CLUSTER} <= Phase.F5.needs_transitively()


def test_images_are_pushed_while_the_cluster_is_created():
    assert Phase.PUSH.needs == (Phase.IMAGES,)
    assert Phase.CLUSTER not in Phase.PUSH.needs_transitively() and Phase.PUSH not in Phase.CLUSTER.needs_transitively()


def test_services_start_after_the_broker_and_smoke_after_everything_the_engine_makes():
    assert Phase.BROKER in Phase.SERVICES.needs
    engine = {Phase.CLUSTER, Phase.PUSH, Phase.CNI, Phase.BROKER, Phase.F5, Phase.SERVICES}
    assert engine <= Phase.SMOKE.needs_transitively()
