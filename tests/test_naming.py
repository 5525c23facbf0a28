"""Names derived from an environment's name, as the tools that make the objects name them."""

from envbuilder.naming import kind_node_names


def test_kind_node_names_are_the_control_plane_then_worker_worker2_as_kind_names_them():
    assert kind_node_names("dev", 0) == ["envbuilder-dev-control-plane"]
    assert kind_node_names("dev", 3) == ["envbuilder-dev-control-plane", "envbuilder-dev-worker",
                                         "envbuilder-dev-worker2", "envbuilder-dev-worker3"]
