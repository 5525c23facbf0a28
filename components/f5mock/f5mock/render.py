"""Records as BIG-IP writes them: `kind`, `selfLink`, `fullPath`, `generation`, stats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from f5mock.dataplane import Counters, DataPlane, member_key
from f5mock.kinds import FASTL4_PROFILE, MEMBER, NODE, POOL, ROUTE, TCP_PROFILE, VIRTUAL, Kind, Record
from f5mock.models import (
    MemberRecord,
    NodeRecord,
    PoolRecord,
    RouteRecord,
    TcpProfileRecord,
    VirtualRecord,
)
from f5mock.names import ObjectPath

VERSION = "15.1.0"
BUILD = "0.0.6"


def link(path: str) -> str:
    """A BIG-IP link: host `localhost` (clients swap in the real one) and `?ver=`."""
    return f"https://localhost{quote(path, safe='/~:.-_')}?ver={VERSION}"


def collection(kind: str, path: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind, "selfLink": link(path)}
    if items:  # BIG-IP leaves `items` out of an empty collection
        body["items"] = items
    return body


def item(kind: Kind[Any, Any], plane: DataPlane, record: Record, parent: PoolRecord | None = None,
         *, expand: bool = False) -> dict[str, Any]:
    """An object as BIG-IP answers it: its identity, then its kind's own fields (`parent`:
    a member's pool; `expand`: a pool's members written out)."""
    parent_path = parent.path if parent is not None else None
    body = _identity(kind.state("state"), record.path, record.generation, kind.object_path(record.path, parent_path))
    body.update(_FIELDS[kind](plane, record, parent, expand))
    return body


def items(kind: Kind[Any, Any], plane: DataPlane, records: list[Record], parent: PoolRecord | None = None,
          *, expand: bool = False) -> dict[str, Any]:
    """A collection of `kind` (a pool's members when `parent` is given)."""
    return collection(
        kind.state("collectionstate"),
        kind.collection(parent.path if parent is not None else None),
        [item(kind, plane, record, parent, expand=expand) for record in records],
    )


def _identity(kind: str, path: ObjectPath, generation: int, self_path: str) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind, "name": path.name, "partition": path.partition}
    if path.sub_path:
        body["subPath"] = path.sub_path
    body.update(fullPath=path.full_path, generation=generation, selfLink=link(self_path))
    return body


def _description(record: Record) -> dict[str, str]:
    return {"description": record.description} if record.description else {}


# Each kind's own fields, after its identity: (plane, record, its parent, expand) -> fields.


def _node(plane: DataPlane, record: NodeRecord, parent: None, expand: bool) -> dict[str, Any]:
    return {
        "address": record.address,
        "ephemeral": "false",
        "session": "user-disabled" if record.disabled else "user-enabled",
        "state": "user-down" if record.forced_down else "unchecked",
        **_description(record),
    }


def _member(plane: DataPlane, record: MemberRecord, pool: PoolRecord, expand: bool) -> dict[str, Any]:
    state, session = plane.member_state(pool, record)
    fields = {"address": record.address, "ephemeral": "false", "ratio": record.ratio, "session": session}
    return {**fields, "state": state, **_description(record)}


def _pool(plane: DataPlane, record: PoolRecord, parent: None, expand: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"loadBalancingMode": record.load_balancing_mode}
    if record.monitor:
        fields["monitor"] = record.monitor
    fields.update(_description(record))
    reference: dict[str, Any] = {"link": link(MEMBER.collection(record.path)), "isSubcollection": True}
    if expand:
        reference["items"] = [item(MEMBER, plane, member, record) for member in record.members]
    fields["membersReference"] = reference
    return fields


def _virtual(plane: DataPlane, record: VirtualRecord, parent: None, expand: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "destination": record.destination,
        "ipProtocol": "tcp",
        "mask": record.mask,
        "source": record.source,
        "sourceAddressTranslation": {"type": record.source_address_translation},
        "enabled" if record.enabled else "disabled": True,
        "profilesReference": {"link": link(f"{VIRTUAL.object_path(record.path)}/profiles"), "isSubcollection": True},
    }
    if record.pool:
        fields["pool"] = record.pool
        fields["poolReference"] = {"link": link(POOL.object_path(ObjectPath(*_split_full_path(record.pool))))}
    return {**fields, **_description(record)}


def _tcp_profile(plane: DataPlane, record: TcpProfileRecord, parent: None, expand: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"idleTimeout": record.idle_timeout}
    if record.defaults_from:
        fields["defaultsFrom"] = record.defaults_from
    return {**fields, **_description(record)}


def _route(plane: DataPlane, record: RouteRecord, parent: None, expand: bool) -> dict[str, Any]:
    network = {"0.0.0.0/0": "default", "::/0": "default-inet6"}.get(record.network, record.network)
    return {"gw": record.gw, "mtu": record.mtu, "network": network, **_description(record)}


