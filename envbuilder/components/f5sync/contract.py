"""What the rest of envbuilder agrees on with f5-sync: labels, annotations, settings keys, names, RBAC.

Pure constants and functions with no third-party imports: the desired-state code and the smoke
checks import this module without pulling in the controller.
"""

from typing import Final

# --- Which Services are exposed, and how ------------------------------------------------------
EXPOSE_LABEL: Final = "envbuilder.io/f5-expose"
EXPOSE_LABEL_VALUE: Final = "true"
VIP_PORT_ANNOTATION: Final = "envbuilder.io/f5-vip-port"  # required: the virtual server's port
PARTITION_ANNOTATION: Final = "envbuilder.io/f5-partition"  # optional: defaults to F5_PARTITION
MODE_ANNOTATION: Final = "envbuilder.io/f5-mode"  # optional: MODE_NODEPORT (default) or MODE_CLUSTER
SERVICE_PORT_ANNOTATION: Final = "envbuilder.io/f5-service-port"  # optional: a port name or number

MODE_NODEPORT: Final = "nodeport"  # members: every Ready, schedulable node's InternalIP + the NodePort
MODE_CLUSTER: Final = "cluster"  # members: ready pod addresses from EndpointSlices + the target port

# --- Settings, read from the environment (ConfigMap + Secret mounted with envFrom) -------------
F5_URL: Final = "F5_URL"
F5_USERNAME: Final = "F5_USERNAME"
F5_PASSWORD: Final = "F5_PASSWORD"
F5_VERIFY_TLS: Final = "F5_VERIFY_TLS"
F5_PARTITION: Final = "F5_PARTITION"
F5_VIP_ADDRESS: Final = "F5_VIP_ADDRESS"
F5SYNC_NAMESPACE: Final = "F5SYNC_NAMESPACE"
F5SYNC_OWNER: Final = "F5SYNC_OWNER"
F5SYNC_RESYNC_SECONDS: Final = "F5SYNC_RESYNC_SECONDS"
F5SYNC_DEBOUNCE_SECONDS: Final = "F5SYNC_DEBOUNCE_SECONDS"
F5SYNC_LISTEN: Final = "F5SYNC_LISTEN"

SECRET_ENV_KEYS: Final = (F5_PASSWORD,)
CONFIG_ENV_KEYS: Final = (
    F5_URL,
    F5_USERNAME,
    F5_VERIFY_TLS,
    F5_PARTITION,
    F5_VIP_ADDRESS,
    F5SYNC_NAMESPACE,
    F5SYNC_OWNER,
    F5SYNC_RESYNC_SECONDS,
    F5SYNC_DEBOUNCE_SECONDS,
    F5SYNC_LISTEN,
)

# The port of /metrics and /healthz when F5SYNC_LISTEN is left at its default.
DEFAULT_HTTP_PORT: Final = 8080

# --- RBAC: read-only, nothing else ------------------------------------------------------------
# Nodes are cluster-scoped (ClusterRole); Services and EndpointSlices are read in F5SYNC_NAMESPACE.
CLUSTER_RULES: Final = ({"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},)
NAMESPACE_RULES: Final = (
    {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
)


# --- Names on the F5 --------------------------------------------------------------------------
# Namespaces and Service names are DNS labels (no underscores), so "_" separates the parts
# unambiguously and every name is valid on BIG-IP.
def pool_name(namespace: str, service: str, port: int) -> str:
    """The pool of one exposed Service port (`port` is the Service's port number)."""
    return f"{namespace}_{service}_{port}"


def virtual_name(namespace: str, service: str) -> str:
    """The virtual server of one exposed Service."""
    return f"{namespace}_{service}"


def owner_description(owner: str) -> str:
    """The `description` that marks pools and virtuals as created by this environment's f5-sync."""
    return f"envbuilder f5-sync owner={owner}"
