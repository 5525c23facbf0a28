"""Who owns what envbuilder creates: an identity of the state home, made once and kept in it.

Every container, volume, kind cluster, Kubernetes object and record carries it, so `down`
and `reap` can tell this home's objects from those of another home on the same machine
(another user, a CI job, a second checkout) and leave the latter alone.
"""

import os
import secrets
from pathlib import Path

from envbuilder.errors import EnvbuilderError
from envbuilder.state.home import state_home

IDENTITY_FILE = "identity"


def home_identity() -> str:
    """A random id (16 hex digits, a valid label value), created on first use; racing processes agree on one."""
    path = state_home() / IDENTITY_FILE
    if path.is_file():
        return _read(path)
    candidate = path.with_name(f".{IDENTITY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    candidate.write_text(secrets.token_hex(8) + "\n")
    try:
        os.link(candidate, path)  # fails when another process got there first: theirs wins
    except FileExistsError:
        pass
    finally:
        candidate.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    identity = path.read_text().strip()
    if not identity:
        raise EnvbuilderError(f"{path} is empty", hint="remove it; envbuilder then makes a new identity for this home")
    return identity
