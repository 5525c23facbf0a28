"""Static routes in the kernel: the network namespace the mock forwards from learns the routes
of its configuration, so a connection to a pool member in a routed network (a kind node's pod
addresses) goes through the route's gateway.

Only the container installs routes (`--install-routes`, which needs NET_ADMIN); a mock run on a
host keeps them as configuration, or installs them in a network namespace of the caller's
(tests), never in the host's own table.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Mapping

# The rtnetlink protocol number the mock marks its routes with (unassigned in iproute2's
# rt_protos): it lists, replaces and deletes only routes carrying it, never anyone else's.
ROUTE_PROTOCOL = 245
MAIN_TABLE = 254


class KernelRoutes:
    """The main routing table of one network namespace (`netns` by name; None: the process's own)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    async def sync(self, wanted: Mapping[str, str]) -> dict[str, str]:
        """Makes the mock's routes exactly `wanted` (network -> gateway); returns the networks
        it could not install, each with the kernel's reason (e.g. a gateway on no attached
        network, or no NET_ADMIN). Netlink runs in a worker thread: uvloop, the mock's event
        loop, cannot open netlink sockets."""
        return await asyncio.to_thread(self._sync, dict(wanted))

    def _sync(self, wanted: dict[str, str]) -> dict[str, str]:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        failed: dict[str, str] = {}
        try:
            with IPRoute(**({"netns": self.netns} if self.netns else {})) as kernel:
                held = {
                    f"{route.get('dst') or _any(route['family'])}/{route['dst_len']}": route.get("gateway")
                    for route in kernel.route("dump", table=MAIN_TABLE, proto=ROUTE_PROTOCOL)
                }
                for network in held.keys() - wanted.keys():
                    try:
                        kernel.route("del", dst=network, table=MAIN_TABLE, proto=ROUTE_PROTOCOL)
                    except NetlinkError as error:
                        if error.code != errno.ESRCH:
                            raise
                for network, gateway in wanted.items():
                    if held.get(network) == gateway:
                        continue
                    try:
                        kernel.route("replace", dst=network, gateway=gateway, table=MAIN_TABLE, proto=ROUTE_PROTOCOL)
                    except NetlinkError as error:
                        failed[network] = os.strerror(error.code)
        except (NetlinkError, OSError) as error:
            reason = os.strerror(error.code) if isinstance(error, NetlinkError) else str(error)
            return {network: reason for network in wanted}
        return failed


def _any(family: int) -> str:
    return "::" if family == socket.AF_INET6 else "0.0.0.0"
