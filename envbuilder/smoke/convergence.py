"""How long the F5 takes to follow the cluster: after a scale or a rolling update of a service whose pool
holds its pods (cluster mode), when the pool's members are the new pods and when the virtual server
answers from them alone.

While the change runs, a watch samples, about ten times a second and each with its own time: the
Service's ready endpoints (the pods Kubernetes says serve it), the pool's members through the F5's
iControl API, and one request to the VIP on a new connection. Once the change has returned and the
Deployment has rolled out, the new set is the Service's ready endpoints; the figures, in seconds
from the change's start, are when each sample began to hold for good:

- pods: the Service's ready endpoints are the new set (the cluster's own part: the engine's run,
  pods starting or stopping, readiness);
- pool: the pool's members are exactly the new set's addresses, each serving;
- VIP: after the last answer from outside the new set (or a failed one), every pod of the set has
  answered. An answer is the pod's whose name is in its body: the sample services' `/` names
  the pod that served it. The pool and VIP figures less the pods one are the F5's own part.
"""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2

from envbuilder.smoke.f5 import F5Reader, get_through_vip, member_key, member_serves, ready_pod_endpoints
from envbuilder.smoke.framework import CheckFailed
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.result import Convergence
from envbuilder.smoke.target import ServiceTarget, SmokeTarget

POLL_SECONDS = 0.1
# After the change returned: the rollout's end, the pool and the VIP. f5-sync follows in well under a second.
SETTLE_SECONDS = 60.0
VIP_PATH = "/"
VIP_SECONDS = 2.0

T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    at: float  # seconds from the change's start, when the answer came
    value: Any  # None: the read failed


def settled_at(samples: Sequence[Sample], holds: Callable[[Any], bool]) -> float | None:
    """When the last unbroken run of samples that hold began; None when the last sample does not hold."""
    since = None
    for sample in samples:
        if sample.value is not None and holds(sample.value):
            since = sample.at if since is None else since
        else:
            since = None
    return since


def answered_from_all_at(answers: Sequence[Sample], pods: Collection[str]) -> float | None:
    """When, after the last answer from outside `pods` (or a failed request), every pod of `pods` had answered.
    An answer's value is its body; it is a pod's when it holds the pod's name."""
    heard: set[str] = set()
    when = None
    for answer in answers:
        pod = next((pod for pod in pods if answer.value and pod in answer.value), None)
        if pod is None:
            heard, when = set(), None
            continue
        heard.add(pod)
        if when is None and heard >= set(pods):
            when = answer.at
    return when


@dataclass
class _Samples:
    endpoints: list[Sample] = field(default_factory=list)  # address -> pod name
    pool: list[Sample] = field(default_factory=list)  # frozenset of (address, serving)
    vip: list[Sample] = field(default_factory=list)  # the answer's body
    rolled_out: bool = False
    replicas: int | None = None


def _pool_is(addresses: frozenset[str]) -> Callable[[frozenset[tuple[str, bool]]], bool]:
    return lambda members: {key for key, _ in members} == addresses and all(serving for _, serving in members)


def figures(operation: str, service: str, samples: _Samples) -> Convergence:
    """The figures of a watch's samples, the new set being the last ready endpoints once rolled out."""
    final = samples.endpoints[-1].value if samples.rolled_out and samples.endpoints else None
    if not final or len(final) != samples.replicas:
        seen = f"{len(final)} ready endpoints" if final is not None else "no ready endpoints read"
        return Convergence(operation, service, samples.replicas or 0, None, None, None,
                           f"the Deployment did not roll out to {samples.replicas} ready pods ({seen})")
    addresses = frozenset(final)
    pods = settled_at(samples.endpoints, lambda endpoints: endpoints == final)
    pool = settled_at(samples.pool, _pool_is(addresses))
    vip = answered_from_all_at(samples.vip, set(final.values()))
    missing = [what for what, seconds in (("the pool", pool), ("the VIP", vip)) if seconds is None]
    note = f"{' and '.join(missing)} did not follow within {SETTLE_SECONDS:.0f} s" if missing else ""
    return Convergence(operation, service, len(final), pods, pool, vip, note)


def describe(samples: _Samples) -> str:
    """The last of each sample, for a diagnosis."""
    def last(kind: list[Sample]) -> str:
        return repr(kind[-1].value) if kind else "(none)"
    return (f"ready endpoints: {last(samples.endpoints)}\npool members (address, serving): {last(samples.pool)}\n"
            f"last VIP answer: {last(samples.vip)}")


