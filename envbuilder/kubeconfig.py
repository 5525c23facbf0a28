"""The user's own kubeconfig, found the way kubectl finds it (reading one is f5sync.kubeconfig's)."""

import os
from pathlib import Path


def default_kubeconfig() -> Path:
    """The first file of $KUBECONFIG, else ~/.kube/config."""
    listed = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(listed) if listed else Path.home() / ".kube" / "config"
