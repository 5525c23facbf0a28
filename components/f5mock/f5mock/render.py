"""Records as BIG-IP writes them: `kind`, `selfLink`, `fullPath`, `generation`, stats."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from f5mock.dataplane import Counters, DataPlane, member_key
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


def pool_path(pool: ObjectPath) -> str:
    return f"/mgmt/tm/ltm/pool/{pool.url_token}"


def member_path(pool: ObjectPath, member: ObjectPath) -> str:
    return f"{pool_path(pool)}/members/{member.url_token}"


def node_path(node: ObjectPath) -> str:
    return f"/mgmt/tm/ltm/node/{node.url_token}"


def virtual_path(virtual: ObjectPath) -> str:
    return f"/mgmt/tm/ltm/virtual/{virtual.url_token}"


def tcp_profile_path(profile: ObjectPath) -> str:
    return f"/mgmt/tm/ltm/profile/tcp/{profile.url_token}"


def route_path(route: ObjectPath) -> str:
    return f"/mgmt/tm/net/route/{route.url_token}"


def _identity(kind: str, path: ObjectPath, generation: int, self_path: str) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind, "name": path.name, "partition": path.partition}
    if path.sub_path:
        body["subPath"] = path.sub_path
    body.update(fullPath=path.full_path, generation=generation, selfLink=link(self_path))
    return body


def _with_description(body: dict[str, Any], description: str) -> dict[str, Any]:
    if description:
        body["description"] = description
    return body


def node(record: NodeRecord) -> dict[str, Any]:
    body = _identity("tm:ltm:node:nodestate", record.path, record.generation, node_path(record.path))
    body.update(
        address=record.address,
        ephemeral="false",
        session="user-disabled" if record.disabled else "user-enabled",
        state="user-down" if record.forced_down else "unchecked",
    )
    return _with_description(body, record.description)


def member(plane: DataPlane, pool: PoolRecord, record: MemberRecord) -> dict[str, Any]:
    body = _identity(
        "tm:ltm:pool:members:membersstate", record.path, record.generation, member_path(pool.path, record.path)
    )
    state, session = plane.member_state(pool, record)
    body.update(address=record.address, ephemeral="false", ratio=record.ratio, session=session, state=state)
    return _with_description(body, record.description)


def members_collection(plane: DataPlane, pool: PoolRecord) -> dict[str, Any]:
    return collection(
        "tm:ltm:pool:members:memberscollectionstate",
        f"{pool_path(pool.path)}/members",
        [member(plane, pool, record) for record in pool.members],
    )


def pool(plane: DataPlane, record: PoolRecord, *, expand: bool = False) -> dict[str, Any]:
    body = _identity("tm:ltm:pool:poolstate", record.path, record.generation, pool_path(record.path))
    body["loadBalancingMode"] = record.load_balancing_mode
    if record.monitor:
        body["monitor"] = record.monitor
    _with_description(body, record.description)
    reference: dict[str, Any] = {"link": link(f"{pool_path(record.path)}/members"), "isSubcollection": True}
    if expand:
        reference["items"] = [member(plane, record, item) for item in record.members]
    body["membersReference"] = reference
    return body


def virtual(record: VirtualRecord) -> dict[str, Any]:
    body = _identity("tm:ltm:virtual:virtualstate", record.path, record.generation, virtual_path(record.path))
    body.update(
        destination=record.destination,
        ipProtocol="tcp",
        mask=record.mask,
        source=record.source,
        sourceAddressTranslation={"type": record.source_address_translation},
    )
    body["enabled" if record.enabled else "disabled"] = True
    body["profilesReference"] = {"link": link(f"{virtual_path(record.path)}/profiles"), "isSubcollection": True}
    if record.pool:
        body["pool"] = record.pool
        body["poolReference"] = {"link": link(pool_path(ObjectPath(*_split_full_path(record.pool))))}
    return _with_description(body, record.description)


def virtual_profiles(record: VirtualRecord) -> dict[str, Any]:
    collection_path = f"{virtual_path(record.path)}/profiles"
    profile = ObjectPath(*_split_full_path(record.tcp_profile))
    item = _identity(
        "tm:ltm:virtual:profiles:profilesstate", profile, record.generation, f"{collection_path}/{profile.url_token}"
    )
    item.update(context="all", nameReference={"link": link(tcp_profile_path(profile))})
    return collection("tm:ltm:virtual:profiles:profilescollectionstate", collection_path, [item])


def tcp_profile(record: TcpProfileRecord) -> dict[str, Any]:
    body = _identity("tm:ltm:profile:tcp:tcpstate", record.path, record.generation, tcp_profile_path(record.path))
    body["idleTimeout"] = record.idle_timeout
    if record.defaults_from:
        body["defaultsFrom"] = record.defaults_from
    return _with_description(body, record.description)


def route(record: RouteRecord) -> dict[str, Any]:
    body = _identity("tm:net:route:routestate", record.path, record.generation, route_path(record.path))
    network = {"0.0.0.0/0": "default", "::/0": "default-inet6"}.get(record.network, record.network)
    body.update(gw=record.gw, mtu=record.mtu, network=network)
    return _with_description(body, record.description)


def _split_full_path(full_path: str) -> tuple[str, str, str]:
    parts = full_path.split("/")[1:]
    return parts[0], parts[-1], parts[1] if len(parts) == 3 else ""


# --- stats ------------------------------------------------------------------------------


def stats(kind: str, self_path: str, object_path: ObjectPath, entries: dict[str, Any]) -> dict[str, Any]:
    """BIG-IP's stats shape: one nested entry keyed by the object's own stats link."""
    nested_path = f"{self_path}/{object_path.url_token}/stats"
    return {
        "kind": kind,
        "selfLink": link(f"{self_path}/stats"),
        "entries": {
            link(nested_path).partition("?")[0]: {
                "nestedStats": {"kind": kind, "selfLink": link(nested_path), "entries": entries},
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


def pool_stats(plane: DataPlane, record: PoolRecord) -> dict[str, Any]:
    active = sum(plane.availability(record, item) == "available" for item in record.members)
    entries = _status(record.path.full_path, "available" if active else "offline", True)
    entries["activeMemberCnt"] = {"value": active}
    entries.update(counter_entries("serverside", plane.counters("pool", record.path.full_path)))
    return stats("tm:ltm:pool:poolstats", pool_path(record.path), record.path, entries)


def member_stats(plane: DataPlane, pool_record: PoolRecord, record: MemberRecord) -> dict[str, Any]:
    entries = _status(record.path.full_path, plane.availability(pool_record, record), not record.disabled)
    entries.update(addr={"description": record.address}, port={"value": record.port})
    entries.update(counter_entries("serverside", plane.counters("member", member_key(pool_record, record))))
    return stats("tm:ltm:pool:members:membersstats", member_path(pool_record.path, record.path), record.path, entries)


def node_stats(plane: DataPlane, record: NodeRecord) -> dict[str, Any]:
    entries = _status(record.path.full_path, "offline" if record.forced_down else "unknown", not record.disabled)
    entries["addr"] = {"description": record.address}
    entries.update(counter_entries("serverside", plane.counters("node", record.path.full_path)))
    return stats("tm:ltm:node:nodestats", node_path(record.path), record.path, entries)


def virtual_stats(plane: DataPlane, record: VirtualRecord) -> dict[str, Any]:
    key = record.path.full_path
    listening = key in plane.listeners
    entries = _status(key, "available" if listening else "offline", record.enabled)
    if key in plane.unbound:
        reason = f"The virtual server {plane.unbound[key]}"
    elif not record.enabled:
        reason = "The virtual server is disabled"
    elif not record.pool:
        reason = "The virtual server has no pool"
    else:
        reason = "The virtual server is available"
    entries["status.statusReason"] = {"description": reason}
    entries["destination"] = {"description": record.destination}
    entries.update(counter_entries("clientside", plane.counters("virtual", record.path.full_path)))
    return stats("tm:ltm:virtual:virtualstats", virtual_path(record.path), record.path, entries)
