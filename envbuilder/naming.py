"""How envbuilder names and labels what it creates, so every layer finds it again by the same rule.

The desired state puts these names and labels on objects; the subprocess wrappers (cluster/),
`down` and `reap` find objects by them. Defined here, below both, so neither imports the other.
"""

ENVIRONMENT_LABEL = "envbuilder.io/environment"
# Which envbuilder home created the object: `down` and `reap` touch only their own home's objects.
OWNER_LABEL = "envbuilder.io/owner"
CLUSTER_PREFIX = "envbuilder-"


def cluster_name(environment: str) -> str:
    """The kind cluster of `environment`; its containers and volumes are named after it too."""
    return f"{CLUSTER_PREFIX}{environment}"


def identity_labels(environment: str, owner: str) -> dict[str, str]:
    """The environment and its owner: on every object, container, volume and kind node."""
    return {ENVIRONMENT_LABEL: environment, OWNER_LABEL: owner}
