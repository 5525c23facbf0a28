"""`envbuilder logs`: the output of every pod and classic container of an environment, one stream.

Pods are read through the Kubernetes API (one followed log request per container), classic containers
through `docker logs`. Following, the pods are listed again every second, so a pod that starts (a
scale, a roll) joins the stream from its first line, and a container that restarts is read again; the
stream ends when the environment's namespace is gone or its API server stops answering.
"""

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from envbuilder.cluster.processes import child_process
from envbuilder.desired.broker import BROKER
from envbuilder.desired.f5 import F5_SYNC
from envbuilder.errors import EnvbuilderError, InputError
from envbuilder.naming import classic_container_name
from envbuilder.smoke.framework import CheckFailed
from envbuilder.smoke.kube import Kube
from envbuilder.smoke.suite import cluster_config
from envbuilder.smoke.target import kubeconfig_of
from envbuilder.state.records import EnvironmentRecord

SERVICE_LABEL = "app.kubernetes.io/name"
POLL_SECONDS = 1.0
# Polls in a row the API server may fail before the environment counts as gone.
UNANSWERED_POLLS = 5
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta", "bright_green")


@dataclass(frozen=True)
class LogLine:
    service: str
    source: str  # the pod, or the classic service's container
    time: str | None  # RFC 3339 as the API server or Docker gave it
    text: str

    @property
    def prefix(self) -> str:
        return f"{self.service}/{self.source}"

    @property
    def colour(self) -> str:
        """The same colour for the same pod every time, so a pod's lines are told apart at a glance."""
        return COLOURS[zlib.crc32(self.prefix.encode()) % len(COLOURS)]

    def as_json(self) -> str:
        return json.dumps({"service": self.service, "source": self.source, "time": self.time, "line": self.text})

    def sort_key(self) -> datetime:
        return timestamp(self.time) if self.time else datetime.min


def timestamp(text: str) -> datetime:
    """An RFC 3339 time with up to nanoseconds (fromisoformat takes at most microseconds)."""
    head, dot, rest = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{rest[:6].ljust(6, '0')}" if dot else head)


def split_timestamp(raw: str) -> tuple[str | None, str]:
    """`2026-12-01T10:00:00.123456789Z text` (timestamps=true, docker logs --timestamps) -> (time, text)."""
    first, space, rest = raw.partition(" ")
    if space and first[:4].isdigit() and "T" in first:
        return first, rest
    return None, raw


def known_services(record: EnvironmentRecord) -> list[str]:
    """What `logs` can show of the environment: its services, the broker and f5-sync."""
    return [*record.services, BROKER, F5_SYNC]


def chosen_services(record: EnvironmentRecord, wanted: Iterable[str]) -> set[str]:
    """`wanted`, checked against the environment; nothing wanted: all of them."""
    wanted = list(wanted)
    known = known_services(record)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise InputError(f"environment {record.name} has no service {', '.join(unknown)}; "
                         f"its services: {', '.join(known)}")
    return set(wanted or known)


def classic_services(record: EnvironmentRecord) -> list[str]:
    return [entry["name"] for entry in record.catalog if entry.get("runtime") == "classic"]


@dataclass(frozen=True)
class ContainerKey:
    """One run of one container: a restarted container is a new run, read from its start."""

    pod: str
    uid: str
    container: str
    restarts: int


def started_containers(pods: dict, services: set[str]) -> dict[ContainerKey, str]:
    """The containers of `services`' pods that have started (running or finished), with their service."""
    found = {}
    for pod in pods.get("items", []):
        service = (pod["metadata"].get("labels") or {}).get(SERVICE_LABEL)
        if service not in services:
            continue
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if "running" in status.get("state", {}) or "terminated" in status.get("state", {}):
                key = ContainerKey(pod["metadata"]["name"], pod["metadata"]["uid"], status["name"], status.get("restartCount", 0))
                found[key] = service
    return found


class EnvironmentGone(EnvbuilderError):
    """The environment's namespace or API server went away while its logs were read."""


