"""Checks of the services themselves: health endpoints, catalog extra checks, and the web -> worker round trip.

Health and extra checks go through the API server's service proxy, so they reach services the F5
does not expose and tell a broken service apart from a broken F5.
"""

import uuid

import httpx

from envbuilder.smoke.evidence import HttpAnswer, http_answer, service_pods_evidence
from envbuilder.smoke.f5 import get_through_vip
from envbuilder.smoke.framework import Check, CheckFailed, CheckSkipped, Progress
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.target import ExtraCheck, RpcRoute, ServiceTarget

HEALTH_DEADLINE = 30.0
EXTRA_DEADLINE = 30.0
RPC_DEADLINE = 30.0
# Longer than the front's own wait for a worker (RPC_TIMEOUT_SECONDS, 5 s in the catalog), so its
# 504 and error body reach the report instead of a client-side read timeout.
RPC_HTTP_SECONDS = 15.0


def proxy_path(namespace: str, service: ServiceTarget, path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{service.name}:{service.port}/proxy{path}"


def expectation_failure(response: HttpAnswer, expect_status: int, expect_body: str | None) -> str | None:
    """What is wrong with `response`, or None when it is what the check expects."""
    if response.status_code != expect_status:
        return f"answered {response.status_code}, expected {expect_status}"
    if expect_body is not None and expect_body not in response.text:
        return f"answered {response.status_code} without {expect_body!r} in its body"
    return None


def _service_http_check(
    kube: Kube, namespace: str, service: ServiceTarget, name: str, expectation: ExtraCheck, deadline: float
) -> Check:
    path = proxy_path(namespace, service, expectation.path)

    async def attempt() -> str:
        response = await kube.request("GET", path)
        problem = expectation_failure(response, expectation.expect_status, expectation.expect_body)
        if problem is None:
            return f"{service.name} {expectation.path} answered {response.status_code}"
        pods = await service_pods_evidence(kube, namespace, service.name)
        raise CheckFailed(f"{service.name} {expectation.path} {problem}", f"{http_answer(response)}\n{pods}")

    async def probe(progress: Progress) -> str:
        return await progress.retry(attempt)

    return Check(name, deadline, probe)


def health_check(kube: Kube, namespace: str, service: ServiceTarget, deadline: float = HEALTH_DEADLINE) -> Check:
    expectation = ExtraCheck(name="health", path=service.health_path)
    return _service_http_check(kube, namespace, service, f"health:{service.name}", expectation, deadline)


def extra_check(
    kube: Kube, namespace: str, service: ServiceTarget, extra: ExtraCheck, deadline: float = EXTRA_DEADLINE
) -> Check:
    return _service_http_check(kube, namespace, service, f"{service.name}:{extra.name}", extra, deadline)


def rpc_check(
    kube: Kube, namespace: str, route: RpcRoute, vip_url: str | None, deadline: float = RPC_DEADLINE
) -> Check:
    """`route.path?payload=TOKEN` on the front's VIP answers 200 with TOKEN in its body once a worker replied.

    A fresh token per attempt proves the answer belongs to this request, not to a cached page.
    """

    async def attempt() -> str:
        token = uuid.uuid4().hex
        url = httpx.URL((vip_url or "").rstrip("/") + route.path, params={"payload": token})
        response = await get_through_vip(str(url), RPC_HTTP_SECONDS)
        problem = expectation_failure(response, 200, token)
        if problem is None:
            return f"{route.via} -> broker -> {route.worker} round trip through the F5: {route.path} answered 200"
        evidence = [http_answer(response)]
        for service in (route.via, route.worker):
            evidence.append(f"{service}:\n{await service_pods_evidence(kube, namespace, service)}")
        raise CheckFailed(f"{route.via} {route.path} through the F5 {problem}", "\n".join(evidence))

    async def probe(progress: Progress) -> str:
        if vip_url is None:
            raise CheckSkipped(f"{route.via} is not exposed through the F5")
        return await progress.retry(attempt)

    return Check(f"rpc:{route.via}->{route.worker}", deadline, probe)
