"""The smoke suite of an environment: which checks apply, and running them."""

from dataclasses import replace
from pathlib import Path

import httpx2
from f5sync.kubeconfig import KubeconfigError, load_kubeconfig
from lightkube.config.kubeconfig import SingleConfig

from envbuilder.errors import EnvbuilderError
from envbuilder.smoke.broker import broker_check
from envbuilder.smoke.cluster import NETWORK_AGENTS_CHECK, network_agents_check, nodes_ready_check
from envbuilder.smoke.f5 import pool_check, vip_check
from envbuilder.smoke.framework import Check, run_checks, skipped_check
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.probes import dns_check, pod_network_check
from envbuilder.smoke.result import CheckResult
from envbuilder.smoke.services import extra_check, health_check, rpc_check
from envbuilder.smoke.target import (
    SmokeTarget,
    kubeconfig_of,
    read_credentials,
    recorded_services,
    target_from_record,
)
from envbuilder.state.records import EnvironmentRecord


def smoke_checks(target: SmokeTarget, kube: Kube) -> list[Check]:
    """The checks that apply to the target, none with a deadline beyond its time limit (the profile's)."""
    checks = _applicable_checks(target, kube)
    if target.time_limit_seconds is None:
        return checks
    return [replace(check, deadline_seconds=min(check.deadline_seconds, target.time_limit_seconds)) for check in checks]


def _applicable_checks(target: SmokeTarget, kube: Kube) -> list[Check]:
    namespace = target.namespace
    checks = [nodes_ready_check(kube, target.node_count)]
    if target.network_daemonset:
        checks.append(network_agents_check(kube, target.network_daemonset))
    else:
        checks.append(skipped_check(NETWORK_AGENTS_CHECK, "the cluster's pod network is not envbuilder's"))
    if target.probe_image:
        checks += [
            pod_network_check(kube, namespace, target.probe_image),
            dns_check(kube, namespace, target.probe_image),
        ]
    else:
        no_image = "no service image on the nodes to run a probe pod with"
        checks += [skipped_check("pod-network", no_image), skipped_check("cluster-dns", no_image)]
    if target.broker_url:
        checks.append(broker_check(target.broker_url))
    else:
        checks.append(
            skipped_check("broker-round-trip", "no service needs the broker, or it is not reachable from the host")
        )
    for service in target.services:
        checks.append(health_check(kube, namespace, service))
        if service.exposed and target.f5 and service.vip_url:
            checks += [
                pool_check(kube, namespace, target.f5, service),
                vip_check(kube, namespace, target.f5, service, service.vip_url),
            ]
        elif service.exposed:
            checks.append(skipped_check(f"f5:{service.name}", "the F5 is not reachable from the host on this target"))
        checks += [extra_check(kube, namespace, service, extra) for extra in service.extra_checks]
    if target.rpc:
        front = target.service(target.rpc.via)
        checks.append(rpc_check(kube, namespace, target.rpc, front.vip_url if front else None))
    return checks


def cluster_config(path: Path, context: str | None) -> SingleConfig:
    """The kubeconfig read by f5-sync's loader (one way to read one), its error made envbuilder's."""
    try:
        return load_kubeconfig(path, context)
    except KubeconfigError as error:
        raise EnvbuilderError(str(error)) from None


async def run_smoke(target: SmokeTarget, kube_transport: httpx2.AsyncBaseTransport | None = None) -> list[CheckResult]:
    """Every check at once. `kube_transport` replaces the network under the Kubernetes client (tests)."""
    async with Kube(cluster_config(target.kubeconfig, target.kube_context), kube_transport) as kube:
        return await run_checks(smoke_checks(target, kube))


# Liveness answers in well under a second when the environment is well; a sick one is not waited for.
LIVENESS_DEADLINE = 3.0


def liveness_checks(target: SmokeTarget, kube: Kube) -> list[Check]:
    """The quick subset an unchanged environment is held to: the API server answers with every node Ready,
    each service answers its health path, each VIP answers through the F5. No probe pods, no broker round
    trip, each with a short deadline."""
    checks = [nodes_ready_check(kube, target.node_count, deadline=LIVENESS_DEADLINE)]
    for service in target.services:
        checks.append(health_check(kube, target.namespace, service, deadline=LIVENESS_DEADLINE))
        if service.exposed and target.f5 and service.vip_url:
            checks.append(vip_check(kube, target.namespace, target.f5, service, service.vip_url,
                                    deadline=LIVENESS_DEADLINE))
    return checks


async def recorded_target(record: EnvironmentRecord) -> SmokeTarget:
    """The checks' view of a recorded environment, with the credentials read from its Secrets."""
    async with Kube(cluster_config(kubeconfig_of(record), record.kube_context)) as kube:
        return target_from_record(record, await read_credentials(kube, record.namespace))


async def smoke_environment(record: EnvironmentRecord, *, liveness_only: bool = False) -> list[CheckResult]:
    """The checks of a recorded environment (or only its liveness), with the credentials read from its Secrets."""
    recorded_services(record)  # a record that cannot say what to check is refused before connecting
    async with Kube(cluster_config(kubeconfig_of(record), record.kube_context)) as kube:
        target = target_from_record(record, await read_credentials(kube, record.namespace))
        checks = liveness_checks(target, kube) if liveness_only else smoke_checks(target, kube)
        return await run_checks(checks)
