"""Kubeconfigs found and read the way kubectl finds and reads them, for everything envbuilder runs against a cluster.

The smoke checks and f5-sync both authenticate through lightkube, which handles exec plugins
(EKS, GKE, AKS), token files, bearer tokens, basic auth, client certificates and CA data.
"""

import os
from pathlib import Path

import msgspec
import yaml
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import User
from lightkube.core.exceptions import ConfigError

from envbuilder.errors import EnvbuilderError


def default_kubeconfig() -> Path:
    """The user's own kubeconfig, as kubectl finds it: the first file of $KUBECONFIG, else ~/.kube/config."""
    listed = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(listed) if listed else Path.home() / ".kube" / "config"


def load_kubeconfig(path: Path | str | None = None, context: str | None = None) -> SingleConfig:
    """The cluster, user and settings of `context` (or the current context) in `path`; without a path,
    the pod's service account, else $KUBECONFIG or ~/.kube/config."""
    try:
        config = (KubeConfig.from_file(path) if path else KubeConfig.from_env()).get(context)
        assert config is not None  # get() without a default raises rather than return None
        user = config.user or User()  # no user: anonymous, as kubectl would be
        if user.token_file:
            # kubectl reads a relative tokenFile next to the kubeconfig; lightkube would read it from the cwd.
            user = msgspec.structs.replace(user, token_file=str(config.abs_file(user.token_file)))
    except (ConfigError, OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as error:
        where = path or "the service account, $KUBECONFIG or ~/.kube/config"
        raise EnvbuilderError(f"cannot use kubeconfig {where} (context {context or 'current'}): {error}") from None
    return config._replace(user=user)