_FIELDS: dict[Kind[Any, Any], Callable[[DataPlane, Any, Any, bool], dict[str, Any]]] = {
    NODE: _node,
    POOL: _pool,
    MEMBER: _member,
    VIRTUAL: _virtual,
    TCP_PROFILE: _tcp_profile,
    FASTL4_PROFILE: _tcp_profile,
    ROUTE: _route,
}


def virtual_profiles(record: VirtualRecord) -> dict[str, Any]:
    collection_path = f"{VIRTUAL.object_path(record.path)}/profiles"
    profile = ObjectPath(*_split_full_path(record.fastl4_profile or record.tcp_profile))
    profile_kind = FASTL4_PROFILE if record.fastl4_profile else TCP_PROFILE
    entry = _identity(
        "tm:ltm:virtual:profiles:profilesstate", profile, record.generation, f"{collection_path}/{profile.url_token}"
    )
    entry.update(context="all", nameReference={"link": link(profile_kind.object_path(profile))})
    return collection("tm:ltm:virtual:profiles:profilescollectionstate", collection_path, [entry])


def _split_full_path(full_path: str) -> tuple[str, str, str]:
    parts = full_path.split("/")[1:]
    return parts[0], parts[-1], parts[1] if len(parts) == 3 else ""


# --- stats ------------------------------------------------------------------------------


def stats(kind: Kind[Any, Any], plane: DataPlane, record: Record, parent: PoolRecord | None = None) -> dict[str, Any]:
    """BIG-IP's stats shape: one nested entry keyed by the object's own stats link."""
    state = kind.state("stats")
    self_path = kind.object_path(record.path, parent.path if parent is not None else None)
    nested_path = f"{self_path}/{record.path.url_token}/stats"
    entries = _STATS[kind](plane, record, parent)
    return {
        "kind": state,
        "selfLink": link(f"{self_path}/stats"),
        "entries": {
            link(nested_path).partition("?")[0]: {
                "nestedStats": {"kind": state, "selfLink": link(nested_path), "entries": entries},
            }
        },
    }


def counter_entries(side: str, counters: Counters) -> dict[str, Any]:
    return {
        f"{side}.curConns": {"value": counters.current},
        f"{side}.totConns": {"value": counters.total},
        f"{side}.bitsIn": {"value": counters.bytes_in * 8},
        f"{side}.bitsOut": {"value": counters.bytes_out * 8},
    }


def _status(name: str, availability: str, enabled: bool) -> dict[str, Any]:
    return {
        "tmName": {"description": name},
        "status.availabilityState": {"description": availability},
        "status.enabledState": {"description": "enabled" if enabled else "disabled"},
    }


# Each kind's counters and status: (plane, record, its parent) -> entries.


def _pool_stats(plane: DataPlane, record: PoolRecord, parent: None) -> dict[str, Any]:
    active = sum(plane.availability(record, item) == "available" for item in record.members)
    entries = _status(record.path.full_path, "available" if active else "offline", True)
    entries["activeMemberCnt"] = {"value": active}
    entries.update(counter_entries("serverside", plane.counters("pool", record.path.full_path)))
    return entries


def _member_stats(plane: DataPlane, record: MemberRecord, pool: PoolRecord) -> dict[str, Any]:
    entries = _status(record.path.full_path, plane.availability(pool, record), not record.disabled)
    entries.update(addr={"description": record.address}, port={"value": record.port})
    entries.update(counter_entries("serverside", plane.counters("member", member_key(pool, record))))
    return entries


def _node_stats(plane: DataPlane, record: NodeRecord, parent: None) -> dict[str, Any]:
    entries = _status(record.path.full_path, "offline" if record.forced_down else "unknown", not record.disabled)
    entries["addr"] = {"description": record.address}
    entries.update(counter_entries("serverside", plane.counters("node", record.path.full_path)))
    return entries


def _virtual_stats(plane: DataPlane, record: VirtualRecord, parent: None) -> dict[str, Any]:
    key = record.path.full_path
    listening = key in plane.listeners
    entries = _status(key, "available" if listening else "offline", record.enabled)
    if key in plane.unbound:
        reason = f"The virtual server {plane.unbound[key]}"
    elif not record.enabled:
        reason = "The virtual server is disabled"
    elif not record.pool:
        reason = "The virtual server has no pool"
    elif key in plane.not_in_kernel:  # degraded, as the appliance reports a virtual off its fast path
        reason = f"The virtual server is available (fastL4 forwarded by the userspace proxy: {plane.not_in_kernel[key]})"
    elif record.fastl4_profile:
        reason = "The virtual server is available (fastL4 forwarded by the kernel)"
    else:
        reason = "The virtual server is available"
    entries["status.statusReason"] = {"description": reason}
    entries["destination"] = {"description": record.destination}
    entries.update(counter_entries("clientside", plane.counters("virtual", record.path.full_path)))
    return entries


_STATS: dict[Kind[Any, Any], Callable[[DataPlane, Any, Any], dict[str, Any]]] = {
    NODE: _node_stats,
    POOL: _pool_stats,
    MEMBER: _member_stats,
    VIRTUAL: _virtual_stats,
}
