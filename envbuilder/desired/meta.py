"""Names and labels shared by every object of an environment."""

import hashlib
import json
from typing import Any

from envbuilder import naming
from envbuilder.spec.environment import EnvironmentSpec

MANAGED_BY = {"app.kubernetes.io/managed-by": "envbuilder", "app.kubernetes.io/part-of": "envbuilder"}
CONFIG_HASH_ANNOTATION = "envbuilder.io/config-hash"
# Changes when a service's containers must start again from its image (live changes undone by `up`).
CODE_RESET_ANNOTATION = "envbuilder.io/code-reset"
# How long the Pulumi Kubernetes provider waits for a workload's rollout before the update fails.
ROLLOUT_TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds"
# The Kubernetes provider counts a Service that selects pods as ready only 10 s after the last change of
# its Endpoints (it waits for "stragglers"), on every create and update: 10 s more for each phase that
# has one. What those Endpoints follow, the pods of the Service's workload, is awaited until Ready; that
# each Service selects its workload's pods and their ports is checked on the desired state.
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"

Object = dict[str, Any]

# Where a container of the environment, in a pod or beside the cluster, finds its secret files (a `*_FILE`
# variable names each): never in its environment, which `docker inspect` and `crictl inspect` show. A
# directory of its own, so that a pod's service account token under /run/secrets stays visible.
SECRETS_DIR = "/run/secrets/envbuilder"
SECRETS_VOLUME = "secrets"


def secret_path(file_name: str) -> str:
    return f"{SECRETS_DIR}/{file_name}"


def secret_volume(secret_name: str, files: dict[str, str]) -> Object:
    """A pod volume holding some keys of a Secret as files: {key: file name}."""
    items = [{"key": key, "path": file_name} for key, file_name in files.items()]
    return {"name": SECRETS_VOLUME, "secret": {"secretName": secret_name, "items": items}}


def secrets_mount() -> Object:
    """Where a container of the pod sees the `secret_volume`."""
    return {"name": SECRETS_VOLUME, "mountPath": SECRETS_DIR, "readOnly": True}


def identity_labels(spec: EnvironmentSpec) -> dict[str, str]:
    """The environment and its owner: on every object, container, volume and kind node."""
    return naming.identity_labels(spec.name, spec.owner)


def labels(spec: EnvironmentSpec, app: str) -> dict[str, str]:
    return {**MANAGED_BY, "app.kubernetes.io/name": app, **identity_labels(spec)}


def selector(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app}


def metadata(spec: EnvironmentSpec, name: str, app: str, *, namespaced: bool = True, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels(spec, app), **extra}
    if namespaced:
        meta["namespace"] = spec.namespace
    return meta


def pod_image(image: str, target: str) -> str:
    """The reference a pod runs `image` (built here) by: on kind, the machine's registry's name for it (the
    images are pushed there, and the nodes pull through it); an existing cluster pulls it as it is."""
    return naming.registry_reference(image) if target == "kind" else image


def config_hash(data: dict[str, str]) -> str:
    """Changes whenever the configuration changes, so the pods roll."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# How often a readiness probe asks: a pod counts as Ready up to this long after it is, and `up` waits for
# Ready pods, phase after phase. The kubelet's HTTP and TCP probes cost next to nothing.
READINESS_PERIOD_SECONDS = 2
# Failed answers in a row before a pod counts as not Ready: asked this often, three would take a pod out of its
# Service after 6 s of slow answers on a loaded machine; six give it 12 s, about the 15 s it had at 5 s × 3.
PROBE_FAILURES = 6


def http_probe(
    path: str, port: int | str, *, period: int = READINESS_PERIOD_SECONDS, failures: int = PROBE_FAILURES, scheme: str = "HTTP"
) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port, "scheme": scheme},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def workload(
    spec: EnvironmentSpec,
    app: str,
    pod_spec: dict[str, Any],
    *,
    kind: str = "Deployment",
    replicas: int = 1,
    pod_annotations: dict[str, str] | None = None,
    **extra_spec: Any,
) -> Object:
    """A Deployment or StatefulSet named after its app, selecting its own pods, rolled out within the
    profile's `timeouts.rollout`."""
    template_meta: dict[str, Any] = {"labels": labels(spec, app)}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    rollout_timeout = {ROLLOUT_TIMEOUT_ANNOTATION: str(spec.profile.timeouts.rollout)}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata(spec, app, app, annotations=rollout_timeout),
        "spec": {
            **extra_spec,
            "replicas": replicas,
            "selector": {"matchLabels": selector(app)},
            "template": {"metadata": template_meta, "spec": pod_spec},
        },
    }


def pod_service(spec: EnvironmentSpec, name: str, app: str, ports: list[Object], **extra_spec: Any) -> Object:
    """A Service in front of the pods of `app`'s workload, ready as soon as it exists."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, name, app, annotations={SKIP_AWAIT_ANNOTATION: "true"}),
        "spec": {**extra_spec, "selector": selector(app), "ports": ports},
    }


def secret(spec: EnvironmentSpec, name: str, app: str, values: dict[str, str]) -> Object:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata(spec, name, app), "type": "Opaque", "stringData": values}
