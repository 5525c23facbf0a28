"""The `envbuilder` command line.

Each module of this package adds its commands to `app`. Heavy modules (Pulumi, the
Kubernetes client) are imported inside the commands that need them, so `envbuilder --help`
starts fast. The programs an environment runs have their own commands (`f5-mock`, `f5-sync`:
components/).
"""

from envbuilder.cli.app import app

# Command modules register themselves on `app` when imported.
from envbuilder.cli import environments  # noqa: E402,F401  up, down, list, status, services, render, scale
from envbuilder.cli import smoke  # noqa: E402,F401  smoke
from envbuilder.cli import images  # noqa: E402,F401  images build, images base
from envbuilder.cli import doctor  # noqa: E402,F401  doctor
from envbuilder.cli import dev  # noqa: E402,F401  dev, logs


def main() -> None:
    app()
