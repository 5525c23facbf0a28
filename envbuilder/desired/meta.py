"""Names and labels shared by every object of an environment."""

import hashlib
import json
from typing import Any

from envbuilder.spec.environment import EnvironmentSpec

ENVIRONMENT_LABEL = "envbuilder.io/environment"
MANAGED_BY = {"app.kubernetes.io/managed-by": "envbuilder", "app.kubernetes.io/part-of": "envbuilder"}
CONFIG_HASH_ANNOTATION = "envbuilder.io/config-hash"

Object = dict[str, Any]


def labels(spec: EnvironmentSpec, app: str) -> dict[str, str]:
    return {**MANAGED_BY, "app.kubernetes.io/name": app, ENVIRONMENT_LABEL: spec.name}


def selector(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app}


def metadata(spec: EnvironmentSpec, name: str, app: str, *, namespaced: bool = True, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels(spec, app), **extra}
    if namespaced:
        meta["namespace"] = spec.namespace
    return meta


def config_hash(data: dict[str, str]) -> str:
    """Changes whenever the configuration changes, so the pods roll."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def http_probe(
    path: str, port: int | str, *, period: int = 5, failures: int = 3, scheme: str = "HTTP"
) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port, "scheme": scheme},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }
