"""`python -m envbuilder.components.f5sync`: the container's entrypoint; settings from the environment."""

import os
import sys

import pydantic

from envbuilder.components.f5sync import logs
from envbuilder.components.f5sync.service import run_until_stopped
from envbuilder.components.f5sync.settings import Settings


def main() -> None:
    logs.configure()
    try:
        settings = Settings.from_env(os.environ)
    except pydantic.ValidationError as error:
        sys.exit(f"f5-sync: invalid settings: {error}")
    # In a pod the service account is found on its own; KUBECONFIG serves runs elsewhere.
    run_until_stopped(settings)


main()
