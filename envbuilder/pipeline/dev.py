"""`envbuilder dev`: saved files into the running environment, without a new image.

A thread watches the services' folders (watchfiles) for the whole command. Saves are batched until
they stop for a moment; then each service concerned gets every file `dev` has synced so far copied
into its running containers one after another, as one archive through `kubectl exec` (`docker exec`
for a classic service), followed by the catalog's restart command; the next container's turn comes
when the restarted process answers the health path (a new X-Process-Instance), and a container that
started again from its image instead stops the cycle with its last lines. A file sync cannot carry makes `up` run with the working tree, which
builds and rolls only the images whose content changed. The record notes the live changes, so
`status` shows them and the next `up` starts those services from their images.
"""

import asyncio
import io
import queue
import signal
import tarfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from envbuilder.cluster.commands import Runner, run
from envbuilder.cluster.kubectl import kubectl_command
from envbuilder.cluster.processes import child_process
from envbuilder.cluster.tools import require_tools
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.naming import classic_container_name, network_name
from envbuilder.pipeline.dev_plan import Batch, LiveFiles, ServicePlan, WatchedService, cycle_line, live_changes, plan
from envbuilder.pipeline.logs import LogLine, LogReader
from envbuilder.smoke.framework import CheckFailed
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.suite import cluster_config
from envbuilder.smoke.target import kubeconfig_of
from envbuilder.spec.catalog import ServiceEntry
from envbuilder.state.home import project_root, stacks_dir
from envbuilder.state.locks import environment_lock
from envbuilder.state.records import EnvironmentRecord, find_record, load_record, save_record

QUIET_SECONDS = 0.15  # saves closer together than this are one cycle
EXEC_SECONDS = 30.0
ANSWER_SECONDS = 30.0  # from the restart to the restarted process answering its health path
# How a service names its process on the health path (docs/catalog.md): a restarted process answers with a new one.
PROCESS_INSTANCE_HEADER = "X-Process-Instance"
LAST_LINES = 15


def watched_services(record: EnvironmentRecord, names: list[str], root: Path) -> list[WatchedService]:
    """The services `dev` watches: `names`, else every service of the environment that opted in."""
    entries = {entry.name: entry for entry in (ServiceEntry.model_validate(data) for data in record.catalog)}
    unknown = [name for name in names if name not in entries]
    if unknown:
        raise InputError(f"environment {record.name} has no service {', '.join(unknown)}; "
                         f"its services: {', '.join(record.services)}")
    chosen = names or [name for name in record.services if name in entries and entries[name].dev]
    if not chosen:
        raise InputError(f"none of the services of {record.name} has opted in to envbuilder dev",
                         hint="a catalog entry opts in with dev: (docs/catalog.md)")
    return [WatchedService.of(entries[name], root, stacks_dir() / "services") for name in chosen]


@dataclass(frozen=True)
class Running:
    """A container the service runs in, a pod's or a classic service's beside the cluster, as last seen."""

    name: str
    pod: bool
    restarts: int = 0  # how often it started again after its process exited
    running: bool = True
    # A classic container's address on the environment's Docker network, where the host reaches it: the API
    # server's service proxy forwards to pods only, not to a selectorless Service's address outside the cluster.
    address: str = ""


def restart_progress(target: Running, seen: Running, before: str | None, instance: str | None) -> str | None:
    """Where a restart in `target` stands, now that it is `seen` and its health path named `instance` (None: no
    answer): "exited" when the process died (the container started again, or is not running), "answering" when
    a process other than `before` answers, None while neither. A service that names no process instance cannot
    be told from the one it replaced: any answer counts."""
    if seen.restarts != target.restarts or not seen.running:
        return "exited"
    if instance is not None and (not before or instance != before):
        return "answering"
    return None


async def once_running(look: Callable[[], Awaitable[Running]], timeout: float, interval: float = 0.2) -> Running:
    """The container as `look` sees it once it runs, or as last seen after `timeout`. One that a save broke starts
    again from its image after the kubelet's back-off, and the API shows the new container (its restart count)
    a moment after it started: a restart count read before that would take the next save for a failure."""
    deadline = time.monotonic() + timeout
    seen = await look()
    while not seen.running and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        seen = await look()
    return seen


