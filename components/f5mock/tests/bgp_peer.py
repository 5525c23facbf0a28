"""A real BGP speaker (ExaBGP) as the mock F5's peer on loopback: it connects to the mock's
listener and announces or withdraws what a test tells it, as a cluster node's agent would."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

from envbuilder.polling import wait_until

RELAY = """import sys
for line in open(sys.argv[1]):
    sys.stdout.write(line)
    sys.stdout.flush()
"""


class ExaBgpPeer:
    """ExaBGP connecting from 127.0.0.1 to `port` as AS `asn`; `announce` and `withdraw` go through its
    API (a relay process it runs, fed by a FIFO)."""

    def __init__(self, directory: Path, port: int, *, asn: int = 64600, peer_asn: int = 64513) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.commands = directory / "commands"
        os.mkfifo(self.commands)
        relay = directory / "relay.py"
        relay.write_text(RELAY)
        config = directory / "exabgp.conf"
        config.write_text(f"""
process relay {{
    run {sys.executable} {relay} {self.commands};
    encoder text;
}}
neighbor 127.0.0.1 {{
    router-id 10.9.9.9;
    local-address 127.0.0.1;
    local-as {asn};
    peer-as {peer_asn};
    connect {port};
    hold-time 9;
    api {{ processes [ relay ]; }}
}}
""")
        env = {
            **os.environ,
            "exabgp_daemon_user": "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody"),
            "exabgp_api_cli": "false",  # no named pipes of its own
            "exabgp_tcp_bind": "",  # connects only; listens nowhere
        }
        exabgp = Path(sys.executable).parent / "exabgp"
        self.log = (directory / "exabgp.log").open("w")
        self.process = subprocess.Popen([str(exabgp), "server", str(config)], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self._commands = self._open_commands(timeout=30)

    def _open_commands(self, timeout: float):
        """The FIFO opens for writing once the relay has it open: ExaBGP has started its API."""
        def opened():
            try:
                descriptor = os.open(self.commands, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO or self.process.poll() is not None:
                    raise
                return None  # no reader yet
            os.set_blocking(descriptor, True)
            return os.fdopen(descriptor, "w")

        try:
            return wait_until(opened, timeout=timeout, what="ExaBGP's API", interval=0.05)
        except (OSError, TimeoutError) as error:
            self.stop()
            raise RuntimeError(f"ExaBGP did not start its API: {self.directory / 'exabgp.log'}") from error

    def announce(self, network: str, next_hop: str) -> None:
        self._send(f"announce route {network} next-hop {next_hop}")

    def withdraw(self, network: str, next_hop: str) -> None:
        self._send(f"withdraw route {network} next-hop {next_hop}")

    def _send(self, command: str) -> None:
        self._commands.write(command + "\n")
        self._commands.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (getattr(self, "_commands", None), self.log):
            if stream is None:
                continue
            try:
                stream.close()
            except BrokenPipeError:
                pass  # the relay is gone with ExaBGP
