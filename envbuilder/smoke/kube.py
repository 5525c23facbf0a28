"""Just enough of the Kubernetes API for the checks: raw JSON reads and writes on lightkube's connection.

The kubeconfig is read by f5-sync's loader (f5sync.kubeconfig). The async client comes from the
same adapter lightkube's own typed client uses; the checks keep raw paths because they read what
typed resources do not cover: the service proxy, pod logs, events.
"""

from collections.abc import AsyncIterator
from typing import Any, Self

import httpx2
from lightkube.config.client_adapter import AsyncClient as lightkube_http_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ConfigError

from envbuilder.errors import EnvbuilderError
from envbuilder.smoke.framework import CheckFailed

REQUEST_SECONDS = 10.0


class Kube:
    """An async API client whose failures are CheckFailed with the API's own answer as diagnosis."""

    def __init__(self, config: SingleConfig, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.server = config.cluster.server.rstrip("/")
        try:
            self._http = lightkube_http_client(
                config, ConnectionParams(timeout=httpx2.Timeout(REQUEST_SECONDS), transport=transport)
            )
        except (ConfigError, OSError) as error:  # an unsupported auth, an unreadable certificate file
            legacy_provider = config.user is not None and config.user.auth_provider is not None
            raise EnvbuilderError(
                f"cannot connect with the kubeconfig's context {config.context_name!r}: {error}",
                hint="the providers' exec plugins (gke-gcloud-auth-plugin, kubelogin) replace auth-provider entries"
                if legacy_provider
                else None,
            ) from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """The raw answer, whatever its status (the service proxy's statuses are the service's own)."""
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx2.HTTPError as error:
            raise CheckFailed(
                f"Kubernetes API at {self.server} did not answer {method} {path}: {type(error).__name__}: {error}",
                "is the cluster running, and are the kubeconfig and context the environment's?",
            ) from None
        except ConfigError as error:  # raised while authenticating: an exec plugin or token file that failed
            raise CheckFailed(
                f"no credentials for the Kubernetes API at {self.server}: {error}",
                "the kubeconfig's exec plugin or token file failed; try the same context with kubectl",
            ) from None

    async def get(self, path: str, **params: str | int) -> dict[str, Any]:
        return _json(await self.request("GET", path, params=params))

    async def text(self, path: str, timeout: float = REQUEST_SECONDS, **params: str | int) -> str:
        response = await self.request("GET", path, params=params, timeout=timeout)
        _raise_for_status(response)
        return response.text

    async def lines(self, path: str, **params: str | int) -> AsyncIterator[str]:
        """The answer's lines as they arrive, with no time limit (a followed pod log)."""
        try:
            async with self._http.stream("GET", path, params=params, timeout=httpx2.Timeout(REQUEST_SECONDS, read=None)) as response:
                if not response.is_success:
                    await response.aread()
                    _raise_for_status(response)
                async for line in response.aiter_lines():
                    yield line
        except httpx2.HTTPError as error:
            raise CheckFailed(f"Kubernetes API at {self.server} stopped answering GET {path}: {error}") from None

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _json(await self.request("POST", path, json=body))

    async def delete(self, path: str) -> None:
        response = await self.request("DELETE", path, params={"gracePeriodSeconds": 0})
        if response.status_code != 404:
            _raise_for_status(response)


def _json(response: httpx2.Response) -> dict[str, Any]:
    _raise_for_status(response)
    return response.json()


def _raise_for_status(response: httpx2.Response) -> None:
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
