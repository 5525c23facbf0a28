"""BIG-IP's configuration rules, applied to a copy of the configuration.

`ConfigEdit` takes one API change at a time; if any rule is broken it raises an
`F5RestError` and the copy is dropped, so a refused change leaves nothing behind.
Creating, changing and deleting are the same for every kind (`kinds.py` declares what
differs as data); each kind's own fields are read by its rules at the end of the class.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from f5mock.errors import F5RestError, already_exists, not_found
from f5mock.journal import RECORDS
from f5mock.kinds import (
    KIND_NAMED,
    KINDS,
    FASTL4_PROFILE,
    MEMBER,
    NODE,
    POOL,
    ROUTE,
    TCP_PROFILE,
    VIRTUAL,
    Body,
    BodyT,
    Kind,
    Record,
    RecordT,
)
from f5mock.models import (
    DEFAULT_TCP_PROFILE,
    INDEFINITE,
    FASTL4_PROFILE as FASTL4_DEFAULT,
    FastL4ProfileBody,
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

    def find(self, kind: Kind[RecordT, Any], path: ObjectPath, parent: ObjectPath | None = None) -> RecordT:
        """The object at `path` (in the pool at `parent`, for a member)."""
        found = self.lookup(kind, path, parent)
        if found is None:
            raise not_found(kind.label, kind.identity(path, parent))
        return found

    def lookup(self, kind: Kind[RecordT, Any], path: ObjectPath, parent: ObjectPath | None = None) -> RecordT | None:
        if kind.parent is not None:  # compared field by field: making each record's path would cost more
            name, partition, sub_path = path.name, path.partition, path.sub_path
            holder = self.find(kind.parent, parent)  # type: ignore[arg-type]
            if name not in holder.member_names():
                return None
            return next(
                (
                    record
                    for record in self.records(kind, parent)
                    if record.name == name and record.partition == partition and record.sub_path == sub_path
                ),
                None,
            )
        builtin = next((record for record in kind.builtins if record.path == path), None)
        return builtin if builtin is not None else self._table(kind).get(path.full_path)

    def records(self, kind: Kind[RecordT, Any], parent: ObjectPath | None = None) -> list[RecordT]:
        """Every object of `kind` (in the pool at `parent`, for members), the built-in ones first."""
        if kind.parent is not None:
            return getattr(self.find(kind.parent, parent), kind.plural)  # type: ignore[arg-type]
        return [*kind.builtins, *self._table(kind).values()]

    def _table(self, kind: Kind[RecordT, Any]) -> dict[str, RecordT]:
        return getattr(self.config, kind.plural)


class ConfigEdit(ConfigView):
    """One change to a copy of `base`; `config` is the result once every call succeeded.

    Copy on write: the copy shares `base`'s records and copies only those it changes, so a
    change costs the same at 5,000 pools as at 5. Records are never changed in place once
    live; `changed` names those this edit created, replaced or deleted. A pool whose members
    alone changed is copied with its list of members (not the members themselves), and
    `members` names those members, so that the journal records them rather than the pool:
    adding a member costs the same at 10,000 members as at 10."""

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
        # pool -> name -> the member created or changed, None when deleted
        self.members: dict[str, dict[str, MemberRecord | None]] = {}
        self.whole: set[str] = set()  # pools created, deleted, or whose own fields changed

    @property
    def member_changes(self) -> dict[str, dict[str, MemberRecord | None]]:
        """Pools whose members alone changed -> those members (None: deleted): what the journal records of them."""
        return {pool: names for pool, names in self.members.items() if pool not in self.whole}

    # --- every kind ---------------------------------------------------------------------

    def create(self, kind: Kind[RecordT, BodyT], body: BodyT, parent: ObjectPath | None = None) -> RecordT:
        """A new object from a POST body (in the pool at `parent`, for a member)."""
        holder = self._owned(kind.parent, parent, whole=False) if kind.parent is not None else None
        path = self._new_path(kind, body, parent)
        if any(getattr(body, name) is None for name in kind.required):
            raise F5RestError(
                400, f"01070734:3: Configuration error: {kind.label} {path.full_path} requires {kind.requires}."
            )
        # A field with no default that creation does not set (a virtual's destination) starts
        # empty: the kind's field rules below set it from the body, which had to give it.
        unset = {name: "" for name, field in kind.record.model_fields.items() if field.is_required()}
        identity = dict(partition=path.partition, sub_path=path.sub_path, name=path.name, generation=self.generation)
        created = _CREATED[kind](self, path, body) if kind in _CREATED else {}
        record = kind.record(**{**unset, **identity, **created})
        if holder is not None:
            getattr(holder, kind.plural).append(record)
            holder.member_names().add(record.name)
            self.members.setdefault(holder.path.full_path, {})[record.name] = record
        else:
            self._put(kind.plural, path.full_path, record)
        _FIELDS[kind](self, record, body)
        return record

    def update(
        self, kind: Kind[RecordT, BodyT], path: ObjectPath, body: BodyT, parent: ObjectPath | None = None
    ) -> RecordT:
        """PUT and PATCH alike: the fields given change (BIG-IP's PUT does the same for these)."""
        record = self._owned(kind, path, parent)
        if kind in _CHANGED:
            _CHANGED[kind](self, record, body)
        _FIELDS[kind](self, record, body)
        record.generation = self.generation
        return record

    def delete(self, kind: Kind[Any, Any], path: ObjectPath, parent: ObjectPath | None = None) -> None:
        if kind.parent is not None:
            holder = self._owned(kind.parent, parent, whole=False)
            found = self.find(kind, path, parent)
            members = getattr(holder, kind.plural)
            del members[next(index for index, member in enumerate(members) if member is found)]
            holder._names = None  # another member may have the same name in another partition
            self.members.setdefault(holder.path.full_path, {})[found.name] = None
            return
        self._changeable(kind, self.find(kind, path))
        for referrer in KINDS:  # BIG-IP refuses to delete what another object names
            for reference in referrer.references:
                if reference.target == kind.name:
                    for holder, record in self._every(referrer):
                        if getattr(record, reference.field) == path.full_path:
                            message = reference.in_use.format(target=path.full_path, referrer=holder.path.full_path)
                            raise F5RestError(400, message)
        self._delete(kind.plural, path.full_path)

    # In-process callers that build one kind (the store's tests) name it.
    def create_pool(self, body: PoolBody) -> PoolRecord:
        return self.create(POOL, body)

    def create_virtual(self, body: VirtualBody) -> VirtualRecord:
        return self.create(VIRTUAL, body)

    def _new_path(self, kind: Kind[Any, Any], body: Body, parent: ObjectPath | None) -> ObjectPath:
        """Where a POST body puts the new object (a member: in its pool's partition by default)."""
        if not body.name:
            nameless = kind.nameless or f"a {kind.label} requires a name"
            raise F5RestError(400, f"01070734:3: Configuration error: {nameless}.")
        if kind.folders:
            path = make_path(body.name, body.partition, body.subPath)
        else:
            path = make_path(body.name, body.partition or (parent.partition if parent else None))
            if path.sub_path:
                raise F5RestError(400, f"01070022:3: The requested object name ({body.name}) is invalid.")
        if self.lookup(kind, path, parent) is not None:
            raise already_exists(kind.label, kind.identity(path, parent), path.partition)
        return path

    def _referred(self, kind: Kind[Any, Any], field: str, reference: str, partition: str) -> str:
        """The full path of the object a body names in `field` (`/Common/web` or `web`),
        which must exist."""
        target = KIND_NAMED[kind.reference(field).target]
        path = reference_path(reference, partition)
        if self.lookup(target, path) is None:
            raise F5RestError(400, not_found(target.label, path.full_path).message)
        return path.full_path

    def _every(self, kind: Kind[Any, Any]) -> list[tuple[Record, Record]]:
        """Each object of `kind` with the top-level one holding it (itself, or a member's pool)."""
        if kind.parent is None:
            return [(record, record) for record in self._table(kind).values()]
        holders = self._table(kind.parent).values()
        return [(holder, record) for holder in holders for record in getattr(holder, kind.plural)]

    def _owned(
        self, kind: Kind[RecordT, Any], path: ObjectPath | None, parent: ObjectPath | None = None, *, whole: bool = True
    ) -> RecordT:
        """The object, copied into this edit to be changed; a member through its pool's copy.
        `whole`: the object's own fields change (else only the records it holds)."""
        if kind.parent is not None:
            holder = self._owned(kind.parent, parent, whole=False)
            found = self.find(kind, path, parent)  # type: ignore[arg-type]
            held = getattr(holder, kind.plural)
            index = next(index for index, record in enumerate(held) if record is found)
            held[index] = copy = found.model_copy(deep=True)
            self.members.setdefault(holder.path.full_path, {})[found.name] = copy
            return copy
        record = self._changeable(kind, self.find(kind, path))  # type: ignore[arg-type]
        key = record.path.full_path
        if whole and kind is POOL:
            self.whole.add(key)
        if (kind.plural, key) in self.changed:
            return record
        if kind is POOL:  # its members are shared until one of them changes
            copy = record.model_copy(update={"members": list(record.members)})
            copy._names = set(record._names) if record._names is not None else None  # not shared either
        else:
            copy = record.model_copy(deep=True)
        self._put(kind.plural, key, copy)
        return copy

    @staticmethod
    def _changeable(kind: Kind[RecordT, Any], record: RecordT) -> RecordT:
        if any(record is builtin for builtin in kind.builtins):
            raise F5RestError(
                400, f"01070734:3: Configuration error: the {kind.label} {record.path.full_path} is read-only here."
            )
        return record

    def _put(self, table: str, key: str, record: Record) -> None:
        if (table, key) not in self.changed and table == POOL.plural and key not in self.config.pools:
            self.whole.add(key)  # created
        getattr(self.config, table)[key] = record
        self.changed.add((table, key))
        if isinstance(record, NodeRecord):
            self.config.node_addresses()[(record.partition, record.address)] = key

    def _delete(self, table: str, key: str) -> None:
        record = getattr(self.config, table).pop(key)
        self.changed.add((table, key))
        if table == POOL.plural:
            self.whole.add(key)
        if isinstance(record, NodeRecord):
            del self.config.node_addresses()[(record.partition, record.address)]

    # --- what each kind does with its own fields -----------------------------------------

    def _free_address(self, path: ObjectPath, address_text: str) -> str:
        """A node's address, which no other node of its partition has (BIG-IP's rule)."""
        address = str(parse_address(address_text))
        other = self.config.node_addresses().get((path.partition, address))
        if other is not None:
            raise already_exists(NODE.label, f"{other} {address}", path.partition)
        return address

    def _node_created(self, path: ObjectPath, body: NodeBody) -> dict[str, Any]:
        return {"address": self._free_address(path, body.address)}  # type: ignore[arg-type]

    def _node_changed(self, node: NodeRecord, body: NodeBody) -> None:
        if body.address is not None and str(parse_address(body.address)) != node.address:
            raise F5RestError(
                400, f"01070734:3: Configuration error: the address of Node {node.path.full_path} cannot be changed."
            )

    def _node_fields(self, node: NodeRecord, body: NodeBody) -> None:
        if body.description is not None:
            node.description = body.description
        if body.state is not None:
            node.forced_down = _forced_down(body.state)
        if body.session is not None:
            node.disabled = _disabled(body.session)

    def _pool_fields(self, pool: PoolRecord, body: PoolBody) -> None:
        if body.description is not None:
            pool.description = body.description
        if body.loadBalancingMode is not None:
            pool.load_balancing_mode = body.loadBalancingMode
        if body.monitor is not None:
            pool.monitor = normalise_monitor(body.monitor)
        if body.members is not None:  # a given list replaces the members, as on BIG-IP
            pool.members = []
            pool._names = None
            for member_body in body.members:
                self.create(MEMBER, member_body, pool.path)

    def _member_created(self, path: ObjectPath, body: MemberBody) -> dict[str, Any]:
        host, port_text = split_service(path.name)
        port = parse_port(port_text, f"pool member {path.name}")
        node = self._member_node(ObjectPath(path.partition, host), body.address)
        return {"node": node.path.full_path, "address": node.address, "port": port}

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
        node = NodeRecord(
            partition=node_path.partition,
            name=node_path.name,
            address=self._free_address(node_path, wanted),
            generation=self.generation,
        )
        self._put(NODE.plural, node_path.full_path, node)
        return node

    def _member_fields(self, member: MemberRecord, body: MemberBody) -> None:
        if body.description is not None:
            member.description = body.description
        if body.state is not None:
            member.forced_down = _forced_down(body.state)
        if body.session is not None:
            member.disabled = _disabled(body.session)
        if body.ratio is not None:
            member.ratio = body.ratio

    def _virtual_fields(self, virtual: VirtualRecord, body: VirtualBody) -> None:
        if body.destination is not None:
            virtual.destination = str(parse_destination(body.destination, virtual.partition))
            self._check_destination_unique(virtual)
        if body.pool is not None:
            none = body.pool in ("", "none")
            virtual.pool = "" if none else self._referred(VIRTUAL, "pool", body.pool, virtual.partition)
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
            virtual.tcp_profile, virtual.fastl4_profile = self._virtual_profile(body.profiles, virtual.partition)

    def _virtual_profile(self, references: list[ProfileReference | str], partition: str) -> tuple[str, str]:
        """The one TCP or fastL4 profile a virtual takes (the mock models no other profile
        type): (the TCP profile, "") or ("", the fastL4 profile)."""
        tcp, fastl4 = [], []
        for reference in references:
            if isinstance(reference, str):
                reference = ProfileReference(name=reference)
            path = reference_path(reference.name, reference.partition or partition)
            if self.lookup(FASTL4_PROFILE, path) is not None:
                fastl4.append(path.full_path)
            else:
                tcp.append(self._referred(VIRTUAL, "tcp_profile", reference.name, reference.partition or partition))
        if len(tcp) + len(fastl4) > 1:
            raise F5RestError(400, "01070734:3: Configuration error: a Virtual Server takes one TCP or fastL4 profile.")
        if fastl4:
            return "", fastl4[0]
        return (tcp[0] if tcp else DEFAULT_TCP_PROFILE), ""

    def _check_destination_unique(self, virtual: VirtualRecord) -> None:
        for other in self.config.virtuals.values():
            if other.path != virtual.path and other.destination == virtual.destination:
                raise F5RestError(
                    400,
                    f"01070333:3: Virtual Server {virtual.path.full_path} illegally shares destination address, "
                    "source address, service port, ip-protocol, and route domain with Virtual Server "
                    f"{other.path.full_path}.",
                )

    def _tcp_profile_created(self, path: ObjectPath, body: TcpProfileBody) -> dict[str, Any]:
        kind, default = _profile_kind(body)
        parent_path = self._referred(kind, "defaults_from", body.defaultsFrom or default, path.partition)
        parent = self.find(kind, make_path(parent_path))
        # The parent's idleTimeout is copied once, at creation, not followed later.
        return {"defaults_from": parent.path.full_path, "idle_timeout": parent.idle_timeout}

    def _tcp_profile_changed(self, profile: TcpProfileRecord, body: TcpProfileBody) -> None:
        if body.defaultsFrom is not None:
            kind, _ = _profile_kind(body)
            profile.defaults_from = self._referred(kind, "defaults_from", body.defaultsFrom, profile.partition)

    def _tcp_profile_fields(self, profile: TcpProfileRecord, body: TcpProfileBody) -> None:
        if body.description is not None:
            profile.description = body.description
        if body.idleTimeout is not None:
            profile.idle_timeout = INDEFINITE if body.idleTimeout == "indefinite" else body.idleTimeout

    def _route_fields(self, route: RouteRecord, body: RouteBody) -> None:
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


# Each kind's own rules. Fields a creation sets once (a node's address, a member's node,
# what a TCP profile inherits):
_CREATED: dict[Kind[Any, Any], Callable[[ConfigEdit, ObjectPath, Any], dict[str, Any]]] = {
    NODE: ConfigEdit._node_created,
    MEMBER: ConfigEdit._member_created,
    TCP_PROFILE: ConfigEdit._tcp_profile_created,
    FASTL4_PROFILE: ConfigEdit._tcp_profile_created,
}
# Checked on a change only, before the fields (an address that cannot change, a new parent):
_CHANGED: dict[Kind[Any, Any], Callable[[ConfigEdit, Any, Any], None]] = {
    NODE: ConfigEdit._node_changed,
    TCP_PROFILE: ConfigEdit._tcp_profile_changed,
    FASTL4_PROFILE: ConfigEdit._tcp_profile_changed,
}
# The fields a body sets, on creation and change alike:
_FIELDS: dict[Kind[Any, Any], Callable[[ConfigEdit, Any, Any], None]] = {
    NODE: ConfigEdit._node_fields,
    POOL: ConfigEdit._pool_fields,
    MEMBER: ConfigEdit._member_fields,
    VIRTUAL: ConfigEdit._virtual_fields,
    TCP_PROFILE: ConfigEdit._tcp_profile_fields,
    FASTL4_PROFILE: ConfigEdit._tcp_profile_fields,  # the same fields (idleTimeout, defaultsFrom)
    ROUTE: ConfigEdit._route_fields,
}


def _profile_kind(body: TcpProfileBody) -> tuple[Kind[Any, Any], str]:
    """A TCP or fastL4 profile's kind and the built-in one it derives from by default."""
    if isinstance(body, FastL4ProfileBody):
        return FASTL4_PROFILE, FASTL4_DEFAULT
    return TCP_PROFILE, DEFAULT_TCP_PROFILE


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
