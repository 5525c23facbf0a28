"""`envbuilder render`: the desired state as YAML files engineers can read and diff."""

from pathlib import Path

import yaml

from envbuilder.desired import Credentials, desired_state
from envbuilder.desired.host import KindNodes
from envbuilder.pipeline.request import ResolvedRequest


def render_documents(resolved: ResolvedRequest) -> dict[str, list[dict]]:
    """File name -> documents. Secrets show their keys; their values are generated at `up`. On the kind
    target, the pod network `up` would choose here, with its objects as the cluster gets them."""
    spec = resolved.spec
    nodes, network = kind_pod_network(resolved) if spec.target == "kind" else (None, [])
    state = desired_state(spec, Credentials.placeholder(), nodes=nodes)
    files: dict[str, list[dict]] = {}
    if state.cluster:
        files["00-kind-cluster.yaml"] = [state.cluster]
    if state.containers:
        files["01-containers.yaml"] = [container.shown() for container in state.all_containers()]
    if network:
        files["02-pod-network.yaml"] = network
    files["10-secrets.yaml"] = list(state.secrets)
    files["20-namespace.yaml"] = [state.namespace]
    for index, (phase, objects) in enumerate(state.groups.items(), start=3):
        files[f"{index}0-{phase}.yaml"] = list(objects)
    return files


def kind_pod_network(resolved: ResolvedRequest) -> tuple[KindNodes, list[dict]]:
    """The node image and pod network chosen as `up` chooses them, and the pod network's objects."""
    from envbuilder.cluster.node_image import choose_node_image
    from envbuilder.pipeline.pod_network import pod_network_documents, resolve_pod_network

    spec = resolved.spec
    image = choose_node_image(spec.profile.node_image_candidates(resolved.node_image))
    choice = resolve_pod_network(resolved.pod_network, None, image, spec.profile.calico_version)
    return KindNodes(image.name, pod_network=choice.network), pod_network_documents(choice, image.name)


def render_to_directory(resolved: ResolvedRequest, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, documents in render_documents(resolved).items():
        path = out / file_name
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        written.append(path)
    return written
