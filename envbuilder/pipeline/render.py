"""`envbuilder render`: the desired state as YAML files engineers can read and diff."""

from pathlib import Path

import yaml

from envbuilder.desired import Credentials, desired_state
from envbuilder.spec.environment import EnvironmentSpec


def render_documents(spec: EnvironmentSpec) -> dict[str, list[dict]]:
    """File name -> documents. Secrets show their keys; their values are generated at `up`."""
    state = desired_state(spec, Credentials.placeholder())
    files: dict[str, list[dict]] = {}
    if state.cluster:
        files["00-kind-cluster.yaml"] = [state.cluster]
    if state.containers:
        files["01-containers.yaml"] = [container.shown() for container in state.all_containers()]
    files["10-secrets.yaml"] = list(state.secrets)
    files["20-namespace.yaml"] = [state.namespace]
    for index, (phase, objects) in enumerate(state.groups.items(), start=3):
        files[f"{index}0-{phase}.yaml"] = list(objects)
    return files


def render_to_directory(spec: EnvironmentSpec, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, documents in render_documents(spec).items():
        path = out / file_name
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        written.append(path)
    return written
