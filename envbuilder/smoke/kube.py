"""Just enough of the Kubernetes API for the checks: kubeconfig access and JSON reads and writes over httpx.

httpx rather than the `kubernetes` client: the checks run concurrently on asyncio, and the synchronous
client would need a thread per call; the few reads and the pod create/delete need nothing more.
"""

import base64
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
import yaml

from envbuilder.errors import EnvbuilderError
from envbuilder.smoke.framework import CheckFailed


@dataclass(frozen=True)
class KubeAccess:
    server: str
    verify: ssl.SSLContext | bool
    headers: dict[str, str]


def load_kubeconfig(path: Path, context: str | None = None) -> KubeAccess:
    """The server, TLS settings and credentials of `context` (or the current context) in `path`."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise EnvbuilderError(f"cannot read kubeconfig {path}: {error}") from None
    context_name = context or config.get("current-context")
    context_entry = _named(config, "contexts", context_name, path)["context"]
    cluster = _named(config, "clusters", context_entry["cluster"], path)["cluster"]
    user = _named(config, "users", context_entry["user"], path).get("user") or {}
    base = path.parent
    verify: ssl.SSLContext | bool
    if cluster.get("insecure-skip-tls-verify"):
        verify = False
    else:
        verify = ssl.create_default_context()
        ca = _pem(cluster, "certificate-authority", base)
        if ca:
            verify.load_verify_locations(cadata=ca.decode())
    headers: dict[str, str] = {}
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    elif user.get("username"):
        basic = base64.b64encode(f"{user['username']}:{user.get('password', '')}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    certificate, key = _pem(user, "client-certificate", base), _pem(user, "client-key", base)
    if certificate and key:
        if verify is False:
            verify = ssl.create_default_context()
            verify.check_hostname, verify.verify_mode = False, ssl.CERT_NONE
        _load_client_certificate(verify, certificate, key)
    return KubeAccess(server=cluster["server"].rstrip("/"), verify=verify, headers=headers)


def _named(config: dict[str, Any], section: str, name: str | None, path: Path) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return entry
    raise EnvbuilderError(f"kubeconfig {path} has no {section[:-1]} named {name!r}")


def _pem(entry: dict[str, Any], field: str, base: Path) -> bytes | None:
    if entry.get(f"{field}-data"):
        return base64.b64decode(entry[f"{field}-data"])
    if entry.get(field):
        return (base / entry[field]).read_bytes()
    return None


def _load_client_certificate(context: ssl.SSLContext, certificate: bytes, key: bytes) -> None:
    # ssl reads client certificates only from files; they live just long enough to be loaded.
    with tempfile.TemporaryDirectory() as directory:
        certificate_file, key_file = Path(directory, "client.crt"), Path(directory, "client.key")
        certificate_file.write_bytes(certificate)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key)
        context.load_cert_chain(certificate_file, key_file)


class Kube:
    """An async API client whose failures are CheckFailed with the API's own answer as diagnosis."""

    def __init__(self, access: KubeAccess, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.server = access.server
        self._http = httpx.AsyncClient(
            base_url=access.server, verify=access.verify, headers=access.headers, timeout=10.0, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The raw answer, whatever its status (the service proxy's statuses are the service's own)."""
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise CheckFailed(
                f"Kubernetes API at {self.server} did not answer {method} {path}: {type(error).__name__}: {error}",
                "is the cluster running, and are the kubeconfig and context the environment's?",
            ) from None

    async def get(self, path: str, **params: str | int) -> dict[str, Any]:
        return _json(await self.request("GET", path, params=params))

    async def text(self, path: str, timeout: float = 10.0, **params: str | int) -> str:
        response = await self.request("GET", path, params=params, timeout=timeout)
        _raise_for_status(response)
        return response.text

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _json(await self.request("POST", path, json=body))

    async def delete(self, path: str) -> None:
        response = await self.request("DELETE", path, params={"gracePeriodSeconds": 0})
        if response.status_code != 404:
            _raise_for_status(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    _raise_for_status(response)
    return response.json()


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        message = response.json().get("message", response.text)
    except ValueError:
        message = response.text
    raise CheckFailed(
        f"Kubernetes API answered {response.status_code} to {response.request.method} {response.request.url.path}",
        str(message)[:2000],
    )
