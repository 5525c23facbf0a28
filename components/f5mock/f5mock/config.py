"""BIG-IP's configuration rules, applied to a copy of the configuration.

`ConfigEdit` takes one API change at a time; if any rule is broken it raises an
`F5RestError` and the copy is dropped, so a refused change leaves nothing behind.
"""

from __future__ import annotations

import ipaddress
from typing import TypeVar

from f5mock.errors import F5RestError, already_exists, not_found
from f5mock.journal import RECORDS
from f5mock.models import (
    BUILTIN_TCP_PROFILE,
    DEFAULT_TCP_PROFILE,
    INDEFINITE,
    MONITORS,
    Config,
    MemberBody,
    MemberRecord,
    NodeBody,
    NodeRecord,
    PoolBody,
    PoolRecord,
    ProfileReference,
    RouteBody,
    RouteRecord,
    TcpProfileBody,
    TcpProfileRecord,
    VirtualBody,
    VirtualRecord,
)
from f5mock.names import (
    ObjectPath,
    is_address,
    make_path,
    parse_address,
    parse_destination,
    parse_port,
    reference_path,
    split_service,
)

RecordT = TypeVar("RecordT", NodeRecord, PoolRecord, VirtualRecord, TcpProfileRecord, RouteRecord)
Record = NodeRecord | PoolRecord | VirtualRecord | TcpProfileRecord | RouteRecord


def member_identity(pool: ObjectPath, member: ObjectPath) -> str:
    """How BIG-IP names a member in messages: `/Common/p /Common/10.0.0.1 80`."""
    host, port = split_service(member.name)
    return f"{pool.full_path} /{member.partition}/{host} {port}"


def normalise_monitor(rule: str) -> str:
    """`tcp`, `/Common/tcp`, `/Common/tcp and /Common/http`; "" or `none` for no monitor."""
    if rule.strip() in ("", "none", "/Common/none"):
        return ""
    names = []
    for part in rule.split(" and "):
        name = part.strip()
        full = name if name.startswith("/") else f"/Common/{name}"
        if full.rpartition("/")[0] != "/Common" or full.rpartition("/")[2] not in MONITORS:
            raise F5RestError(400, f"01020036:3: The requested monitor ({full}) was not found.")
        names.append(full)
    return " and ".join(names)


def _forced_down(state: str) -> bool:
    return state == "user-down"


def _disabled(session: str) -> bool:
    return session == "user-disabled"


