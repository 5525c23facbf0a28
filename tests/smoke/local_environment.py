"""An environment made of real servers on loopback, for the whole smoke suite and its benchmark.

Real: RabbitMQ (private node), the sample web and worker services as processes, the project's
mock F5 with a virtual server forwarding to "nodes" 127.0.0.1 and 127.0.0.2 on web's port.
Stand-in: the Kubernetes API (fake_kube.py), whose service proxy forwards to the real services
and whose kubelet plays the probe pods: no kind cluster can run on this machine.
"""

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Self

import httpx

from f5mock.server import run_in_thread
from f5sync.contract import pool_name, virtual_name
from envbuilder.polling import wait_until
from envbuilder.smoke.probes import PROBE_LABEL
from envbuilder.smoke.target import (
    ExtraCheck,
    F5Access,
    RpcRoute,
    ServiceTarget,
    SmokeTarget,
)
from tests.smoke.fake_kube import FakeKube, node, pod
from tests.support.ports import free_port
from tests.support.rabbitmq import RabbitMQServer

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "env-local"
F5_USER, F5_PASSWORD = "admin", "local-smoke"
NODES = {"local-control-plane": "127.0.0.1", "local-worker": "127.0.0.2"}


class LocalEnvironment:
    def __init__(self, workdir: Path, broker_url: str | None = None) -> None:
        """Without `broker_url`, a RabbitMQ node of its own is started."""
        self.workdir = workdir
        self.broker_url = broker_url or ""
        self.kube = FakeKube()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        if not self.broker_url:
            self.broker_url = self._stack.enter_context(RabbitMQServer()).amqp_url
        self.ports = {"web": free_port(), "worker": free_port()}
        for name in ("web", "worker"):
            self._start_service(name)
        f5 = self._stack.enter_context(
            run_in_thread(self.workdir / "f5", username=F5_USER, password=F5_PASSWORD, bind_virtuals_to="127.0.0.1")
        )
        self.f5 = F5Access(f5.url, F5_USER, F5_PASSWORD)
        self.vip = f"http://127.0.0.1:{free_port()}"
        self._configure_f5()
        self._describe_cluster()
        for name in ("web", "worker"):
            self._wait_healthy(name)

    def _start_service(self, name: str) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AMQP_URL": self.broker_url,
            "PORT": str(self.ports[name]),
            "SERVICE_NAME": name,
            "ENVIRONMENT": "local",
            "REVISION": "local",
            "HOSTNAME": f"{name}-1",
            "WORK_QUEUE": "work",
            "GREETING": "hello",
            "RPC_TIMEOUT_SECONDS": "1",
        }
        log = self._stack.enter_context((self.workdir / f"{name}.log").open("wb"))
        process = subprocess.Popen(
            [sys.executable, str(REPO / "fixtures" / "services" / name / f"{name}.py")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        self._stack.callback(self.stop_service, name)

    def stop_service(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)

    def _wait_healthy(self, name: str, timeout: float = 30.0) -> None:
        def log() -> str:
            return (self.workdir / f"{name}.log").read_text()

        def healthy() -> bool:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log()}")
            try:
                return httpx.get(f"http://127.0.0.1:{self.ports[name]}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=timeout, what=f"{name} to be healthy", interval=0.1, diagnosis=log)

    def _configure_f5(self) -> None:
        pool = pool_name(NAMESPACE, "web", 8080)
        with httpx.Client(base_url=self.f5.api_url, auth=(F5_USER, F5_PASSWORD), verify=False, timeout=5) as api:
            api.post("/mgmt/tm/ltm/pool", json={"name": pool, "partition": "Common"}).raise_for_status()
            for address in NODES.values():
                member = {"name": f"{address}:{self.ports['web']}"}
                api.post(f"/mgmt/tm/ltm/pool/~Common~{pool}/members", json=member).raise_for_status()
            virtual = {
                "name": virtual_name(NAMESPACE, "web"),
                "destination": self.vip.removeprefix("http://"),
                "pool": f"/Common/{pool}",
            }
            api.post("/mgmt/tm/ltm/virtual", json=virtual).raise_for_status()

    def _describe_cluster(self) -> None:
        kube = self.kube
        for name, address in NODES.items():
            kube.put(f"/api/v1/nodes/{name}", node(name, address))
        calico = {"k8s-app": "calico-node"}
        kube.put(
            "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
            {"spec": {"selector": {"matchLabels": calico}}},
        )
        for index, name in enumerate(NODES):
            kube.put(
                f"/api/v1/namespaces/kube-system/pods/calico-node-{index}", pod(f"calico-node-{index}", name, calico)
            )
        kube.put("/api/v1/namespaces/default/services/kubernetes", {"spec": {"clusterIP": "10.96.0.1"}})
        for name in ("web", "worker"):
            labels = {"app.kubernetes.io/name": name}
            port: dict[str, Any] = {"name": "http", "port": 8080 if name == "web" else 8081}
            if name == "web":
                port["nodePort"] = self.ports["web"]
            kube.put(f"/api/v1/namespaces/{NAMESPACE}/services/{name}", {"spec": {"selector": labels, "ports": [port]}})
            kube.put(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}-1", pod(f"{name}-1", "local-worker", labels))
            kube.service_backends[name] = f"http://127.0.0.1:{self.ports[name]}"
        kube.kubelet = self._play_probe_pod

    def _play_probe_pod(self, path: str, created: dict[str, Any]) -> None:
        purpose = created["metadata"]["labels"][PROBE_LABEL]
        if purpose == "server":
            created["status"] = {"phase": "Running", "podIP": "192.168.0.10"}
        else:
            created["status"] = {"phase": "Succeeded"}
            self.kube.logs[path] = "10.96.0.1\n" if purpose == "dns" else "reached http://192.168.0.10:8080/ HTTP 200\n"

    def target(self) -> SmokeTarget:
        return SmokeTarget(
            environment="local",
            namespace=NAMESPACE,
            kubeconfig=self.kube.kubeconfig(self.workdir),
            kube_context=None,
            node_count=len(NODES),
            f5=self.f5,
            broker_url=self.broker_url,
            services=(
                ServiceTarget(
                    "web",
                    8080,
                    "/healthz",
                    exposed=True,
                    vip_url=self.vip,
                    extra_checks=(ExtraCheck("greeting", "/", 200, "hello"),),
                ),
                ServiceTarget("worker", 8081, "/healthz"),
            ),
            rpc=RpcRoute(via="web", path="/work", worker="worker"),
            probe_image="envbuilder/web:local",
            network_daemonset="calico-node",
        )