class Watcher:
    """watchfiles in a thread of its own, so saves made during a rebuild are not missed."""

    def __init__(self, folders: list[Path]) -> None:
        self.saves: queue.Queue[tuple[set[Path], float, float]] = queue.Queue()
        self._stop = threading.Event()
        self._folders = sorted({folder for folder in folders if folder.exists()})
        self._thread = threading.Thread(target=self._watch, name="envbuilder-dev-watch", daemon=True)

    def __enter__(self) -> "Watcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        import watchfiles

        for changes in watchfiles.watch(*self._folders, stop_event=self._stop, debounce=400, step=30,
                                        rust_timeout=500, yield_on_timeout=False, raise_interrupt=False):
            seen = time.time()
            paths = {Path(path) for _change, path in changes}
            # The save's own time where the file is still there: the cycle's clock starts at the save, not the notice.
            saved = min([_mtime(path) for path in paths if path.exists()] or [seen])
            self.saves.put((paths, min(saved, seen), seen))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def not_ignored(root: Path, paths: set[Path], runner: Runner = run) -> set[Path]:
    """`paths` less those git ignores (build/, caches): no image holds them, so neither does a sync."""
    listed = "\0".join(str(path) for path in paths)
    result = runner(["git", "-C", str(root), "check-ignore", "-z", "--stdin"], input=listed, timeout=30)
    if result.returncode not in (0, 1):  # 1: none ignored; anything else: not a repository, take them all
        return paths
    ignored = {Path(path) for path in result.stdout.split("\0") if path}
    return paths - ignored


