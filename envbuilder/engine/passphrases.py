"""Each stack's own passphrase, which encrypts its secrets (the generated passwords in its config and state).

Random, made with the stack, kept in a 0600 file of the stack's workspace (which is 0700) and
handed to Pulumi as PULUMI_CONFIG_PASSPHRASE_FILE, never in an environment variable.
"""

import os
import secrets
from pathlib import Path

PASSPHRASE_FILE = "passphrase"
# The user's own passphrase variables: either would take precedence over the stack's passphrase file.
PASSPHRASE_VARIABLES = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


def passphrase_path(workspace: Path) -> Path:
    return workspace / PASSPHRASE_FILE


def existing_passphrase(workspace: Path) -> Path | None:
    """The stack's passphrase file, if this home has one: Pulumi refuses even to export a stack when the
    file named is missing."""
    path = passphrase_path(workspace)
    return path if path.is_file() else None


def make_passphrase(workspace: Path) -> Path:
    """A new random passphrase, in a file made 0600 before it is written, so it is never readable by others,
    even for a moment."""
    path = passphrase_path(workspace)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(32))
    return path
