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

# --- Settings, read from the environment (the ConfigMap with envFrom) -------------------------
F5_URL: Final = "F5_URL"
F5_USERNAME: Final = "F5_USERNAME"
F5_PASSWORD: Final = "F5_PASSWORD"  # also the key of the F5 Secret
# The file holding the password (the Secret's key mounted as a file): a pod's environment is visible
# to whoever inspects its container. Takes precedence over F5_PASSWORD, which serves local runs.
F5_PASSWORD_FILE: Final = "F5_PASSWORD_FILE"
F5_VERIFY_TLS: Final = "F5_VERIFY_TLS"
F5_PARTITION: Final = "F5_PARTITION"
F5_VIP_ADDRESS: Final = "F5_VIP_ADDRESS"
F5SYNC_NAMESPACE: Final = "F5SYNC_NAMESPACE"
F5SYNC_OWNER: Final = "F5SYNC_OWNER"
F5SYNC_RESYNC_SECONDS: Final = "F5SYNC_RESYNC_SECONDS"
F5SYNC_DEBOUNCE_SECONDS: Final = "F5SYNC_DEBOUNCE_SECONDS"
F5SYNC_LISTEN: Final = "F5SYNC_LISTEN"
F5SYNC_POD_ROUTES: Final = "F5SYNC_POD_ROUTES"  # one of POD_ROUTE_SOURCES

# Where the F5's routes to the pod network come from (static routes, one per pod address block,
# through the node that holds it), for cluster mode on an F5 that nothing else routes there.
POD_ROUTES_OFF: Final = "off"  # none: the F5 reaches pods otherwise (BGP, a flat network, in-cluster)
POD_ROUTES_PODCIDR: Final = "podcidr"  # each Node's spec.podCIDRs (kube-router, flannel, kindnet)
POD_ROUTES_CALICO: Final = "calico"  # Calico IPAM's confirmed BlockAffinities
POD_ROUTES_AUTO: Final = "auto"  # calico when the API serves BlockAffinities, else podcidr
POD_ROUTE_SOURCES: Final = (POD_ROUTES_OFF, POD_ROUTES_PODCIDR, POD_ROUTES_CALICO, POD_ROUTES_AUTO)

SECRET_ENV_KEYS: Final = (F5_PASSWORD,)
CONFIG_ENV_KEYS: Final = (
    F5_URL,
    F5_USERNAME,
    F5_PASSWORD_FILE,
    F5_VERIFY_TLS,
    F5_PARTITION,
    F5_VIP_ADDRESS,
    F5SYNC_NAMESPACE,
    F5SYNC_OWNER,
    F5SYNC_RESYNC_SECONDS,
    F5SYNC_DEBOUNCE_SECONDS,
    F5SYNC_LISTEN,
    F5SYNC_POD_ROUTES,
)

# The port of /metrics and /healthz when F5SYNC_LISTEN is left at its default.
DEFAULT_HTTP_PORT: Final = 8080

# --- RBAC: read-only, nothing else ------------------------------------------------------------
# Nodes are cluster-scoped (ClusterRole); Services and EndpointSlices are read in F5SYNC_NAMESPACE.
CLUSTER_RULES: Final = ({"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},)
# Calico's block affinities, read where pod routes come from them (harmless where Calico is absent).
CALICO_RULES: Final = (
    {"apiGroups": ["crd.projectcalico.org"], "resources": ["blockaffinities"], "verbs": ["get", "list", "watch"]},
)
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


def route_name(network: str) -> str:
    """The static route to one pod address block (`10.244.1.0/24` -> `pods_10.244.1.0_24`): named
    after the block, so a block that moves to another node keeps its route, with a new gateway."""
    return "pods_" + network.replace("/", "_")


def owner_description(owner: str) -> str:
    """The `description` that marks pools, virtuals and routes as created by this environment's f5-sync."""
    return f"envbuilder f5-sync owner={owner}"
