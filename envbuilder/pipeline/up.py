"""`envbuilder up` and `envbuilder scale`: an ordered list of small actions, each with a status line.

Input is checked in full before anything is created. The environment's record is written
before the first resource, so an interrupted run always leaves something `down` can find;
the next command on the environment recovers the stack instead of failing.
"""

import getpass
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime

from envbuilder.cluster.kind import kind_context
from envbuilder.desired.phases import Phase
from envbuilder.desired.state import state_digest
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.kubeconfig import default_kubeconfig
from envbuilder.pipeline.output import console
from envbuilder.pipeline.prerequisites import Prerequisites, check_prerequisites
from envbuilder.pipeline.progress import Progress
from envbuilder.pipeline.request import EnvironmentRequest, ResolvedRequest
from envbuilder.images.build import COMPONENTS
from envbuilder.spec.environment import EnvironmentSpec, recorded_images
from envbuilder.spec.profile import PodNetwork
from envbuilder.state import ports as host_ports
from envbuilder.state.home import state_home
from envbuilder.state.locks import environment_lock
from envbuilder.state.records import EnvironmentRecord, HostPorts, find_record, list_records, save_record


class EnvironmentExists(InputError):
    """`up` was asked to create an environment that already exists; nothing was done to it."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"environment {name} already exists; verify stands up and removes an environment of its own",
            hint=f"choose another --name, or check this one with: envbuilder smoke {name}",
        )


def up(request: EnvironmentRequest, *, smoke: bool = True, create_only: bool = False, refresh: bool = False,
       full_smoke: bool = False, undo_live_changes: bool = True, rolls: Collection[str] = ()) -> EnvironmentRecord:
    """Create the environment, or bring it up to date; `create_only` refuses one that exists.

    An environment whose state would not change (desired.state_digest as at its last successful `up`)
    and that is alive gets no engine run: its liveness checks (or with `full_smoke` the whole suite)
    are the whole of `up`. `refresh` runs the engine anyway. The services `envbuilder dev` put live
    changes into start again from their images, unless `undo_live_changes` is off (scale); so do the
    services in `rolls`, their pods replaced one by one (roll)."""
    resolved = request.resolve()
    spec = resolved.spec
    _warn_about_expired(spec.name)
    with environment_lock(spec.name):
        previous = find_record(spec.name)
        if previous and create_only:
            raise EnvironmentExists(spec.name)
        if previous and previous.target != spec.target:
            raise InputError(
                f"environment {spec.name} runs on target {previous.target}; "
                f"remove it first (envbuilder down {spec.name}) to change its target"
            )
        if previous:
            resolved = replace(resolved, backend_url=previous.resolve_backend(resolved.backend_url))
            resolved = _with_code_resets(resolved, previous, undo_live_changes, rolls)
            if not refresh and _unchanged(resolved, previous) and _alive(previous, full_smoke=full_smoke):
                if resolved.ttl_is_explicit:
                    previous.ttl_seconds = int((datetime.now(UTC) - previous.created_at + resolved.ttl).total_seconds())
                    save_record(previous)
                return previous
        console.print(f"{'Updating' if previous else 'Creating'} environment [bold]{spec.name}[/] "
                      f"({', '.join(s.name for s in spec.services)}) at revision {spec.revision}")
        with Progress(console) as progress:
            with progress.phase(Phase.PREREQUISITES):
                prerequisites = check_prerequisites(
                    spec, resolved.node_image or (previous.node_image if previous else None),
                    creating=previous is None or previous.status != "ready",
                    pod_network=resolved.pod_network, kept_pod_network=_kept_pod_network(previous),
                )
                if prerequisites.pod_network:
                    progress.note(Phase.PREREQUISITES, str(prerequisites.pod_network))
            record = _record_for(resolved, previous, prerequisites)
            try:
                _apply(resolved, record, prerequisites, progress)
                record.status = "ready"
                record.code_resets = dict(resolved.spec.code_resets)
                if undo_live_changes:
                    record.live_changes = {}
                if smoke:
                    _smoke(record, progress)
                record.applied_digest = _digest(resolved, record)
            except BaseException:
                progress.finish_running(ok=False)
                record.status = "failed"
                raise
            finally:
                record.phases = progress.records()
                save_record(record)
    console.print(f"[green]environment {spec.name} is ready[/]; see it with: envbuilder status {spec.name}")
    return record


def scale(name: str, replicas: dict[str, int], backend_url: str | None = None) -> EnvironmentRecord:
    return _update_as_recorded(name, replicas, (), backend_url)


def roll(name: str, services: Collection[str], backend_url: str | None = None) -> EnvironmentRecord:
    """A rolling update of `services` with nothing else changed: new pods from the same images and configuration
    (verify times the F5 following it)."""
    return _update_as_recorded(name, {}, services, backend_url)


def _update_as_recorded(name: str, replicas: dict[str, int], rolls: Collection[str],
                        backend_url: str | None) -> EnvironmentRecord:
    """`up` of the environment as its record has it, but for `replicas` and the services to roll."""
    from envbuilder.state.records import load_record

    record = load_record(name)
    for service in [*replicas, *rolls]:
        if service not in record.services:
            raise InputError(f"environment {name} has no service {service!r}; its services: {', '.join(record.services)}")
    overrides = [f"{svc}.{key}={value}" for svc, config in record.overrides.items() for key, value in config.items()]
    request = EnvironmentRequest(
        services=record.services, name=record.name, profile=record.profile, overrides=overrides,
        replicas={**record.replicas, **replicas}, revision=record.revision, recorded_images=recorded_images(record.images, record.revision, [*record.services, *COMPONENTS]),
        target=record.target,
        # On kind the recorded context is the one kind made; only an existing cluster's is chosen by the user.
        kube_context=record.kube_context if record.target == "existing" else None,
        backend_url=record.resolve_backend(backend_url),
    )
    return up(request, smoke=False, undo_live_changes=False, rolls=rolls)


def _with_code_resets(resolved: ResolvedRequest, previous: EnvironmentRecord, undo_live_changes: bool,
                      rolls: Collection[str]) -> ResolvedRequest:
    """The request with each service's reset count as recorded, one more for each service with live changes
    to undo or to roll: their pods roll (classic containers are replaced) even where the image is the same."""
    resets = dict(previous.code_resets)
    for service in {*(previous.live_changes if undo_live_changes else ()), *rolls}:
        resets[service] = resets.get(service, 0) + 1
    names = {service.name for service in resolved.spec.services}
    resets = {service: count for service, count in resets.items() if service in names}
    return replace(resolved, spec=replace(resolved.spec, code_resets=resets))


def _record_for(resolved: ResolvedRequest, previous: EnvironmentRecord | None, prerequisites: Prerequisites) -> EnvironmentRecord:
    """The environment's record with its host ports, written before anything is created."""
    spec = resolved.spec
    nodes = prerequisites.nodes
    wanted_vips = [service.name for service in spec.exposed]
    smoke_facts = {
        "catalog": [service.entry.model_dump(mode="json") for service in spec.services],
        "node_count": spec.profile.workers + 1 if spec.target == "kind" else None,
        "smoke_timeout_seconds": spec.profile.timeouts.smoke,
    }
    if previous:
        ports = previous.ports
        missing = [name for name in wanted_vips if name not in ports.vips]
        if missing:
            ports.vips.update(zip(missing, host_ports.allocate(spec.name, len(missing))))
        ports.vips = {name: port for name, port in ports.vips.items() if name in wanted_vips}
        update = {
            "services": [s.name for s in spec.services], "revision": spec.revision, "images": spec.images,
            "profile": spec.profile.name,
            "overrides": resolved.overrides, "replicas": resolved.replicas, "ports": ports, "status": "creating",
            "message": None,
            "node_image": nodes.image if nodes else None, **_pod_network_facts(prerequisites),
            **smoke_facts,
        }
        if resolved.ttl_is_explicit:  # from now on, as on creation
            update["ttl_seconds"] = int((datetime.now(UTC) - previous.created_at + resolved.ttl).total_seconds())
        record = previous.model_copy(update=update)
    else:
        allocated = host_ports.allocate(spec.name, 2 + len(wanted_vips))
        record = EnvironmentRecord(
            name=spec.name,
            owner=getpass.getuser(),
            owner_id=spec.owner,
            backend_url=resolved.backend_url,
            created_at=datetime.now(UTC),
            ttl_seconds=int(resolved.ttl.total_seconds()),
            profile=spec.profile.name,
            services=[s.name for s in spec.services],
            revision=spec.revision,
            images=spec.images,
            target=spec.target,
            namespace=spec.namespace,
            kube_context=spec.kube_context if spec.target == "existing" else kind_context(spec.cluster_name),
            kubeconfig=str(_kubeconfig_path(spec) if spec.target == "kind" else default_kubeconfig()),
            node_image=nodes.image if nodes else None,
            **_pod_network_facts(prerequisites),
            ports=HostPorts(f5_api=allocated[0], broker=allocated[1], vips=dict(zip(wanted_vips, allocated[2:]))),
            overrides=resolved.overrides,
            replicas=resolved.replicas,
            **smoke_facts,
        )
    save_record(record)
    return record


