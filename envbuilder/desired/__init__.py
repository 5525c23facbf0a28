"""Desired state: pure functions from an environment spec to what the environment holds.

Nothing here talks to a cluster, Docker or Pulumi, so `render` and the tests can call it
anywhere; the engine registers exactly these objects.
"""

from envbuilder.desired.state import Credentials, DesiredState, desired_state

__all__ = ["Credentials", "DesiredState", "desired_state"]