class LogReader:
    """Reads an environment's logs and hands each line to `emit`."""

    def __init__(self, record: EnvironmentRecord, services: set[str], emit: Callable[[LogLine], None]) -> None:
        self.record = record
        self.services = services
        self.emit = emit

    async def show(self, since_seconds: int | None) -> None:
        """Everything there is now (or since `since_seconds` ago), ordered by time, then return."""
        lines: list[LogLine] = []
        async with self._kube() as kube:
            pods = await self._pods(kube)
            if pods is None:
                raise EnvironmentGone(f"environment {self.record.name} has no namespace {self.record.namespace}")
            reads = [self._forward(kube.lines(self._log_path(key), **self._params(key, since_seconds, follow=False)),
                                   service, key.pod, lines.append)
                     for key, service in started_containers(pods, self.services).items()]
            reads += [self._forward(self._docker_lines(name, since_seconds, follow=False), service, name, lines.append)
                      for service, name in self._classic()]
            await asyncio.gather(*reads)
        for line in sorted(lines, key=LogLine.sort_key):
            self.emit(line)

    async def follow(self, since_seconds: int | None, stop: asyncio.Event | None = None) -> None:
        """Stream every container's lines as they come, joining containers as they start, until the
        environment goes (or `stop` is set)."""
        stop = stop or asyncio.Event()
        tasks: dict[object, asyncio.Task] = {}
        first_poll = True
        unanswered = 0
        async with self._kube() as kube:
            try:
                for service, name in self._classic():
                    tasks[name] = asyncio.create_task(
                        self._forward(self._docker_lines(name, since_seconds, follow=True), service, name))
                while not stop.is_set():
                    try:
                        pods = await self._pods(kube)
                    except CheckFailed:
                        unanswered += 1
                        if unanswered >= UNANSWERED_POLLS:
                            return
                    else:
                        unanswered = 0
                        if pods is None:
                            return
                        for key, service in started_containers(pods, self.services).items():
                            if key not in tasks:
                                # Pods there from the start: from `since`; pods that start later: from their first line.
                                params = self._params(key, since_seconds if first_poll else None, follow=True)
                                tasks[key] = asyncio.create_task(
                                    self._forward(kube.lines(self._log_path(key), **params), service, key.pod))
                        first_poll = False
                    try:
                        await asyncio.wait_for(stop.wait(), POLL_SECONDS)
                    except TimeoutError:
                        pass
            finally:
                for task in tasks.values():
                    task.cancel()
                await asyncio.gather(*tasks.values(), return_exceptions=True)

    def _kube(self) -> Kube:
        return Kube(cluster_config(kubeconfig_of(self.record), self.record.kube_context))

    async def _pods(self, kube: Kube) -> dict | None:
        """The namespace's pods; None when the namespace is gone."""
        namespace = self.record.namespace
        answer = await kube.request("GET", f"/api/v1/namespaces/{namespace}")
        if answer.status_code == 404:
            return None
        return await kube.get(f"/api/v1/namespaces/{namespace}/pods")

    def _log_path(self, key: ContainerKey) -> str:
        return f"/api/v1/namespaces/{self.record.namespace}/pods/{key.pod}/log"

    @staticmethod
    def _params(key: ContainerKey, since_seconds: int | None, *, follow: bool) -> dict[str, str | int]:
        params: dict[str, str | int] = {"container": key.container, "timestamps": "true"}
        if follow:
            params["follow"] = "true"
        if since_seconds is not None:
            params["sinceSeconds"] = max(1, since_seconds)
        return params

    def _classic(self) -> list[tuple[str, str]]:
        if self.record.target != "kind":
            return []
        return [(service, classic_container_name(self.record.name, service))
                for service in classic_services(self.record) if service in self.services]

    @staticmethod
    async def _docker_lines(container: str, since_seconds: int | None, *, follow: bool) -> AsyncIterator[str]:
        """`docker logs` of a container beside the cluster: its stdout and stderr, as they come."""
        args = ["docker", "logs", "--timestamps", *(["--follow"] if follow else [])]
        if since_seconds is not None:
            args += ["--since", f"{max(1, since_seconds)}s"]
        async with child_process(*args, container) as process:
            assert process.stdout is not None
            async for raw in process.stdout:
                yield raw.decode(errors="replace").rstrip("\n")

    async def _forward(self, raw_lines: AsyncIterator[str], service: str, source: str,
                       emit: Callable[[LogLine], None] | None = None) -> None:
        try:
            async for raw in raw_lines:
                when, text = split_timestamp(raw)
                (emit or self.emit)(LogLine(service, source, when, text))
        except CheckFailed:
            return  # the pod went away while it was read: the next poll says what is there now