def _pod_network_facts(prerequisites: Prerequisites) -> dict[str, str | None]:
    choice = prerequisites.pod_network
    return {"pod_network": choice.network.value if choice else None, "pod_network_reason": choice.reason if choice else None}


def _kept_pod_network(previous: EnvironmentRecord | None) -> PodNetwork | None:
    """The pod network of an environment that came up once (its cluster runs it), which an update keeps."""
    if previous is None or previous.pod_network is None or previous.applied_digest is None:
        return None
    return PodNetwork(previous.pod_network)


def _kubeconfig_path(spec: EnvironmentSpec):
    return state_home() / "kube" / f"{spec.name}.yaml"


def _apply(resolved: ResolvedRequest, record: EnvironmentRecord, prerequisites: Prerequisites, progress: Progress) -> None:
    from envbuilder.engine.api import ProgramInputs, open_stack, stop_orphaned_engines

    spec = resolved.spec
    images_to_push: dict[str, str] = {}
    if spec.target == "kind":
        from envbuilder.pipeline.images import ensure_environment_images, ensure_machine_registry

        def say(message: str) -> None:
            console.print(f"   [dim]{message}[/]")

        with progress.phase(Phase.IMAGES):
            images = ensure_environment_images(spec, resolved.revision, say=say)
            ensure_machine_registry(say)
        images_to_push = images.to_push
        if images.broker:
            spec = spec.with_broker_image(images.broker)
    for message in stop_orphaned_engines(spec.name, resolved.backend_url):
        console.print(f"[yellow]recovered:[/] {message}")
    stack = open_stack(spec.name, resolved.backend_url)
    # Read before recovery clears it: a cluster this stack was creating when killed is this home's.
    interrupted_create = spec.target == "kind" and spec.cluster_name in stack.kind_clusters(pending_only=True)
    for message in stack.recover():
        console.print(f"[yellow]recovered:[/] {message}")
    inputs = ProgramInputs(
        spec=spec,
        ports=record.ports,
        tools=prerequisites.tools,
        kubeconfig=record.kubeconfig or str(default_kubeconfig()),
        nodes=prerequisites.nodes,
        calico_manifest=prerequisites.pod_network.calico_manifest if prerequisites.pod_network else None,
        images_to_push=images_to_push,
        interrupted_cluster_create=interrupted_create,
    )
    stack.up(inputs, events_for=progress.engine_events)
    progress.finish_running(ok=True)
    if spec.target == "kind":
        from envbuilder.pipeline.images import remove_superseded_images

        for image in remove_superseded_images(spec):
            console.print(f"   [dim]removed {image}: an earlier edit's, which no environment runs[/]")


