"""A private RabbitMQ node for tests: Debian's `rabbitmq-server` on free loopback ports.

Everything the node writes (database, logs, Erlang cookie) lives in its own temporary directory,
and it gets its own epmd, so it never meets a system broker or another test session's node.
`stop()`/`start()` keep the data (durable queues, persistent messages, users), like a real restart.

    with RabbitMQServer() as broker:
        connect(broker.amqp_url)
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from envbuilder.polling import wait_until
from tests.support.ports import free_port

SERVER_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # the real script; /usr/sbin's wrapper su's to `rabbitmq`
AMQP_PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD = 1


def rabbitmq_available() -> bool:
    return SERVER_SCRIPT.exists() and shutil.which("epmd") is not None


class RabbitMQServer:
    def __init__(self, start_timeout: float = 90.0) -> None:
        self.start_timeout = start_timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="envbuilder-rabbitmq-"))
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.user = "envbuilder"
        self.password = secrets.token_hex(8)
        self.nodename = f"envbuilder-{secrets.token_hex(4)}@localhost"
        self._server: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def amqp_url(self) -> str:
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def log_file(self) -> Path:
        return self.workdir / "log" / f"{self.nodename}.log"

    def start(self) -> None:
        if self._epmd is None:
            self._epmd = subprocess.Popen(
                ["epmd", "-port", str(self.epmd_port)],
                env=self._environment(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        with open(self.workdir / "console.log", "ab") as console:
            self._server = subprocess.Popen(
                [str(SERVER_SCRIPT)],
                env=self._environment(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one process group: the script, the Erlang VM and its helpers
            )
        self._wait_until_accepting()

    def stop(self) -> None:
        """A graceful broker shutdown (the script turns SIGTERM into `stop`); data stays on disk."""
        if self._server is None:
            return
        server, self._server = self._server, None
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        # Whatever of the group is still alive (a VM that ignored the stop) goes now.
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the node and epmd, and delete every file the node wrote."""
        self.stop()
        if self._epmd is not None:
            self._epmd.terminate()
            self._epmd.wait(timeout=10)
            self._epmd = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _write_config(self) -> None:
        (self.workdir / "home").mkdir()
        (self.workdir / "enabled_plugins").write_text("[].\n")  # no plugins: faster boot
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            f"default_user = {self.user}\n"
            f"default_pass = {self.password}\n"
            # Containers on the host network connect from 127.0.0.1 too; others come through a bridge.
            "loopback_users = none\n"
        )

    def _environment(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            # Erlang keeps its cookie in $HOME; a private home works for root and anyone else.
            "HOME": str(self.workdir / "home"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
        }

    def _wait_until_accepting(self) -> None:
        """Until the node answers an AMQP handshake: its listeners open last, after boot completes."""
        def accepting() -> bool:
            if self._server is None or self._server.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited during start:\n{self._diagnostics()}")
            return self._answers_amqp()

        wait_until(accepting, timeout=self.start_timeout, what="rabbitmq-server to accept AMQP",
                   diagnosis=self._diagnostics)

    def _answers_amqp(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=2) as connection:
                connection.sendall(AMQP_PROTOCOL_HEADER)
                first_byte = connection.recv(1)
        except OSError:
            return False
        return first_byte == bytes([FRAME_METHOD])  # Connection.Start

    def _diagnostics(self) -> str:
        lines: list[str] = []
        for path in (self.workdir / "console.log", self.log_file):
            if path.exists():
                lines += [f"--- {path.name}", *path.read_text(errors="replace").splitlines()[-20:]]
        return "\n".join(lines)
