"""Kubeconfigs read the way kubectl reads them: f5-sync's, and envbuilder's smoke checks' (one loader).

Both authenticate through lightkube, which handles exec plugins (EKS, GKE, AKS), token files,
bearer tokens, basic auth, client certificates and CA data.
"""

from pathlib import Path

import msgspec
import yaml
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import User
from lightkube.core.exceptions import ConfigError


class KubeconfigError(Exception):
    """The kubeconfig (or the service account) cannot be used; the message says which and why."""


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
        raise KubeconfigError(f"cannot use kubeconfig {where} (context {context or 'current'}): {error}") from None
    return config._replace(user=user)
