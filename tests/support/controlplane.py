"""A real Kubernetes control plane on loopback, with KWOK playing the nodes.

Starts etcd, kube-apiserver (token auth, RBAC, self-signed serving cert),
kube-controller-manager, kube-scheduler and kwok from the binaries built by
``tools/toolchain/build.sh controlplane`` (``.tools/bin`` or
``$ENVBUILDER_TOOLS_BIN``), creates N fake nodes, and writes a kubeconfig.
Pods get scheduled onto the fake nodes and KWOK marks them Running/Ready, so
Deployments become Available and Services get EndpointSlices; no container
ever runs and no traffic reaches the pods.

No pytest import: usable from tests, scripts and a REPL::

    with ControlPlane(nodes=2) as cp:
        print(cp.kubeconfig, cp.server)
        cp.request("GET", "/api/v1/nodes")
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from envbuilder.polling import wait_until
from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
KWOK_STARTS = 3


def tools_bin() -> Path:
    return Path(os.environ.get("ENVBUILDER_TOOLS_BIN") or REPO_ROOT / ".tools" / "bin")


def find_binary(name: str) -> str | None:
    """The toolchain's binary, else one on PATH (etcd: also Debian's)."""
    candidate = tools_bin() / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def kwok_stages() -> Path:
    """The kwok stage config assembled by build.sh (kwok has no built-in stages)."""
    return tools_bin() / "kwok-stages.yaml"


def missing_binaries() -> list[str]:
    missing = [b for b in BINARIES if find_binary(b) is None]
    if not kwok_stages().is_file():
        missing.append(kwok_stages().name)
    return missing


class ControlPlaneError(RuntimeError):
    pass


class ControlPlane:
    """Context manager: ``with ControlPlane(nodes=2) as cp: ...``.

    Attributes once started: ``kubeconfig`` (Path), ``server`` (https URL),
    ``token`` (bearer token of a system:masters user), ``workdir``.
    """

    def __init__(self, nodes: int = 2, *, workdir: str | os.PathLike | None = None,
                 start_timeout: float = 90.0, keep_workdir: bool = False) -> None:
        self.nodes = nodes
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self._keep = keep_workdir
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="envbuilder-cp-"))
        self.token = secrets.token_hex(16)
        self.server = ""
        self.kubeconfig = self.workdir / "kubeconfig"
        self._procs: list[tuple[str, subprocess.Popen, Any]] = []
        self._ssl = ssl.create_default_context()
        self._ssl.check_hostname = False
        self._ssl.verify_mode = ssl.CERT_NONE

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "ControlPlane":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "ControlPlane":
        missing = missing_binaries()
        if missing:
            raise ControlPlaneError(
                f"missing binaries {missing}: run `make toolchain` "
                "(bash tools/toolchain/build.sh controlplane)")
        atexit.register(self.stop)  # safety net if the caller never exits the context
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        w = self.workdir
        w.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.start_timeout

        # --- etcd
        etcd_client, etcd_peer = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_client}"
        self._spawn("etcd", [
            find_binary("etcd"), "--name=envbuilder", f"--data-dir={w / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=envbuilder=http://127.0.0.1:{etcd_peer}",
            "--unsafe-no-fsync=true" if self._etcd_supports_no_fsync() else "--log-level=warn",
        ], env={"ETCD_UNSUPPORTED_ARCH": os.environ.get("ETCD_UNSUPPORTED_ARCH", "")})
        self._wait(lambda: self._http_ok(f"{etcd_url}/health"), deadline, "etcd /health")

        # --- service-account key, token file
        sa_key = w / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(sa_key), "2048"],
                       check=True, capture_output=True)
        sa_pub = w / "sa.pub"
        subprocess.run(["openssl", "rsa", "-in", str(sa_key), "-pubout", "-out", str(sa_pub)],
                       check=True, capture_output=True)
        tokens = w / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        tokens.chmod(0o600)

        # --- kube-apiserver
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        self._spawn("kube-apiserver", [
            find_binary("kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={port}", f"--cert-dir={w / 'certs'}",
            f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
        ])
        self._wait(lambda: self._api_ok("/readyz"), deadline, "kube-apiserver /readyz")
        self._write_kubeconfig()

        # --- controller-manager, scheduler
        kcm_port, sched_port = free_port(), free_port()
        self._spawn("kube-controller-manager", [
            find_binary("kube-controller-manager"),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={kcm_port}",
            f"--cert-dir={w / 'certs-kcm'}",
            "--leader-elect=false",
            f"--service-account-private-key-file={sa_key}",
            f"--root-ca-file={w / 'certs' / 'apiserver.crt'}",
            "--use-service-account-credentials=false",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--controllers=*,-node-ipam-controller,-cloud-node-lifecycle-controller,-node-route-controller,-service-lb-controller",
            "--profiling=false",
        ])
        self._spawn("kube-scheduler", [
            find_binary("kube-scheduler"),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={sched_port}",
            f"--cert-dir={w / 'certs-sched'}",
            "--leader-elect=false", "--profiling=false",
        ])
        self._wait(lambda: self._http_ok(f"https://127.0.0.1:{kcm_port}/healthz"), deadline,
                   "kube-controller-manager /healthz")
        self._wait(lambda: self._http_ok(f"https://127.0.0.1:{sched_port}/healthz"), deadline,
                   "kube-scheduler /healthz")

        # --- kwok plays every node
        for i in range(self.nodes):
            self.request("POST", "/api/v1/nodes", self._node(f"kwok-node-{i}"))
        self._start_kwok(deadline)
        # The default ServiceAccount appears once the controller-manager runs;
        # pods are refused until then.
        self._wait(lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"),
                   deadline, "default ServiceAccount")

    def _start_kwok(self, deadline: float) -> None:
        """kwok v0.8.0 sometimes dies as it starts ("fatal error: concurrent map writes" while it sets up its
        CEL environment, seen on these machines): a start that dies before the nodes are Ready is tried again."""
        for attempt in range(1, KWOK_STARTS + 1):
            self._spawn("kwok", [
                find_binary("kwok"),
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=true",
                f"--config={kwok_stages()}",
                f"--server-address=127.0.0.1:{free_port()}",
                "--cidr=10.244.0.0/16", "--node-ip=127.0.0.1",
            ])
            try:
                self._wait(self._nodes_ready, deadline, f"{self.nodes} kwok nodes Ready")
                return
            except ControlPlaneError:
                name, kwok, log = self._procs[-1]
                if kwok.poll() is None or "concurrent map writes" not in self.logs(name) or attempt == KWOK_STARTS:
                    raise
                log.close()
                self._procs.pop()

    def stop(self) -> None:
        """Stop every process (reverse start order) and remove the work dir."""
        for name, proc, log in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(timeout=10)
            log.close()
        self._procs.clear()
        atexit.unregister(self.stop)
        if self._own_workdir and not self._keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------ API access
    def request(self, method: str, path: str, body: Any = None, *,
                content_type: str = "application/json") -> Any:
        """A JSON request to the API server as the admin user; returns decoded JSON."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}",
            "Content-Type": content_type,
            "Accept": "application/json",
        })
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=15) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise ControlPlaneError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}") from e
        return json.loads(raw) if raw else None

    def env(self) -> dict[str, str]:
        """Environment for kubectl and clients (KUBECONFIG)."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def logs(self, name: str) -> str:
        p = self.workdir / "logs" / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    # ------------------------------------------------------------ internals
    def _spawn(self, name: str, argv: list, env: dict[str, str] | None = None) -> None:
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        log = open(logs / f"{name}.log", "wb")
        full_env = {**os.environ, **(env or {})}
        full_env.pop("KUBECONFIG", None)
        proc = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.workdir, env=full_env,
                                start_new_session=True)
        self._procs.append((name, proc, log))

    def _check_alive(self) -> None:
        for name, proc, _ in self._procs:
            if proc.poll() is not None:
                tail = self.logs(name)[-3000:]
                raise ControlPlaneError(f"{name} exited with {proc.returncode}:\n{tail}")

    def _wait(self, probe, deadline: float, what: str) -> None:
        def alive_and_ready() -> bool:
            self._check_alive()
            try:
                return bool(probe())
            except Exception:  # noqa: BLE001 - probe not ready yet
                return False

        try:
            wait_until(alive_and_ready, timeout=max(0.0, deadline - time.monotonic()), what=what, interval=0.3)
        except TimeoutError as error:
            raise ControlPlaneError(f"{error} (logs in {self.workdir / 'logs'})") from None

    def _http_ok(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url, context=self._ssl, timeout=3) as r:
                return r.status == 200
        except Exception:  # noqa: BLE001
            return False

    def _api_ok(self, path: str) -> bool:
        req = urllib.request.Request(self.server + path,
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=3) as r:
                return r.status == 200
        except Exception:  # noqa: BLE001
            return False

    def _exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
            return True
        except ControlPlaneError:
            return False

    def _nodes_ready(self) -> bool:
        items = self.request("GET", "/api/v1/nodes")["items"]
        # Ready, and the node-lifecycle controller has lifted the
        # node.kubernetes.io/not-ready taint that admission puts on new nodes.
        ready = [n for n in items
                 if any(c["type"] == "Ready" and c["status"] == "True"
                        for c in n.get("status", {}).get("conditions", []))
                 and not any(t.get("key") == "node.kubernetes.io/not-ready"
                             for t in n.get("spec", {}).get("taints") or [])]
        return len(ready) >= self.nodes

    @staticmethod
    def _node(name: str) -> dict:
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake",
                                "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"type": "kwok", "kubernetes.io/role": "agent",
                           "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                           "kubernetes.io/arch": "amd64"},
            },
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            },
        }

    def _etcd_supports_no_fsync(self) -> bool:
        try:
            out = subprocess.run([find_binary("etcd"), "--help"], capture_output=True,
                                 text=True, timeout=10)
        except Exception:  # noqa: BLE001
            return False
        return "--unsafe-no-fsync" in (out.stdout + out.stderr)

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "envbuilder-test", "cluster": {
                "server": self.server, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "envbuilder-test", "context": {
                "cluster": "envbuilder-test", "user": "admin", "namespace": "default"}}],
            "current-context": "envbuilder-test",
        }
        # JSON is valid YAML: no yaml dependency needed.
        self.kubeconfig.write_text(json.dumps(cfg, indent=2))
        self.kubeconfig.chmod(0o600)