class ConvergenceWatch:
    """Samples a service while a change runs in the caller's thread (the engine's calls block):

        with ConvergenceWatch(target, service, "scale up") as watch:
            scale(...)
        watch.result

    Leaving the block marks the change's end; the watch then goes on until the new set is settled everywhere
    or SETTLE_SECONDS pass. When the change raised, the watch stops at once and has no result."""

    def __init__(self, target: SmokeTarget, service: ServiceTarget, operation: str,
                 kube_transport: httpx2.AsyncBaseTransport | None = None) -> None:
        """`kube_transport` replaces the network under the Kubernetes client (tests)."""
        if not (target.f5 and service.vip_url):
            raise ValueError(f"{service.name} has no F5 or VIP reachable from the host")
        self.target, self.service, self.operation = target, service, operation
        self._kube_transport = kube_transport
        self.samples = _Samples()
        self.result: Convergence | None = None
        self._change_returned = threading.Event()
        self._stop = threading.Event()
        self._started = 0.0
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"convergence {operation}", daemon=True)

    def __enter__(self) -> "ConvergenceWatch":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        if exc_type is not None:
            self._stop.set()
        self._change_returned.set()
        self._thread.join()
        if exc_type is None:
            if self._failure:
                raise self._failure
            self.result = figures(self.operation, self.service.name, self.samples)

    def _now(self) -> float:
        return time.monotonic() - self._started

    def _run(self) -> None:
        try:
            asyncio.run(self._watch())
        except BaseException as error:  # handed to the caller's thread
            self._failure = error

    async def _watch(self) -> None:
        from envbuilder.smoke.suite import cluster_config

        deadline = None
        config = cluster_config(self.target.kubeconfig, self.target.kube_context)
        async with Kube(config, self._kube_transport) as kube:
            while not self._stop.is_set():
                tick = asyncio.create_task(asyncio.sleep(POLL_SECONDS))
                await asyncio.gather(self._read_deployment(kube), self._read_endpoints(kube), self._read_pool(),
                                     self._read_vip())
                if self._change_returned.is_set():
                    deadline = deadline or self._now() + SETTLE_SECONDS
                    settled = figures(self.operation, self.service.name, self.samples)
                    if settled.converged or self._now() > deadline:
                        return
                await tick

    async def _sampled(self, read: Awaitable[T], into: list[Sample]) -> None:
        try:
            value: Any = await read
        except CheckFailed:
            value = None
        into.append(Sample(self._now(), value))

    async def _read_deployment(self, kube: Kube) -> None:
        path = f"/apis/apps/v1/namespaces/{self.target.namespace}/deployments/{self.service.name}"
        try:
            deployment = await kube.get(path)
        except CheckFailed:
            self.samples.rolled_out = False
            return
        wanted = deployment["spec"].get("replicas", 1)
        status = deployment.get("status", {})
        self.samples.replicas = wanted
        self.samples.rolled_out = (
            status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
            and status.get("replicas") == status.get("updatedReplicas") == status.get("availableReplicas") == wanted
        )

    async def _read_endpoints(self, kube: Kube) -> None:
        await self._sampled(ready_pod_endpoints(kube, self.target.namespace, self.service), self.samples.endpoints)

    async def _read_pool(self) -> None:
        from f5sync.contract import pool_name

        assert self.target.f5
        reader = F5Reader(self.target.f5, self.service.partition,
                          pool_name(self.target.namespace, self.service.name, self.service.port))

        async def members() -> frozenset[tuple[str, bool]]:
            return frozenset((member_key(member), member_serves(member)) for member in await reader.members())

        await self._sampled(members(), self.samples.pool)

    async def _read_vip(self) -> None:
        assert self.service.vip_url

        async def answer() -> str | None:
            response = await get_through_vip(self.service.vip_url.rstrip("/") + VIP_PATH, timeout=VIP_SECONDS)
            return response.text if response.is_success else None

        await self._sampled(answer(), self.samples.vip)


def measured_service(target: SmokeTarget) -> ServiceTarget | None:
    """The first service whose F5 pool holds its pods (cluster mode) and whose VIP the host reaches."""
    return next((service for service in target.services
                 if service.exposed and service.f5_mode == "cluster" and service.vip_url and target.f5), None)
