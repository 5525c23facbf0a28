"""Desired state: pure functions from an environment spec to what the environment holds.

Nothing here talks to a cluster, Docker or Pulumi, so `render` and the tests can call it
anywhere; the engine registers exactly these objects.
"""

from envbuilder.desired.state import (
    PENDING_ADDRESSES,
    Credentials,
    DesiredState,
    desired_state,
    pending_credentials,
    resolve,
)

__all__ = ["PENDING_ADDRESSES", "Credentials", "DesiredState", "desired_state", "pending_credentials", "resolve"]
