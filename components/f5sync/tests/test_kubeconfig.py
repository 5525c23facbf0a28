"""f5-sync reads its kubeconfig as the smoke checks and kubectl do (f5sync.kubeconfig)."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace

from f5sync.kube import kube_client


class RecordingApi(BaseHTTPRequestHandler):
    """Answers every GET with 404 and remembers the Authorization header it came with."""

    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        RecordingApi.seen.append(self.headers.get("Authorization"))
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_relative_token_file_is_read_beside_the_kubeconfig_not_from_the_working_directory(tmp_path, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config_dir, elsewhere = tmp_path / "config", tmp_path / "elsewhere"
    config_dir.mkdir(), elsewhere.mkdir()
    (config_dir / "token").write_text("token-beside-the-kubeconfig\n")
    kubeconfig = config_dir / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "test", "user": {"tokenFile": "token"}}],  # relative, as kubectl allows
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
    }))
    monkeypatch.chdir(elsewhere)

    async def ask() -> None:
        client = kube_client(str(kubeconfig))
        try:
            await client.get(Namespace, name="anything")
        except ApiError:
            pass
        finally:
            await client.close()

    try:
        asyncio.run(ask())
    finally:
        server.shutdown()
    assert RecordingApi.seen == ["Bearer token-beside-the-kubeconfig"]
