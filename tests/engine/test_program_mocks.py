"""The Pulumi layer registers exactly the desired state, in phase order, with secrets kept secret.

Runs the inline program against Pulumi's mocks: no engine, no cluster.
"""

import asyncio
from pathlib import Path

import pulumi
from pulumi.runtime import rpc

from envbuilder.desired import desired_state
from envbuilder.desired.host import KindNodes
from envbuilder.spec.profile import PodNetwork
from envbuilder.desired.phases import Phase
from envbuilder.desired.state import PENDING
from envbuilder.engine import program
from envbuilder.engine.program import (
    CONFIG_BROKER_PASSWORD, CONFIG_F5_PASSWORD, PhasedResources, ProgramInputs, register_environment,
)
from envbuilder.spec.catalog import load_catalog
from envbuilder.images.build import COMPONENTS
from envbuilder.spec.environment import EnvironmentSpec, resolve_services, tagged_images
from envbuilder.spec.profile import load_profile
from envbuilder.state.records import HostPorts

STACKS = Path(__file__).resolve().parents[2] / "stacks"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []
        self.resources = PhasedResources()  # the program's, once it ran

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append(args)
        outputs = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource":
            outputs.update({"context": "kind-envbuilder-dev", "address": "172.18.0.5"})
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def run_program(target: str, pod_network: PodNetwork = PodNetwork.CALICO, node_image: str = "kindest/node:v1.35.4",
                services: tuple[str, ...] = ("web", "worker")) -> RecordingMocks:
    profile = load_profile(STACKS, "default")
    images = tagged_images([*services, *COMPONENTS], "abc1234")
    services = resolve_services(load_catalog(STACKS / "services"), list(services), profile, images)
    spec = EnvironmentSpec(name="dev", profile=profile, services=tuple(services), revision="abc1234", owner="home1234",
                           target=target, component_images=tagged_images(COMPONENTS, "abc1234"),
                           kube_context="ctx" if target == "existing" else None)
    inputs = ProgramInputs(
        spec=spec, ports=HostPorts(f5_api=42000, broker=42001, vips={"web": 42002}),
        tools={"kind": "/bin/kind", "docker": "/bin/docker", "kubectl": "/bin/kubectl"},
        kubeconfig="/tmp/kubeconfig", images_to_push={"envbuilder/web:abc1234": "sha256:1"},
        nodes=KindNodes(pod_network=pod_network, image=node_image) if target == "kind" else None,
        calico_manifest="/tmp/calico.yaml" if pod_network is PodNetwork.CALICO and target == "kind" else None,
    )
    # Pulumi's mocks run on the thread's current event loop; an earlier asyncio.run() leaves none.
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="envbuilder", stack="dev", preview=False)
    pulumi.runtime.set_all_config({f"envbuilder:{CONFIG_BROKER_PASSWORD}": "b-pass", f"envbuilder:{CONFIG_F5_PASSWORD}": "f-pass"},
                                  secret_keys=[f"envbuilder:{CONFIG_BROKER_PASSWORD}", f"envbuilder:{CONFIG_F5_PASSWORD}"])

    resources = PhasedResources()

    @pulumi.runtime.test
    def program():
        register_environment(inputs, resources)

    program()
    mocks.resources = resources
    return mocks


def names_by_type(mocks: RecordingMocks) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for args in mocks.registered:
        found.setdefault(args.typ, []).append(args.name)
    return found


def test_on_kind_the_cluster_cni_images_and_containers_are_resources_beside_the_kubernetes_groups():
    mocks = run_program("kind")
    found = names_by_type(mocks)
    assert sorted(found["pulumi-python:dynamic:Resource"]) == [
        "cluster", "cluster-volume-envbuilder-dev-f5-state", "cni-ready", "f5-container-envbuilder-dev-f5", "images",
        "network", "registry-network"]
    assert found["kubernetes:yaml/v2:ConfigFile"] == ["cni"]
    assert sorted(found["kubernetes:yaml/v2:ConfigGroup"]) == ["broker", "f5", "namespace", "secrets", "services"]
    groups = {a.name: a for a in mocks.registered if a.typ == "kubernetes:yaml/v2:ConfigGroup"}
    kinds = [o["kind"] for o in groups["services"].inputs["objs"]]
    assert kinds.count("Deployment") == 2
    endpoints = next(o for o in groups["f5"].inputs["objs"] if o["kind"] == "Endpoints")
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "172.18.0.5"}]  # the F5 container's address


