"""A stand-in for the Kubernetes API server, for as long as no real control plane binaries are built here.

It serves the reads the checks make from objects the test puts in, creates and deletes probe pods
(a test hook plays the kubelet), and forwards the service proxy to real HTTP servers on loopback.
It is an httpx2 MockTransport (httpx2 is lightkube's HTTP client): only the Kubernetes API is faked;
every other server a test uses is real.
"""

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx2

_PROXY = re.compile(r"^(/api/v1/namespaces/[^/]+/services)/([^/:]+):(\d+)/proxy(/.*)?$")
_LOG = re.compile(r"^(/api/v1/namespaces/[^/]+/pods/[^/]+)/log$")


def node(name: str, ip: str, ready: bool = True, message: str = "kubelet is posting ready status") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "Unknown",
                    "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                    "message": message,
                }
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
        },
    }


def pod(name: str, node_name: str, labels: dict[str, str], ready: bool = True, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": node_name, "containers": [{"name": "main"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "" if ready else "ContainersNotReady",
                }
            ],
            **status,
        },
    }


def event(
    namespace: str, kind: str, name: str, reason: str, message: str, kind_of_event: str = "Warning"
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace},
        "involvedObject": {"kind": kind, "name": name},
        "type": kind_of_event,
        "reason": reason,
        "message": message,
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 3,
    }


class FakeKube:
    """Objects live at their API paths, e.g. /api/v1/namespaces/env-a/pods/web-1."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, str] = {}  # pod path -> log text
        self.events: list[dict[str, Any]] = []
        self.service_backends: dict[str, str] = {}  # Service name -> base URL of a real server
        self.kubelet: Callable[[str, dict[str, Any]], None] = lambda path, pod: None  # plays a created pod
        self.deleted: list[str] = []
        self._names = itertools.count(1)

    def put(self, path: str, body: dict[str, Any]) -> None:
        body.setdefault("metadata", {})["name"] = path.rsplit("/", 1)[1]
        self.objects[path] = body

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "clusters": [
                        {
                            "name": "fake",
                            "cluster": {"server": "https://kube.invalid:6443", "insecure-skip-tls-verify": True},
                        }
                    ],
                    "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self._handle)

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        query = {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}
        if proxy := _PROXY.match(path):
            backend = self.service_backends.get(proxy.group(2))
            if backend is None:
                return _status(503, f'no endpoints available for service "{proxy.group(2)}"')
            async with httpx2.AsyncClient() as client:
                answer = await client.get(backend + (proxy.group(4) or "/"), params=request.url.params)
            return httpx2.Response(answer.status_code, content=answer.content)
        if log := _LOG.match(path):
            if log.group(1) not in self.logs:
                return _status(400, "container is waiting to start")
            return httpx2.Response(200, text=self.logs[log.group(1)])
        if request.method == "POST":
            body = json.loads(request.content)
            path = f"{path}/{body['metadata']['generateName']}{next(self._names)}"
            self.put(path, body)
            body.setdefault("status", {"phase": "Pending"})
            self.kubelet(path, body)
            return httpx2.Response(201, json=body)
        if request.method == "DELETE":
            self.deleted.append(path)
            if path not in self.objects:
                return _status(404, "not found")
            return httpx2.Response(200, json=self.objects.pop(path))
        if path.endswith("/events"):
            return httpx2.Response(
                200, json={"items": [e for e in self.events if _matches_fields(e, query.get("fieldSelector", ""))]}
            )
        if path in self.objects:
            return httpx2.Response(200, json=self.objects[path])
        items = [
            body
            for key, body in sorted(self.objects.items())
            if key.rsplit("/", 1)[0] == path and _matches_labels(body, query.get("labelSelector", ""))
        ]
        if items or any(key.startswith(path.rstrip("/") + "/") for key in self.objects) or path in ("/api/v1/nodes",):
            return httpx2.Response(200, json={"items": items})
        return _status(404, f"{path} not found")


def _status(code: int, message: str) -> httpx2.Response:
    return httpx2.Response(code, json={"kind": "Status", "code": code, "message": message})


def _matches_labels(body: dict[str, Any], selector: str) -> bool:
    labels = body.get("metadata", {}).get("labels", {})
    return all(
        labels.get(key) == value for key, _, value in (part.partition("=") for part in selector.split(",") if part)
    )


def _matches_fields(item: dict[str, Any], selector: str) -> bool:
    fields = {
        "involvedObject.kind": item["involvedObject"]["kind"],
        "involvedObject.name": item["involvedObject"]["name"],
    }
    return all(
        fields.get(key) == value for key, _, value in (part.partition("=") for part in selector.split(",") if part)
    )