class ConfigView:
    """Lookups that answer BIG-IP's 404s."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def node(self, path: ObjectPath) -> NodeRecord:
        found = self.config.nodes.get(path.full_path)
        if found is None:
            raise not_found("Node", path.full_path)
        return found

    def pool(self, path: ObjectPath) -> PoolRecord:
        found = self.config.pools.get(path.full_path)
        if found is None:
            raise not_found("Pool", path.full_path)
        return found

    def member(self, pool_path: ObjectPath, member_path: ObjectPath) -> MemberRecord:
        found = self.pool(pool_path).member(member_path.full_path)
        if found is None:
            raise not_found("Pool Member", member_identity(pool_path, member_path))
        return found

    def virtual(self, path: ObjectPath) -> VirtualRecord:
        found = self.config.virtuals.get(path.full_path)
        if found is None:
            raise not_found("Virtual Server", path.full_path)
        return found

    def tcp_profile(self, path: ObjectPath) -> TcpProfileRecord:
        if path.full_path == DEFAULT_TCP_PROFILE:
            return BUILTIN_TCP_PROFILE
        found = self.config.tcp_profiles.get(path.full_path)
        if found is None:
            raise not_found("profile", path.full_path)
        return found

    def tcp_profiles(self) -> list[TcpProfileRecord]:
        return [BUILTIN_TCP_PROFILE, *self.config.tcp_profiles.values()]

    def route(self, path: ObjectPath) -> RouteRecord:
        found = self.config.routes.get(path.full_path)
        if found is None:
            raise not_found("Route", path.full_path)
        return found


class ConfigEdit(ConfigView):
    """One change to a copy of `base`; `config` is the result once every call succeeded.

    Copy on write: the copy shares `base`'s records and copies only those it changes, so a
    change costs the same at 5,000 pools as at 5. Records are never changed in place once
    live; `changed` names those this edit created, replaced or deleted."""

    def __init__(self, base: Config) -> None:
        super().__init__(
            base.model_copy(
                update={kind: dict(getattr(base, kind)) for kind in RECORDS}
            )
        )
        self.config._node_addresses = dict(base.node_addresses())  # not shared with the live config
        self.config.generation += 1
        self.generation = self.config.generation
        self.changed: set[tuple[str, str]] = set()

    def _own(self, kind: str, record: RecordT) -> RecordT:
        """`record`, copied into this edit the first time it is changed."""
        key = record.path.full_path
        if (kind, key) in self.changed:
            return record
        copy = record.model_copy(deep=True)
        getattr(self.config, kind)[key] = copy
        self.changed.add((kind, key))
        return copy

    def _put(self, kind: str, key: str, record: Record) -> None:
        getattr(self.config, kind)[key] = record
        self.changed.add((kind, key))
        if isinstance(record, NodeRecord):
            self.config.node_addresses()[(record.partition, record.address)] = key

    def _delete(self, kind: str, key: str) -> None:
        record = getattr(self.config, kind).pop(key)
        self.changed.add((kind, key))
        if isinstance(record, NodeRecord):
            del self.config.node_addresses()[(record.partition, record.address)]

    # --- nodes --------------------------------------------------------------------------

    def create_node(self, body: NodeBody) -> NodeRecord:
        path = self._new_path(body, "Node", self.config.nodes)
        if body.address is None:
            raise F5RestError(400, f"01070734:3: Configuration error: Node {path.full_path} requires an address.")
        node = self._add_node(path, body.address)
        self._apply_node_fields(node, body)
        return node

    def update_node(self, path: ObjectPath, body: NodeBody) -> NodeRecord:
        node = self._own("nodes", self.node(path))
        if body.address is not None and str(parse_address(body.address)) != node.address:
            raise F5RestError(
                400, f"01070734:3: Configuration error: the address of Node {path.full_path} cannot be changed."
            )
        self._apply_node_fields(node, body)
        node.generation = self.generation
        return node

    def delete_node(self, path: ObjectPath) -> None:
        self.node(path)
        for pool in self.config.pools.values():
            if any(member.node == path.full_path for member in pool.members):
                raise F5RestError(
                    400,
                    f"01070110:3: Node address '{path.full_path}' is referenced by a member of pool '{pool.path.full_path}'.",
                )
        self._delete("nodes", path.full_path)

    def _add_node(self, path: ObjectPath, address_text: str) -> NodeRecord:
        address = str(parse_address(address_text))
        other = self.config.node_addresses().get((path.partition, address))
        if other is not None:
            raise already_exists("Node", f"{other} {address}", path.partition)
        node = NodeRecord(
            partition=path.partition,
            sub_path=path.sub_path,
            name=path.name,
            address=address,
            generation=self.generation,
        )
        self._put("nodes", path.full_path, node)
        return node

    @staticmethod
    def _apply_node_fields(node: NodeRecord, body: NodeBody) -> None:
        if body.description is not None:
            node.description = body.description
        if body.state is not None:
            node.forced_down = _forced_down(body.state)
        if body.session is not None:
            node.disabled = _disabled(body.session)

    # --- pools and members --------------------------------------------------------------

    def create_pool(self, body: PoolBody) -> PoolRecord:
        path = self._new_path(body, "Pool", self.config.pools)
        pool = PoolRecord(partition=path.partition, sub_path=path.sub_path, name=path.name, generation=self.generation)
        self._put("pools", path.full_path, pool)
        self._apply_pool_fields(pool, body)
        return pool

    def update_pool(self, path: ObjectPath, body: PoolBody) -> PoolRecord:
        pool = self._own("pools", self.pool(path))
        self._apply_pool_fields(pool, body)
        pool.generation = self.generation
        return pool

    def delete_pool(self, path: ObjectPath) -> None:
        self.pool(path)
        for virtual in self.config.virtuals.values():
            if virtual.pool == path.full_path:
                raise F5RestError(
                    400,
                    f"01070265:3: The Pool ({path.full_path}) cannot be deleted because it is in use by a "
                    f"Virtual Server ({virtual.path.full_path}).",
                )
        self._delete("pools", path.full_path)

    def _apply_pool_fields(self, pool: PoolRecord, body: PoolBody) -> None:
        if body.description is not None:
            pool.description = body.description
        if body.loadBalancingMode is not None:
            pool.load_balancing_mode = body.loadBalancingMode
        if body.monitor is not None:
            pool.monitor = normalise_monitor(body.monitor)
        if body.members is not None:  # a given list replaces the members, as on BIG-IP
            pool.members = []
            for member_body in body.members:
                self.create_member(pool.path, member_body)

    def create_member(self, pool_path: ObjectPath, body: MemberBody) -> MemberRecord:
        pool = self._own("pools", self.pool(pool_path))
        if not body.name:
            raise F5RestError(400, "01070734:3: Configuration error: a pool member requires a name (address:port).")
        path = make_path(body.name, body.partition or pool.partition)
        if path.sub_path:
            raise F5RestError(400, f"01070022:3: The requested object name ({body.name}) is invalid.")
        host, port_text = split_service(path.name)
        port = parse_port(port_text, f"pool member {path.name}")
        if pool.member(path.full_path) is not None:
            raise already_exists("Pool Member", member_identity(pool_path, path), path.partition)
        node = self._member_node(ObjectPath(path.partition, host), body.address)
        member = MemberRecord(
            partition=path.partition,
            name=path.name,
            node=node.path.full_path,
            address=node.address,
            port=port,
            generation=self.generation,
        )
        self._apply_member_fields(member, body)
        pool.members.append(member)
        return member

    def _member_node(self, node_path: ObjectPath, address: str | None) -> NodeRecord:
        """The member's node, created (as BIG-IP does) when the member names a new one."""
        existing = self.config.nodes.get(node_path.full_path)
        wanted = address if address is not None else node_path.name
        if existing is not None:
            if address is not None and str(parse_address(address)) != existing.address:
                raise F5RestError(
                    400,
                    f"01070734:3: Configuration error: Node {node_path.full_path} has address {existing.address}, not {address}.",
                )
            return existing
        if not is_address(wanted):
            raise F5RestError(400, f"01020036:3: The requested Node ({node_path.full_path}) was not found.")
        return self._add_node(node_path, wanted)

    def update_member(self, pool_path: ObjectPath, member_path: ObjectPath, body: MemberBody) -> MemberRecord:
        self._own("pools", self.pool(pool_path))
        member = self.member(pool_path, member_path)
        self._apply_member_fields(member, body)
        member.generation = self.generation
        return member

    def delete_member(self, pool_path: ObjectPath, member_path: ObjectPath) -> None:
        pool = self._own("pools", self.pool(pool_path))
        pool.members.remove(self.member(pool_path, member_path))

    @staticmethod
    def _apply_member_fields(member: MemberRecord, body: MemberBody) -> None:
        if body.description is not None:
            member.description = body.description
        if body.state is not None:
            member.forced_down = _forced_down(body.state)
        if body.session is not None:
            member.disabled = _disabled(body.session)
        if body.ratio is not None:
            member.ratio = body.ratio

    # --- virtual servers ----------------------------------------------------------------

    def create_virtual(self, body: VirtualBody) -> VirtualRecord:
        path = self._new_path(body, "Virtual Server", self.config.virtuals)
        if body.destination is None:
            raise F5RestError(
                400, f"01070734:3: Configuration error: Virtual Server {path.full_path} requires a destination."
            )
        virtual = VirtualRecord(
            partition=path.partition, sub_path=path.sub_path, name=path.name, destination="", generation=self.generation
        )
        self._put("virtuals", path.full_path, virtual)
        self._apply_virtual_fields(virtual, body)
        return virtual

    def update_virtual(self, path: ObjectPath, body: VirtualBody) -> VirtualRecord:
        virtual = self._own("virtuals", self.virtual(path))
        self._apply_virtual_fields(virtual, body)
        virtual.generation = self.generation
        return virtual

    def delete_virtual(self, path: ObjectPath) -> None:
        self.virtual(path)
        self._delete("virtuals", path.full_path)

    def _apply_virtual_fields(self, virtual: VirtualRecord, body: VirtualBody) -> None:
        if body.destination is not None:
            virtual.destination = str(parse_destination(body.destination, virtual.partition))
            self._check_destination_unique(virtual)
        if body.pool is not None:
            virtual.pool = self._pool_reference(body.pool, virtual.partition)
        if body.mask is not None:
            virtual.mask = str(_parse_ip(body.mask, "mask"))
        if body.source is not None:
            virtual.source = str(_parse_network(body.source))
        if body.sourceAddressTranslation is not None:
            virtual.source_address_translation = body.sourceAddressTranslation.type
        if body.description is not None:
            virtual.description = body.description
        if body.enabled and body.disabled:
            raise F5RestError(400, "01070734:3: Configuration error: enabled and disabled are mutually exclusive.")
        if body.enabled is not None or body.disabled is not None:
            virtual.enabled = bool(body.enabled) if body.enabled is not None else not body.disabled
        if body.profiles is not None:
            virtual.tcp_profile = self._virtual_tcp_profile(body.profiles, virtual.partition)

    def _virtual_tcp_profile(self, references: list[ProfileReference | str], partition: str) -> str:
        """The one TCP profile a virtual takes (the mock models no other profile type)."""
        paths = []
        for reference in references:
            if isinstance(reference, str):
                reference = ProfileReference(name=reference)
            paths.append(self._tcp_profile_reference(reference.name, reference.partition or partition))
        if len(paths) > 1:
            raise F5RestError(400, "01070734:3: Configuration error: a Virtual Server takes one TCP profile.")
        return paths[0] if paths else DEFAULT_TCP_PROFILE

    def _pool_reference(self, reference: str, partition: str) -> str:
        if reference in ("", "none"):
            return ""
        path = reference_path(reference, partition)
        if path.full_path not in self.config.pools:
            raise F5RestError(400, f"01020036:3: The requested Pool ({path.full_path}) was not found.")
        return path.full_path

    def _check_destination_unique(self, virtual: VirtualRecord) -> None:
        for other in self.config.virtuals.values():
            if other is not virtual and other.destination == virtual.destination:
                raise F5RestError(
                    400,
                    f"01070333:3: Virtual Server {virtual.path.full_path} illegally shares destination address, "
                    "source address, service port, ip-protocol, and route domain with Virtual Server "
                    f"{other.path.full_path}.",
                )

    # --- TCP profiles ---------------------------------------------------------------------

    def create_tcp_profile(self, body: TcpProfileBody) -> TcpProfileRecord:
        path = self._new_path(body, "profile", {DEFAULT_TCP_PROFILE: None, **self.config.tcp_profiles})
        parent = self.tcp_profile(
            make_path(self._tcp_profile_reference(body.defaultsFrom or DEFAULT_TCP_PROFILE, path.partition))
        )
        profile = TcpProfileRecord(
            partition=path.partition,
            sub_path=path.sub_path,
            name=path.name,
            generation=self.generation,
            defaults_from=parent.path.full_path,
            idle_timeout=parent.idle_timeout,  # inherited once, at creation
        )
        self._apply_tcp_profile_fields(profile, body)
        self._put("tcp_profiles", path.full_path, profile)
        return profile

    def update_tcp_profile(self, path: ObjectPath, body: TcpProfileBody) -> TcpProfileRecord:
        profile = self._own("tcp_profiles", self._custom_tcp_profile(path))
        if body.defaultsFrom is not None:
            profile.defaults_from = self._tcp_profile_reference(body.defaultsFrom, path.partition)
        self._apply_tcp_profile_fields(profile, body)
        profile.generation = self.generation
        return profile

    def delete_tcp_profile(self, path: ObjectPath) -> None:
        self._custom_tcp_profile(path)
        for virtual in self.config.virtuals.values():
            if virtual.tcp_profile == path.full_path:
                raise F5RestError(
                    400,
                    f"01070313:3: The profile ({path.full_path}) cannot be deleted because it is in use by a "
                    f"Virtual Server ({virtual.path.full_path}).",
                )
        for other in self.config.tcp_profiles.values():
            if other.defaults_from == path.full_path:
                raise F5RestError(
                    400,
                    f"01070313:3: The profile ({path.full_path}) cannot be deleted because the profile "
                    f"({other.path.full_path}) derives from it.",
                )
        self._delete("tcp_profiles", path.full_path)

    def _tcp_profile_reference(self, reference: str, partition: str) -> str:
        full_path = reference_path(reference, partition).full_path
        if full_path != DEFAULT_TCP_PROFILE and full_path not in self.config.tcp_profiles:
            raise F5RestError(400, f"01020036:3: The requested profile ({full_path}) was not found.")
        return full_path

    def _custom_tcp_profile(self, path: ObjectPath) -> TcpProfileRecord:
        profile = self.tcp_profile(path)
        if profile is BUILTIN_TCP_PROFILE:
            raise F5RestError(
                400, f"01070734:3: Configuration error: the profile {DEFAULT_TCP_PROFILE} is read-only here."
            )
        return profile

    @staticmethod
    def _apply_tcp_profile_fields(profile: TcpProfileRecord, body: TcpProfileBody) -> None:
        if body.description is not None:
            profile.description = body.description
        if body.idleTimeout is not None:
            profile.idle_timeout = INDEFINITE if body.idleTimeout == "indefinite" else body.idleTimeout

    # --- static routes --------------------------------------------------------------------

    def create_route(self, body: RouteBody) -> RouteRecord:
        path = self._new_path(body, "Route", self.config.routes)
        if body.network is None or body.gw is None:
            raise F5RestError(
                400, f"01070734:3: Configuration error: Route {path.full_path} requires a network and a gw."
            )
        route = RouteRecord(
            partition=path.partition, sub_path=path.sub_path, name=path.name, network="", gw="", generation=self.generation
        )
        self._apply_route_fields(route, body)
        self._put("routes", path.full_path, route)
        return route

    def update_route(self, path: ObjectPath, body: RouteBody) -> RouteRecord:
        route = self._own("routes", self.route(path))
        self._apply_route_fields(route, body)
        route.generation = self.generation
        return route

    def delete_route(self, path: ObjectPath) -> None:
        self.route(path)
        self._delete("routes", path.full_path)

    def _apply_route_fields(self, route: RouteRecord, body: RouteBody) -> None:
        if body.network is not None:
            route.network = str(parse_route_network(body.network))
        if body.gw is not None:
            route.gw = str(_parse_ip(body.gw, "gw"))
        if body.mtu is not None:
            route.mtu = body.mtu
        if body.description is not None:
            route.description = body.description
        if ipaddress.ip_network(route.network).version != ipaddress.ip_address(route.gw).version:
            raise F5RestError(
                400,
                f"01070734:3: Configuration error: the gateway {route.gw} of Route {route.path.full_path} "
                f"is not of the address family of {route.network}.",
            )
        for other in self.config.routes.values():
            if other.path != route.path and other.network == route.network:
                raise F5RestError(
                    400,
                    f"01070734:3: Configuration error: Route {route.path.full_path} has the destination "
                    f"{route.network} of Route {other.path.full_path}.",
                )

    # --- shared -------------------------------------------------------------------------

    @staticmethod
    def _new_path(
        body: NodeBody | PoolBody | VirtualBody | TcpProfileBody | RouteBody, label: str, existing: dict
    ) -> ObjectPath:
        if not body.name:
            raise F5RestError(400, f"01070734:3: Configuration error: a {label} requires a name.")
        path = make_path(body.name, body.partition, body.subPath)
        if path.full_path in existing:
            raise already_exists(label, path.full_path, path.partition)
        return path


def _parse_ip(text: str, field: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise F5RestError(400, f'01070712:3: Invalid IP address "{text}" in {field}.') from None


def parse_route_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A route's destination: `10.244.1.0/24`, a bare address (a host route), `default`, `default-inet6`."""
    named = {"default": "0.0.0.0/0", "default-inet6": "::/0"}.get(text, text)
    try:
        return ipaddress.ip_network(named)
    except ValueError:
        raise F5RestError(400, f'01070712:3: Invalid network "{text}": an address/prefix without host bits.') from None


def _parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise F5RestError(400, f'01070712:3: Invalid IP address "{text}" in source.') from None