class DevLoop:
    def __init__(self, record: EnvironmentRecord, services: list[WatchedService], root: Path,
                 say: Callable[[str], None], show_log: Callable[[LogLine], None] | None) -> None:
        self.record = record
        self.services = {service.name: service for service in services}
        self.root = root
        self.say = say
        self.show_log = show_log
        self.live = {service.name: LiveFiles() for service in services}
        self.kubectl = str(require_tools(["kubectl"])["kubectl"])

    def run(self) -> None:
        """Cycles until Ctrl-C; a rebuild runs `up` between two watching sessions."""
        folders = [folder for service in self.services.values() for folder in service.watched]
        with Watcher([folder if folder.is_dir() else folder.parent for folder in folders]) as watcher:
            since: int | None = 1
            while True:
                rebuild = asyncio.run(self._session(watcher, since))
                started = time.monotonic()
                self._rebuild(rebuild)
                # The engine's RPC library takes over SIGINT and keeps it; asyncio.run turns Ctrl-C into a
                # cancellation only while Python's own handler is in place.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                since = int(time.monotonic() - started) + 1  # the logs go on where they stopped

    async def _session(self, watcher: Watcher, log_since: int | None) -> tuple[list[ServicePlan], float]:
        """Watches and syncs until a save needs a new image; returns those plans and the save's time."""
        stop_logs = asyncio.Event()
        logs = None
        if self.show_log:
            reader = LogReader(self.record, set(self.services), self.show_log)
            logs = asyncio.create_task(reader.follow(log_since, stop_logs))
        batch = Batch(QUIET_SECONDS)
        try:
            async with Kube(cluster_config(kubeconfig_of(self.record), self.record.kube_context)) as kube:
                while True:
                    while not watcher.saves.empty():
                        paths, saved, seen = watcher.saves.get_nowait()
                        batch.add(paths, saved, seen)
                    if not batch.ready(time.time()):
                        await asyncio.sleep(0.03)
                        continue
                    paths, saved_at = batch.take()
                    plans = plan(self.services.values(), not_ignored(self.root, paths), Path.exists)
                    if any(service_plan.rebuild for service_plan in plans):
                        return plans, saved_at
                    for service_plan in plans:
                        self.live[service_plan.service].add(service_plan)
                    self._note_live_changes()
                    await asyncio.gather(*(self._sync(kube, service_plan, saved_at) for service_plan in plans))
        finally:
            stop_logs.set()
            if logs:
                await asyncio.gather(logs, return_exceptions=True)

    async def _sync(self, kube: Kube, service_plan: ServicePlan, saved_at: float) -> None:
        """Into one container after another: while one restarts, the F5 sends to the others, and a save that
        breaks the service stops at the first container, the others keeping the code they run."""
        service = self.services[service_plan.service]
        live = self.live[service.name]
        running = await self._running(kube, service)
        if not running:
            self.say(cycle_line(service.name, service_plan.files, self.root, "sync", time.time() - saved_at,
                                "[yellow]no running container to sync into[/]"))
            return
        noun = "pods" if running[0].pod else "containers"
        archive = _archive(live.copy)
        script = f'tar -xmf - -C / && rm -f -- "$@" && {service.restart}'
        for done, target in enumerate(running):
            failure = await self._sync_one(kube, service, target, archive, script, sorted(live.delete))
            if failure:
                others = (f"; {done} of {len(running)} {noun} run this save, the others the code before it"
                          if len(running) > 1 else "")
                self.say(cycle_line(service.name, service_plan.files, self.root, "sync", time.time() - saved_at,
                                    f"[red]restart failed in {target.name}[/]{others}; the loop goes on"))
                self.say(failure)
                return
        self.say(cycle_line(service.name, service_plan.files, self.root, "sync", time.time() - saved_at,
                            f"[green]{len(running)} {noun if len(running) > 1 else noun[:-1]} answering[/]"))

    async def _sync_one(self, kube: Kube, service: WatchedService, target: Running, archive: bytes, script: str,
                        delete: list[str]) -> str | None:
        """Copy, restart, wait for the restarted process to answer the health path; None when it does, else
        what went wrong with the container's last lines."""
        if target.pod:
            target = await once_running(lambda: self._seen(kube, service, target), ANSWER_SECONDS)
        before = await self._instance(kube, service, target)
        if target.pod:
            command = [*kubectl_command(self.kubectl, self.record.kubeconfig, self.record.kube_context), "exec", "-i",
                       "-n", self.record.namespace, target.name, "-c", service.name, "--", "sh", "-c", script, "sh",
                       *delete]
        elif target.running:
            command = ["docker", "exec", "-i", target.name, "sh", "-c", script, "sh", *delete]
        else:
            # A classic container a save broke was stopped (or Docker keeps restarting it with the same files): the
            # files go in while it is stopped, and it starts with them (deleted files go at the next cycle).
            command = ["sh", "-c", 'docker stop -t 1 "$1" >/dev/null && docker cp - "$1":/ && docker start "$1" >/dev/null',
                       "sh", target.name]
        async with child_process(*command, stdin=True) as process:
            try:
                output, _ = await asyncio.wait_for(process.communicate(archive), EXEC_SECONDS)
            except TimeoutError:
                output = b"no answer within %d s" % EXEC_SECONDS
        if process.returncode != 0:
            return f"   {target.name}: copying or restarting failed: {output.decode(errors='replace').strip()}" \
                   f"{await self._last_lines(kube, service, target, previous=False)}"
        if not target.running:
            target = await self._seen(kube, service, target)  # started now: its restart count and address
        deadline = time.monotonic() + ANSWER_SECONDS
        while time.monotonic() < deadline:
            # The answer first: a container found unchanged after it is the one that answered.
            instance = await self._instance(kube, service, target)
            seen = await self._seen(kube, service, target)
            progress = restart_progress(target, seen, before, instance)
            if progress == "answering":
                return None
            if progress == "exited":
                if target.pod:
                    why = "the process exited after the restart; the container starts again from its image"
                else:  # Docker would start it again and again with the same files
                    await asyncio.to_thread(run, ["docker", "stop", "-t", "1", target.name], timeout=60)
                    why = "the process exited after the restart; the container is stopped until a save fixes it"
                previous = target.pod and seen.restarts != target.restarts
                return f"   {target.name}: {why}{await self._last_lines(kube, service, target, previous=previous)}"
            await asyncio.sleep(0.1)
        why = f"the restarted process did not answer {service.health_path} within {ANSWER_SECONDS:.0f} s"
        return f"   {target.name}: {why}{await self._last_lines(kube, service, target, previous=False)}"

    async def _running(self, kube: Kube, service: WatchedService) -> list[Running]:
        """The pods of the service that run; a classic service's container whatever its state (files can be
        copied into a stopped one)."""
        if service.runtime == "classic":
            return [await self._seen(kube, service, Running(classic_container_name(self.record.name, service.name),
                                                            pod=False))]
        pods = await kube.get(f"/api/v1/namespaces/{self.record.namespace}/pods",
                              labelSelector=f"app.kubernetes.io/name={service.name}")
        return [_pod_container(pod, service.name) for pod in sorted(pods.get("items", []), key=lambda pod: pod["metadata"]["name"])
                if not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get("phase") == "Running"]

    async def _seen(self, kube: Kube, service: WatchedService, target: Running) -> Running:
        """`target` as it is now."""
        if target.pod:
            return _pod_container(await kube.get(f"/api/v1/namespaces/{self.record.namespace}/pods/{target.name}"),
                                  service.name)
        network = "{{with index .NetworkSettings.Networks \"%s\"}}{{.IPAddress}}{{end}}" % network_name(self.record.name)
        result = await asyncio.to_thread(
            run, ["docker", "inspect", "--format", "{{.RestartCount}} {{.State.Status}} " + network, target.name],
            timeout=30)
        if not result.ok:
            return Running(target.name, pod=False, running=False)
        restarts, status, *address = result.stdout.split()
        return Running(target.name, pod=False, restarts=int(restarts), running=status == "running",
                       address=address[0] if address else "")

    async def _instance(self, kube: Kube, service: WatchedService, target: Running) -> str | None:
        """The X-Process-Instance of a health answer ("" when the service names none); None: no answer."""
        if not target.running:
            return None
        try:
            if target.pod:
                path = f"/api/v1/namespaces/{self.record.namespace}/pods/{target.name}:{service.port}/proxy{service.health_path}"
                response = await kube.request("GET", path, timeout=3)
            else:
                async with httpx.AsyncClient(timeout=3) as client:
                    response = await client.get(f"http://{target.address}:{service.port}{service.health_path}")
        except (CheckFailed, httpx.HTTPError):
            return None
        return response.headers.get(PROCESS_INSTANCE_HEADER, "") if response.status_code == 200 else None

    async def _last_lines(self, kube: Kube, service: WatchedService, target: Running, *, previous: bool) -> str:
        try:
            if target.pod:
                params: dict[str, str | int] = {"container": service.name, "tailLines": LAST_LINES}
                if previous:
                    params["previous"] = "true"
                text = await kube.text(f"/api/v1/namespaces/{self.record.namespace}/pods/{target.name}/log", **params)
            else:
                result = await asyncio.to_thread(run, ["docker", "logs", "--tail", str(LAST_LINES), target.name], timeout=30)
                text = result.stdout + result.stderr
        except (CheckFailed, EnvbuilderError):
            return ""
        lines = text.rstrip().splitlines()[-LAST_LINES:]
        return "".join(f"\n   | {line}" for line in lines)

    def _note_live_changes(self) -> None:
        with environment_lock(self.record.name):
            record = find_record(self.record.name)
            if record is None:
                raise EnvbuilderError(f"environment {self.record.name} is gone")
            record.live_changes = {**record.live_changes, **live_changes(self.live, self.root)}
            save_record(record)
            self.record = record

    def _rebuild(self, rebuild: tuple[list[ServicePlan], float]) -> None:
        """`up` with the working tree and the record's settings: only images whose content changed are
        built and rolled, and the services with live changes start from images that hold them."""
        from envbuilder.pipeline.request import EnvironmentRequest
        from envbuilder.pipeline.up import up

        plans, saved_at = rebuild
        record = load_record(self.record.name)
        overrides = [f"{svc}.{key}={value}" for svc, config in record.overrides.items() for key, value in config.items()]
        request = EnvironmentRequest(
            services=record.services, name=record.name, profile=record.profile, overrides=overrides,
            replicas=record.replicas, target=record.target,
            kube_context=record.kube_context if record.target == "existing" else None,
            backend_url=record.backend_url,
        )
        because = sorted({path for service_plan in plans for path in service_plan.rebuild_because})
        self.say(f"[bold]rebuild[/]: sync cannot carry {', '.join(p.relative_to(self.root).as_posix() for p in because)}")
        try:
            self.record = up(request, smoke=False)
        except EnvbuilderError as error:
            self.say(f"[red]rebuild failed[/]: {error}")
            for service_plan in plans:
                self.say(cycle_line(service_plan.service, service_plan.files, self.root, "rebuild",
                                    time.time() - saved_at, "[red]failed; the loop goes on[/]"))
            return
        self.live = {name: LiveFiles() for name in self.services}
        for service_plan in plans:
            self.say(cycle_line(service_plan.service, service_plan.files, self.root, "rebuild", time.time() - saved_at,
                                f"[green]rolled: {self.record.images.get(service_plan.service, '')}[/]"))


