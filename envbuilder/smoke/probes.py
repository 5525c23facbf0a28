"""Checks that run short-lived probe pods: pod-to-pod traffic across nodes, and cluster DNS.

Bare pods with `restartPolicy: Never`, not Jobs: one attempt whose exit code, events and log are the
answer, where a Job would retry and bury the first failure. Pods are pinned with `nodeName` (no
scheduler involved, so a full or tainted node still gets its probe) and carry
`activeDeadlineSeconds`, so the kubelet ends them even if the check's cleanup never runs.
"""

import asyncio
from typing import Any, Self

from envbuilder.smoke.cluster import ready_nodes
from envbuilder.smoke.evidence import pod_evidence, pods_evidence
from envbuilder.smoke.framework import Check, CheckFailed, CheckSkipped, Progress
from envbuilder.smoke.kube import Kube

POD_NETWORK_DEADLINE = 60.0
DNS_DEADLINE = 45.0
POLL_SECONDS = 1.0
PROBE_LABEL = "envbuilder.io/smoke-probe"
SERVER_PORT = 8080

# The client keeps trying: a pod's network may come up a moment after the container starts.
_FETCH = """
import sys, time, urllib.request
url, attempts = sys.argv[1], int(sys.argv[2])
for attempt in range(attempts):
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            print("reached", url, "HTTP", answer.status)
            sys.exit(0)
    except Exception as error:
        print("attempt", attempt + 1, url, type(error).__name__, error, flush=True)
        if attempt + 1 < attempts:
            time.sleep(1)
sys.exit(1)
"""
_RESOLVE = "import socket; print(socket.gethostbyname('kubernetes.default'))"


def _probe_pod(purpose: str, image: str, command: list[str], node: str | None, lifetime: float) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": int(lifetime) + 30,
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "tolerations": [{"operator": "Exists"}],
        "containers": [{"name": "probe", "image": image, "imagePullPolicy": "IfNotPresent", "command": command}],
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"smoke-{purpose}-",
            "labels": {PROBE_LABEL: purpose, "app.kubernetes.io/managed-by": "envbuilder"},
        },
        "spec": spec,
    }


class ProbePod:
    """A probe pod for the duration of an `async with`; deleted on the way out, deadline or not."""

    def __init__(self, kube: Kube, namespace: str, manifest: dict[str, Any]) -> None:
        self.kube, self.namespace, self.manifest = kube, namespace, manifest
        self.name = ""

    async def __aenter__(self) -> Self:
        created = await self.kube.create(f"/api/v1/namespaces/{self.namespace}/pods", self.manifest)
        self.name = created["metadata"]["name"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.kube.delete(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}")
        except CheckFailed:
            pass  # activeDeadlineSeconds ends it anyway, and `down` removes the namespace

    async def read(self) -> dict[str, Any]:
        return await self.kube.get(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}")

    async def wait(self, progress: Progress, done: str) -> dict[str, Any]:
        """Poll until the pod reaches phase `done` ("Running" or "Succeeded"); fail at once if it fails."""

        async def attempt() -> str:
            pod = await self.read()
            phase = pod.get("status", {}).get("phase", "Pending")
            if phase == done and (done != "Running" or pod["status"].get("podIP")):
                return phase
            evidence = await pod_evidence(self.kube, self.namespace, pod)
            if phase in ("Failed", "Succeeded"):
                raise _Final(f"probe pod {self.name} ended {phase}", evidence)
            raise CheckFailed(f"probe pod {self.name} is {phase}, waiting for {done}", evidence)

        try:
            await progress.retry(attempt, POLL_SECONDS)
        except _Final as final:
            raise CheckFailed(final.summary, final.diagnosis) from None
        return await self.read()

    async def log(self) -> str:
        return await self.kube.text(f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/log")


class _Final(Exception):
    """A probe pod that ended: waiting longer cannot change the answer."""

    def __init__(self, summary: str, diagnosis: str) -> None:
        super().__init__(summary)
        self.summary, self.diagnosis = summary, diagnosis


def pod_network_check(kube: Kube, namespace: str, image: str, deadline: float = POD_NETWORK_DEADLINE) -> Check:
    """A pod on every other node fetches from an HTTP server pod on the first node (same node if only one)."""

    async def probe(progress: Progress) -> str:
        nodes = [node["metadata"]["name"] for node in await ready_nodes(kube)]
        if not nodes:
            raise CheckSkipped("no Ready node to place a probe pod on")
        server_node, client_nodes = nodes[0], nodes[1:] or nodes[:1]
        server_manifest = _probe_pod(
            "server",
            image,
            ["python3", "-m", "http.server", str(SERVER_PORT), "--directory", "/tmp"],
            server_node,
            deadline,
        )
        async with ProbePod(kube, namespace, server_manifest) as server:
            server_ip = (await server.wait(progress, "Running"))["status"]["podIP"]
            url = f"http://{server_ip}:{SERVER_PORT}/"
            reached = await asyncio.gather(
                *(_fetch_from(kube, namespace, image, node, url, server, progress, deadline) for node in client_nodes)
            )
        scope = "across nodes" if len(nodes) > 1 else "on the only node"
        return f"pod-to-pod HTTP {scope}: {', '.join(reached)} -> {server_node}"

    return Check("pod-network", deadline, probe)


async def _fetch_from(
    kube: Kube, namespace: str, image: str, node: str, url: str, server: ProbePod, progress: Progress, deadline: float
) -> str:
    attempts = max(1, int(deadline // 3))  # an attempt takes at most 3 s
    manifest = _probe_pod("client", image, ["python3", "-c", _FETCH, url, str(attempts)], node, deadline)
    async with ProbePod(kube, namespace, manifest) as client:
        try:
            await client.wait(progress, "Succeeded")
        except CheckFailed as failure:
            server_evidence = await pod_evidence(kube, namespace, await server.read())
            raise CheckFailed(
                f"pod on {node} cannot reach {url}: {failure.summary}",
                f"{failure.diagnosis}\nthe server pod:\n{server_evidence}",
            ) from None
    return node


def dns_check(kube: Kube, namespace: str, image: str, deadline: float = DNS_DEADLINE) -> Check:
    """A pod resolves kubernetes.default to the API Service's cluster IP."""

    async def probe(progress: Progress) -> str:
        service_ip = (await kube.get("/api/v1/namespaces/default/services/kubernetes"))["spec"]["clusterIP"]
        manifest = _probe_pod("dns", image, ["python3", "-c", _RESOLVE], None, deadline)
        async with ProbePod(kube, namespace, manifest) as pod:
            try:
                await pod.wait(progress, "Succeeded")
            except CheckFailed as failure:
                coredns = await pods_evidence(kube, "kube-system", "k8s-app=kube-dns")
                raise CheckFailed(
                    f"kubernetes.default does not resolve in a pod: {failure.summary}",
                    f"{failure.diagnosis}\nCoreDNS:\n{coredns}",
                ) from None
            answer = (await pod.log()).strip()
        if answer != service_ip:
            raise CheckFailed(
                f"kubernetes.default resolved to {answer!r}, not the API Service's {service_ip}",
                "a stale or foreign DNS answer: check CoreDNS's configuration and the pod's resolv.conf",
            )
        return f"kubernetes.default -> {answer} from a pod"

    return Check("cluster-dns", deadline, probe)
