"""The reconcile loop: watch the cluster, compute the desired F5 state, apply the difference."""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Node, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from f5sync import contract, diff
from f5sync.backoff import Backoff
from f5sync.icontrol import F5Error, F5Refused, IControlClient
from f5sync.kube import (
    BlockAffinity,
    Informer,
    block_affinity_info,
    endpoint_slice_info,
    node_info,
    service_info,
)
from f5sync.mapping import desired_state
from f5sync.metrics import Metrics
from f5sync.model import ClusterSnapshot
from f5sync.settings import Settings

log = logging.getLogger("envbuilder.f5sync")


@dataclass
class Health:
    synced: bool = False
    last_success_at: float | None = None  # time.monotonic()
    consecutive_failures: int = 0
    last_error: str | None = None
    refused_operations: int = 0  # operations the F5 refused, awaiting their retry


@dataclass(frozen=True)
class _Retry:
    """A refused operation: how often the F5 refused it, and when to try it again (time.monotonic())."""

    refusals: int
    due_at: float


class Controller:
    def __init__(
        self,
        settings: Settings,
        kube: AsyncClient,
        f5: IControlClient,
        metrics: Metrics,
        *,
        retry_backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.health = Health()
        self._f5 = f5
        self._description = contract.owner_description(settings.owner)
        self._retry_backoff = retry_backoff or Backoff(base=0.5, cap=min(30.0, settings.resync_seconds))
        self._clock = clock
        self._changed = asyncio.Event()
        self._first_change_at: float | None = None
        self._reported: tuple[str, ...] = ()
        # Keyed by the operation itself: once the cluster changes what an object should be,
        # the new operation is tried at once instead of waiting out the old one's backoff.
        self._refused: dict[diff.Operation, _Retry] = {}
        self._kube = kube
        # Resolved from `auto` when run() starts; until then, as set.
        self.pod_routes = settings.pod_routes
        common = {"on_change": self._on_change, "metrics": metrics}
        self._services = Informer(kube, Service, service_info, namespace=settings.namespace, **common)
        self._slices = Informer(kube, EndpointSlice, endpoint_slice_info, namespace=settings.namespace, **common)
        self._nodes = Informer(kube, Node, node_info, namespace=None, **common)
        self._blocks = Informer(kube, BlockAffinity, block_affinity_info, namespace=None, **common)
        self._informers = (self._services, self._slices, self._nodes)

    def _on_change(self) -> None:
        if self._first_change_at is None:
            self._first_change_at = self._clock()
        self._changed.set()

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot(
            services=tuple(self._services.store.values()),
            nodes=tuple(self._nodes.store.values()),
            endpoint_slices=tuple(self._slices.store.values()),
            block_affinities=tuple(self._blocks.store.values()),
        )

    async def _resolve_pod_routes(self) -> str:
        """`auto`: Calico's block affinities where the API serves them, else the nodes' podCIDRs."""
        if self.settings.pod_routes != contract.POD_ROUTES_AUTO:
            return self.settings.pod_routes
        try:
            async for _ in self._kube.list(BlockAffinity, chunk_size=1):
                break
        except ApiError as error:
            if error.status.code != 404:
                raise
            return contract.POD_ROUTES_PODCIDR
        except httpx2.HTTPStatusError as error:
            # An API server that does not know the resource answers a plain-text 404, not a Status.
            if error.response.status_code != 404:
                raise
            return contract.POD_ROUTES_PODCIDR
        return contract.POD_ROUTES_CALICO

    async def run(self) -> None:
        """Runs until cancelled."""
        self.pod_routes = await self._resolve_pod_routes()
        if self.pod_routes == contract.POD_ROUTES_CALICO:
            self._informers += (self._blocks,)
        log.info("pod routes", extra={"fields": {"source": self.pod_routes}})
        async with asyncio.TaskGroup() as informers:
            for informer in self._informers:
                informers.create_task(informer.run(), name=f"watch {informer.kind}")
            await asyncio.gather(*(informer.synced.wait() for informer in self._informers))
            self.health.synced = True
            log.info("cluster state synced", extra={"fields": {k.kind: len(k.store) for k in self._informers}})
            await self._reconcile_forever()

    async def _reconcile_forever(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=self._seconds_until_next_pass())
                await asyncio.sleep(self.settings.debounce_seconds)  # let a burst of events land
            except TimeoutError:
                pass  # periodic resync, or a refused operation's retry is due; a resync repairs drift
            seen_at, self._first_change_at = self._first_change_at, None
            self._changed.clear()
            try:
                await self.reconcile(seen_at)
            except F5Error as error:
                self.health.consecutive_failures += 1
                self.health.last_error = str(error)
                self.metrics.reconciles.labels("failed").inc()
                delay = self._retry_backoff.delay(self.health.consecutive_failures)
                log.warning("reconcile failed", extra={"fields": {"error": str(error), "retry_in_s": round(delay, 3)}})
                await asyncio.sleep(delay)
                # Retry soon, and keep the original change time so latency counts the outage.
                if seen_at is not None and (self._first_change_at is None or seen_at < self._first_change_at):
                    self._first_change_at = seen_at
                self._changed.set()

    def _seconds_until_next_pass(self) -> float:
        now = self._clock()
        return min([self.settings.resync_seconds, *(max(0.0, r.due_at - now) for r in self._refused.values())])

    async def reconcile(self, seen_at: float | None) -> None:
        """One pass: desired state vs. the F5's holdings, then the plan's calls.

        An operation the F5 refuses is logged, counted and retried with backoff in a later pass,
        and only the operations that depend on its object wait with it. F5Error (F5 unreachable,
        malformed answers) fails the whole pass.
        """
        started_at = self._clock()
        desired = desired_state(
            self.snapshot(),
            default_partition=self.settings.f5_partition,
            vip_address=self.settings.vip_address,
            pod_routes=self.pod_routes,
        )
        holdings = await self._f5.holdings(self._description, routes=self.pod_routes != contract.POD_ROUTES_OFF)
        plan = diff.plan(
            holdings.owned,
            desired.state,
            foreign_pools=holdings.foreign_pools,
            foreign_virtuals=holdings.foreign_virtuals,
            foreign_routes=holdings.foreign_routes,
        )
        self._report_once(desired.problems + plan.conflicts)
        since = seen_at if seen_at is not None else started_at
        refused: dict[diff.Operation, _Retry] = {}
        blocked: set[diff.ObjectRef] = set()
        applied = 0
        for operation in plan.operations:
            if diff.depends_on(operation) & blocked:
                continue
            earlier = self._refused.get(operation)
            if earlier is not None and earlier.due_at > self._clock():
                refused[operation] = earlier
                blocked.add(operation.subject)
                continue
            try:
                await self._apply(operation)
            except F5Refused as error:
                refused[operation] = self._refusal(operation, error, earlier)
                blocked.add(operation.subject)
                continue
            applied += 1
            self.metrics.changes.labels(operation.kind).inc()
            log.info(
                "f5 changed",
                extra={
                    "fields": {
                        **_describe(operation),
                        "latency_s": round(self._clock() - since, 4),
                        "trigger": "resync" if seen_at is None else "cluster",
                    }
                },
            )
        # Operations no longer planned are forgotten: done, or superseded by a change in the cluster.
        self._refused = refused
        self.health.refused_operations = len(refused)
        self.metrics.refused_operations.set(len(refused))
        if applied and seen_at is not None:
            self.metrics.convergence.observe(self._clock() - seen_at)
        result = "partial" if refused else "applied" if applied else "in_sync"
        self.metrics.reconciles.labels(result).inc()
        self.metrics.managed_members.set(sum(len(pool.members) for pool in desired.state.pools.values()))
        self.health.consecutive_failures = 0
        self.health.last_error = None
        self.health.last_success_at = self._clock()

    def _refusal(self, operation: diff.Operation, error: F5Refused, earlier: _Retry | None) -> _Retry:
        refusals = 1 if earlier is None else earlier.refusals + 1
        delay = self._retry_backoff.delay(refusals)
        self.metrics.refusals.labels(operation.kind).inc()
        log.warning(
            "f5 refused",
            extra={
                "fields": {
                    **_describe(operation),
                    "error": str(error),
                    "refusals": refusals,
                    "retry_in_s": round(delay, 3),
                }
            },
        )
        return _Retry(refusals, self._clock() + delay)

    async def _apply(self, operation: diff.Operation) -> None:
        match operation:
            case diff.CreatePool(pool):
                await self._f5.create_pool(pool, self._description)
            case diff.AddMember(partition, pool_name, member):
                await self._f5.add_member(partition, pool_name, member)
            case diff.RemoveMember(partition, pool_name, member):
                await self._f5.remove_member(partition, pool_name, member)
            case diff.CreateVirtual(virtual):
                await self._f5.create_virtual(virtual, self._description)
            case diff.UpdateVirtual(virtual):
                await self._f5.update_virtual(virtual)
            case diff.DeleteVirtual(partition, name):
                await self._f5.delete_virtual(partition, name)
            case diff.DeletePool(partition, name):
                await self._f5.delete_pool(partition, name)
            case diff.CreateRoute(route):
                await self._f5.create_route(route, self._description)
            case diff.UpdateRoute(route):
                await self._f5.update_route(route)
            case diff.DeleteRoute(partition, name):
                await self._f5.delete_route(partition, name)

    def _report_once(self, problems: tuple[str, ...]) -> None:
        """Logs annotation problems and name conflicts when they change, not on every pass."""
        if problems != self._reported:
            for problem in problems:
                log.warning("cannot sync", extra={"fields": {"problem": problem}})
            self._reported = problems


def _describe(operation: diff.Operation) -> dict[str, object]:
    fields: dict[str, object] = {"operation": operation.kind}
    match operation:
        case diff.CreatePool(pool):
            fields |= {"pool": f"/{pool.partition}/{pool.name}", "members": sorted(m.name for m in pool.members)}
        case diff.AddMember(partition, pool_name, member) | diff.RemoveMember(partition, pool_name, member):
            fields |= {"pool": f"/{partition}/{pool_name}", "member": member.name}
        case diff.CreateVirtual(virtual) | diff.UpdateVirtual(virtual):
            fields |= {
                "virtual": f"/{virtual.partition}/{virtual.name}",
                "destination": virtual.destination,
                "pool": virtual.pool_path,
            }
        case diff.DeleteVirtual(partition, name):
            fields |= {"virtual": f"/{partition}/{name}"}
        case diff.DeletePool(partition, name):
            fields |= {"pool": f"/{partition}/{name}"}
        case diff.CreateRoute(route) | diff.UpdateRoute(route):
            fields |= {"route": f"/{route.partition}/{route.name}", "network": route.network, "gw": route.gw}
        case diff.DeleteRoute(partition, name):
            fields |= {"route": f"/{partition}/{name}"}
    return fields