def _pod_container(pod: dict, container: str) -> Running:
    statuses = [status for status in (pod.get("status") or {}).get("containerStatuses") or [] if status["name"] == container]
    status = statuses[0] if statuses else {}
    return Running(pod["metadata"]["name"], pod=True, restarts=status.get("restartCount", 0),
                   running="running" in (status.get("state") or {}))


def _archive(files: dict[str, Path]) -> bytes:
    """The files at their paths in the container, readable by whichever user the service runs as."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for target, path in sorted(files.items()):
            if path.is_file():
                entry = tar.gettarinfo(str(path), arcname=target.lstrip("/"))
                entry.uid = entry.gid = 0
                entry.uname = entry.gname = ""
                entry.mode |= 0o444
                with path.open("rb") as data:
                    tar.addfile(entry, data)
    return buffer.getvalue()


def dev(name: str, services: list[str], say: Callable[[str], None], show_log: Callable[[LogLine], None] | None) -> None:
    """Watch until Ctrl-C; what was synced stays in the environment, noted in its record."""
    record = load_record(name)
    root = project_root()
    watched = watched_services(record, services, root)
    loop = DevLoop(record, watched, root, say, show_log)
    say(f"watching {', '.join(service.name for service in watched)} of {record.name}: a save is copied into the "
        "running containers; Ctrl-C stops watching")
    try:
        loop.run()
    except KeyboardInterrupt:
        changed = find_record(name)
        if changed and changed.live_changes:
            files = "; ".join(f"{service}: {', '.join(paths)}" for service, paths in changed.live_changes.items())
            say(f"stopped watching; live changes stay in {name} ({files}); `envbuilder up --name {name}` "
                "starts those services from their images")
        else:
            say("stopped watching")
