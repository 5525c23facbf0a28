"""A failed engine run on the real engine and a real API server: the error names the failed resource
and gives the API server's reason, taken from the engine's events rather than its text output."""

import pytest

from envbuilder.engine.stacks import select_stack, stored_stack
from envbuilder.errors import EnvbuilderError
from envbuilder.engine.failures import run_engine

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_a_resource_the_api_server_rejects_is_named_with_its_diagnostic(control_plane, isolated_state):
    import pulumi
    import pulumi_kubernetes as k8s

    def program() -> None:
        provider = k8s.Provider("cluster", kubeconfig=control_plane.kubeconfig.read_text())
        on_cluster = pulumi.ResourceOptions(provider=provider)
        k8s.core.v1.ConfigMap("accepted", metadata={"name": "accepted", "namespace": "default"}, opts=on_cluster)
        # Upper case and an underscore: not a DNS subdomain, which only the API server checks.
        k8s.core.v1.ConfigMap("rejected", metadata={"name": "Not_A_Name", "namespace": "default"}, opts=on_cluster)

    stack = select_stack("engine-errors", program)
    try:
        with pytest.raises(EnvbuilderError) as raised:
            run_engine("up", stack.up)
        message = str(raised.value)
        assert message.startswith("pulumi up failed: 1 resource(s) failed\n")
        assert "kubernetes:core/v1:ConfigMap 'rejected' (urn:pulumi:engine-errors::envbuilder::" in message
        assert 'metadata.name: Invalid value: "Not_A_Name"' in message  # the API server's own words
        assert "'accepted'" not in message and "pulumi:pulumi:Stack" not in message
    finally:
        run_engine("destroy", stack.destroy)
        stored_stack("engine-errors").remove()