def phases_of_registered(mocks: RecordingMocks) -> dict[str, str | None]:
    return {args.name: mocks.resources.phase_of(f"urn:pulumi:dev::envbuilder::{args.typ}::{args.name}")
            for args in mocks.registered if not args.typ.startswith("pulumi:providers:")}


def test_every_resource_on_kind_belongs_to_the_phase_whose_status_line_it_feeds():
    assert phases_of_registered(run_program("kind")) == {
        "network": "cluster", "cluster": "cluster", "cni": "cni", "cni-ready": "cni", "images": "push",
        "registry-network": "cni",
        "namespace": "broker", "secrets": "broker", "broker": "broker",
        "cluster-volume-envbuilder-dev-f5-state": "f5", "f5-container-envbuilder-dev-f5": "f5", "f5": "f5",
        "services": "services",
    }


def test_a_group_object_belongs_to_its_group_phase_and_the_stack_to_none():
    resources = run_program("existing").resources
    assert resources.phase_of(
        "urn:pulumi:dev::envbuilder::kubernetes:yaml/v2:ConfigGroup$kubernetes:apps/v1:Deployment::f5:env-dev/f5-sync"
    ) == "f5"
    assert resources.phase_of("urn:pulumi:dev::envbuilder::pulumi:pulumi:Stack::envbuilder-dev") is None


def test_the_f5_and_the_broker_wait_for_the_ready_nodes_and_the_services_for_the_broker_not_the_f5():
    resources = run_program("kind").resources
    ready_nodes = [*resources.of(Phase.PUSH), *resources.of(Phase.CNI)]
    assert sorted(map(id, resources.needed_by(Phase.BROKER))) == sorted(map(id, ready_nodes))
    assert sorted(map(id, resources.needed_by(Phase.F5))) == sorted(map(id, ready_nodes))
    assert resources.needed_by(Phase.SERVICES) == resources.of(Phase.BROKER)
    assert resources.needed_by(Phase.PUSH) == []  # the images go to the registry while kind makes the cluster
    assert len(resources.of(Phase.BROKER)) == 3  # the namespace, the Secrets, the broker's objects


def test_the_f5_state_volume_is_a_resource_of_the_environment_labelled_as_its_own():
    """Not the container's: replacing the F5 container (a new revision, a new VIP) keeps its configuration."""
    mocks = run_program("kind")
    volume = next(a for a in mocks.registered if a.name == "cluster-volume-envbuilder-dev-f5-state")
    assert volume.inputs["name"] == "envbuilder-dev-f5-state"
    assert volume.inputs["labels"]["envbuilder.io/environment"] == "dev"
    assert volume.inputs["labels"]["envbuilder.io/owner"] == "home1234"


def test_the_environment_gets_a_docker_network_of_its_own_for_its_nodes_f5_and_classic_containers():
    """Not Docker's shared `kind` network, where another environment's containers would reach its F5."""
    mocks = run_program("kind", services=("web", "worker", "legacy-worker"))
    network = next(a for a in mocks.registered if a.name == "network")
    assert network.inputs["name"] == "envbuilder-dev"
    assert network.inputs["labels"]["envbuilder.io/environment"] == "dev"
    assert network.inputs["labels"]["envbuilder.io/owner"] == "home1234"
    cluster = next(a for a in mocks.registered if a.name == "cluster")
    assert cluster.inputs["network"] == "envbuilder-dev"
    containers = [a for a in mocks.registered if "-container-" in a.name]
    assert {a.name for a in containers} == {"f5-container-envbuilder-dev-f5",
                                            "services-container-envbuilder-dev-legacy-worker"}
    assert {a.inputs["spec"]["network"] for a in containers} == {"envbuilder-dev"}


