"""Free loopback TCP ports for test servers."""

import socket


def free_port() -> int:
    """A port the kernel just gave out on 127.0.0.1 (free unless another process grabs it right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