def _digest(resolved: ResolvedRequest, record: EnvironmentRecord) -> str:
    return state_digest(resolved.spec, record.ports, record.node_image, record.pod_network)


def _unchanged(resolved: ResolvedRequest, previous: EnvironmentRecord) -> bool:
    """The last `up` succeeded and this one asks for the very same state (a new --node-image is a change)."""
    if previous.status != "ready" or previous.applied_digest is None:
        return False
    if resolved.node_image and resolved.node_image != previous.node_image:
        return False
    if resolved.pod_network and resolved.pod_network != previous.pod_network:
        return False
    return _digest(resolved, previous) == previous.applied_digest


def _alive(record: EnvironmentRecord, *, full_smoke: bool) -> bool:
    """Whether an unchanged environment still answers; if not, `up` goes on to run the engine."""
    import asyncio
    import time

    from envbuilder.smoke.suite import smoke_environment

    started = time.monotonic()
    try:
        results = asyncio.run(smoke_environment(record, liveness_only=not full_smoke))
    except EnvbuilderError as error:  # e.g. the kubeconfig is gone with the cluster
        results, failure = [], str(error).splitlines()[0]
    else:
        failure = ", ".join(result.name for result in results if result.failed)
    if failure:
        console.print(f"[yellow]environment {record.name} is unchanged but does not answer ({failure})[/]: "
                      "running the engine")
        return False
    checks = "the smoke checks" if full_smoke else f"{len(results)} liveness checks"
    console.print(f"[green]environment {record.name} is up to date[/]: nothing changed since its last up, and "
                  f"{checks} passed in {time.monotonic() - started:.1f}s (--refresh runs the engine anyway)")
    return True


def _smoke(record: EnvironmentRecord, progress: Progress) -> None:
    import asyncio

    from envbuilder.smoke.suite import smoke_environment

    with progress.phase(Phase.SMOKE):
        results = asyncio.run(smoke_environment(record))
    failed = [result for result in results if result.failed]
    if failed:
        raise EnvbuilderError(
            f"{len(failed)} smoke check(s) failed: {', '.join(r.name for r in failed)}",
            hint=f"details: envbuilder smoke {record.name}",
        )


def _warn_about_expired(current: str) -> None:
    expired = [r.name for r in list_records() if r.expired() and r.name != current]
    if expired:
        console.print(
            f"[yellow]warning:[/] expired environments: {', '.join(expired)}; remove them with: envbuilder reap"
        )
