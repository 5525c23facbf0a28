"""The Calico manifest, pinned by the profile's calico_version.

The manifest is the Calico project's own; envbuilder pins its version and caches the file
under the state directory. Air-gapped machines point ENVBUILDER_CALICO_MANIFEST at a copy.
"""

import os
from pathlib import Path

import yaml

from envbuilder.errors import PrerequisiteError
from envbuilder.state.home import state_home

MANIFEST_URL = "https://raw.githubusercontent.com/projectcalico/calico/{version}/manifests/calico.yaml"


def calico_manifest(version: str) -> Path:
    """A local path to the Calico manifest of `version`: configured, cached, or fetched once."""
    configured = os.environ.get("ENVBUILDER_CALICO_MANIFEST")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise PrerequisiteError(f"ENVBUILDER_CALICO_MANIFEST={configured} does not exist")
        return _checked(path)
    cached = state_home() / "cache" / f"calico-{version}.yaml"
    if cached.is_file():
        return _checked(cached)
    import httpx

    url = MANIFEST_URL.format(version=version)
    try:
        response = httpx.get(url, timeout=30, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise PrerequisiteError(
            f"cannot fetch the Calico {version} manifest from {url}: {error}",
            hint="on a machine without that access, set ENVBUILDER_CALICO_MANIFEST to a copy of calico.yaml",
        ) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(response.text)
    return _checked(cached)


def _checked(path: Path) -> Path:
    try:
        kinds = {(doc or {}).get("kind") + "/" + ((doc or {}).get("metadata") or {}).get("name", "")
                 for doc in yaml.safe_load_all(path.read_text()) if doc}
    except (yaml.YAMLError, TypeError) as error:
        raise PrerequisiteError(f"{path} is not a Calico manifest: {error}") from None
    if "DaemonSet/calico-node" not in kinds:
        raise PrerequisiteError(f"{path} is not a Calico manifest: it has no calico-node DaemonSet")
    return path