def test_on_an_existing_cluster_there_is_no_docker_network():
    assert not [a for a in run_program("existing").registered if a.name == "network"]


def test_a_node_image_that_brings_its_pod_network_gets_no_calico_and_kind_installs_it():
    mocks = run_program("kind", pod_network=PodNetwork.KUBE_ROUTER, node_image="envbuilder/kind-node:v1.35.4")
    found = names_by_type(mocks)
    assert "kubernetes:yaml/v2:ConfigFile" not in found
    cluster = next(a for a in mocks.registered if a.name == "cluster")
    assert cluster.inputs["node_image"] == "envbuilder/kind-node:v1.35.4"
    assert cluster.inputs["config"]["networking"]["disableDefaultCNI"] is False
    ready = next(a for a in mocks.registered if a.name == "cni-ready")
    assert ready.inputs["network_daemonset"] == "kube-router"


def test_secrets_carry_the_generated_passwords_and_nothing_else_does():
    mocks = run_program("kind")
    groups = {a.name: a for a in mocks.registered if a.typ == "kubernetes:yaml/v2:ConfigGroup"}
    secret_text = str(groups["secrets"].inputs["objs"])
    assert "b-pass" in secret_text and "f-pass" in secret_text
    for name in ("namespace", "broker", "f5", "services"):
        assert "b-pass" not in str(groups[name].inputs) and "f-pass" not in str(groups[name].inputs)
    # The F5 container's spec (recorded and shown as it is) names its password file; only the separate,
    # secret input holds the password, and it never comes back in the outputs (only its digest).
    [f5] = [a for a in mocks.registered if a.name == "f5-container-envbuilder-dev-f5"]
    assert "f-pass" not in str(f5.inputs["spec"])
    secret_files = f5.inputs["secret_files"]  # a secret value: the engine encrypts it in the state
    assert secret_files[rpc._special_sig_key] == rpc._special_secret_sig
    assert secret_files["value"] == {"/run/secrets/envbuilder/f5-password": "f-pass"}


def test_on_an_existing_cluster_nothing_but_kubernetes_objects_is_created():
    found = names_by_type(run_program("existing"))
    assert "pulumi-python:dynamic:Resource" not in found
    assert "kubernetes:yaml/v2:ConfigFile" not in found
    assert found["pulumi:providers:kubernetes"] == ["k8s"]


def test_the_desired_state_is_computed_once_per_run(monkeypatch):
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return desired_state(*args, **kwargs)

    monkeypatch.setattr(program, "desired_state", counted)
    run_program("kind", services=("web", "worker", "legacy-worker"))
    assert len(calls) == 1


def test_each_container_is_registered_in_the_phase_the_desired_state_gives_it_with_its_secrets_and_address():
    mocks = run_program("kind", services=("web", "worker", "legacy-worker"))
    # A container's spec holds no credential; its secret files are a separate input, a secret the mocks see wrapped.
    registered = {a.name: a.inputs for a in mocks.registered if "-container-" in a.name}
    assert sorted(registered) == ["f5-container-envbuilder-dev-f5", "services-container-envbuilder-dev-legacy-worker"]
    assert all(password not in str(inputs["spec"]) for inputs in registered.values() for password in ("f-pass", "b-pass"))
    secret_files = {name: inputs["secret_files"]["value"] for name, inputs in registered.items()}
    assert secret_files["f5-container-envbuilder-dev-f5"] == {"/run/secrets/envbuilder/f5-password": "f-pass"}
    legacy = secret_files["services-container-envbuilder-dev-legacy-worker"]
    assert legacy["/run/secrets/envbuilder/amqp-url"].startswith("amqp://envbuilder:b-pass@")
    groups = {a.name: a for a in mocks.registered if a.typ == "kubernetes:yaml/v2:ConfigGroup"}
    endpoints = next(o for o in groups["services"].inputs["objs"]
                     if o["kind"] == "Endpoints" and o["metadata"]["name"] == "legacy-worker")
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "172.18.0.5"}]  # the container's address
    assert PENDING not in str([a.inputs for a in mocks.registered])
