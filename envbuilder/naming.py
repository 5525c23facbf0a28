"""How envbuilder names and labels what it creates, so every layer finds it again by the same rule.

The desired state puts these names and labels on objects; the subprocess wrappers (cluster/),
`down` and `reap` find objects by them, and the tests and benchmarks look for them. Every name
derived from an environment's name is made here. Defined below all of them, so none imports another.
"""

ENVIRONMENT_LABEL = "envbuilder.io/environment"
# Which envbuilder home created the object: `down` and `reap` touch only their own home's objects.
OWNER_LABEL = "envbuilder.io/owner"
CLUSTER_PREFIX = "envbuilder-"
# The image registry of this machine (images.registry), shared by every environment and home: its
# container and volume carry no environment or owner label, so no `down`, `reap` or leftover check
# counts them. The host pushes to 127.0.0.1:REGISTRY_PORT; pods name images `localhost:REGISTRY_PORT/...`,
# which each kind node's containerd pulls from REGISTRY_CONTAINER on the cluster's Docker network.
REGISTRY_CONTAINER = "envbuilder-registry"  # and its volume
REGISTRY_PORT = 5001
REGISTRY_CONTAINER_PORT = 5000  # where it listens inside its container
REGISTRY_LABEL = "envbuilder.io/registry"  # on its container, volume and image: envbuilder's, no environment's


def cluster_name(environment: str) -> str:
    """The kind cluster of `environment`; its containers and volumes are named after it too."""
    return f"{CLUSTER_PREFIX}{environment}"


def namespace_name(environment: str) -> str:
    """The namespace of `environment`'s objects, on a kind cluster and on an existing one."""
    return f"env-{environment}"


def control_plane_node(environment: str) -> str:
    """The kind cluster's control-plane node (kind names it after the cluster)."""
    return f"{cluster_name(environment)}-control-plane"


def kind_node_names(environment: str, workers: int) -> list[str]:
    """Every node container of the kind cluster, as kind names them: the control plane, then
    `-worker`, `-worker2`, ..."""
    cluster = cluster_name(environment)
    return [control_plane_node(environment)] + [f"{cluster}-worker{index if index > 1 else ''}"
                                                 for index in range(1, workers + 1)]


def network_name(environment: str) -> str:
    """The environment's own Docker network: its kind nodes, F5 and classic containers, and nothing of any
    other environment's. Named like its cluster (Docker names networks apart from containers)."""
    return cluster_name(environment)


def f5_container_name(environment: str) -> str:
    """The mock F5's container beside the kind cluster."""
    return f"{cluster_name(environment)}-f5"


def f5_state_volume_name(environment: str) -> str:
    """The mock F5's configuration and certificate: kept when its container is replaced."""
    return f"{f5_container_name(environment)}-state"


def classic_container_name(environment: str, service: str) -> str:
    """A classic service's container beside the kind cluster."""
    return f"{cluster_name(environment)}-{service}"


def f5_sync_nodes_role(environment: str) -> str:
    """f5-sync's ClusterRole for reading nodes: cluster-scoped, so named after the environment."""
    return f"{cluster_name(environment)}-f5-sync-nodes"


def registry_reference(image: str, port: int = REGISTRY_PORT) -> str:
    """The name a kind node pulls `image` by once it is pushed to the machine's registry (at `port`)."""
    return f"localhost:{port}/{image}"


def identity_selector(environment: str, owner: str | None = None) -> str:
    """The label selector of `environment`'s objects (of `owner`'s only, when given)."""
    return f"{ENVIRONMENT_LABEL}={environment}" + (f",{OWNER_LABEL}={owner}" if owner else "")


def identity_labels(environment: str, owner: str) -> dict[str, str]:
    """The environment and its owner: on every object, container, volume and kind node."""
    return {ENVIRONMENT_LABEL: environment, OWNER_LABEL: owner}
