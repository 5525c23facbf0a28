"""Environment names: DNS labels, so they can name a kind cluster, a namespace and a stack."""

import getpass
import re
import subprocess

from envbuilder.errors import InputError

MAX_NAME_LENGTH = 40  # leaves room for prefixes such as "envbuilder-" within the 63 of a DNS label
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def validate_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not _DNS_LABEL.match(name):
        raise InputError(
            f"invalid environment name {name!r}: use lowercase letters, digits and '-', "
            f"starting with a letter, at most {MAX_NAME_LENGTH} characters"
        )
    return name


def default_name(user: str | None = None, branch: str | None = None) -> str:
    """`<user>-<branch>`, squeezed into a DNS label: the same for the same person on the same branch."""
    user = user if user is not None else getpass.getuser()
    branch = branch if branch is not None else _current_branch()
    raw = f"{user}-{branch}" if branch else user
    label = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"env-{label}".rstrip("-")
    return label[:MAX_NAME_LENGTH].rstrip("-")


def _current_branch() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    branch = result.stdout.strip()
    return branch if result.returncode == 0 and branch != "HEAD" else None
