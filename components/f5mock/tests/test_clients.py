"""Existing iControl REST clients work unchanged, with Basic auth and with tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from bigrest.bigip import BIGIP
from f5.bigip import ManagementRoot

from tests.support.ports import free_port


@pytest.fixture(autouse=True)
def trust_env_off(monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE override a session's verify=False; the clients set
    # verify=False for BIG-IP's self-signed certificate, as they do against a real one.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.mark.parametrize("token", [False, True], ids=["basic", "token"])
def test_f5_sdk_manages_pools_members_nodes_and_virtuals(f5, token):
    address = urlsplit(f5.url)
    bigip = ManagementRoot(address.hostname, "admin", "admin", port=address.port, token=token)
    assert bigip.tmos_version == "15.1.0"

    pool = bigip.tm.ltm.pools.pool.create(name="web", partition="Common", monitor="/Common/tcp")
    member = pool.members_s.members.create(name="10.1.1.5:80", partition="Common")
    member.modify(session="user-disabled")
    member.update(state="user-down")
    member.refresh()
    assert (member.session, member.state) == ("user-disabled", "user-down")
    assert pool.members_s.members.exists(name="10.1.1.5:80", partition="Common")
    pool.description = "front"
    pool.update()
    assert bigip.tm.ltm.pools.pool.load(name="web", partition="Common").description == "front"
    assert [p.name for p in bigip.tm.ltm.pools.get_collection()] == ["web"]
    assert [m.name for m in pool.members_s.get_collection()] == ["10.1.1.5:80"]

    node = bigip.tm.ltm.nodes.node.create(name="db", partition="Common", address="10.1.1.9")
    node.modify(session="user-disabled")
    assert bigip.tm.ltm.nodes.node.load(name="db", partition="Common").session == "user-disabled"

    port = free_port()
    virtual = bigip.tm.ltm.virtuals.virtual.create(
        name="vs", partition="Common", destination=f"127.0.0.1:{port}", pool="/Common/web"
    )
    assert virtual.destination == f"/Common/127.0.0.1:{port}"
    virtual.modify(description="edge")
    stats = pool.stats.load()
    (nested,) = stats.entries.values()
    assert nested["nestedStats"]["entries"]["serverside.totConns"]["value"] == 0

    virtual.delete()
    member.delete()
    pool.delete()
    node.delete()
    assert not bigip.tm.ltm.pools.pool.exists(name="web", partition="Common")


@pytest.mark.parametrize("token", [False, True], ids=["basic", "token"])
def test_bigrest_manages_pools_members_nodes_and_virtuals(f5, token):
    address = urlsplit(f5.url)
    device = BIGIP(f"{address.hostname}:{address.port}", "admin", "admin", request_token=token, session_verify=False)

    device.create("/mgmt/tm/ltm/pool", {"name": "web", "partition": "Common"})
    device.create("/mgmt/tm/ltm/pool/~Common~web/members", {"name": "10.1.1.5:80", "partition": "Common"})
    member = device.load("/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.1.1.5:80")
    member.properties["session"] = "user-disabled"
    assert device.save(member).properties["session"] == "user-disabled"
    device.modify("/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.1.1.5:80", {"state": "user-down"})
    assert device.load("/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.1.1.5:80").properties["state"] == "user-down"

    device.create("/mgmt/tm/ltm/node", {"name": "db", "partition": "Common", "address": "10.1.1.9"})
    assert [n.properties["name"] for n in device.load("/mgmt/tm/ltm/node")] == ["10.1.1.5", "db"]

    port = free_port()
    device.create("/mgmt/tm/ltm/virtual", {"name": "vs", "destination": f"127.0.0.1:{port}", "pool": "/Common/web"})
    virtual = device.load("/mgmt/tm/ltm/virtual/~Common~vs")
    virtual.properties["description"] = "edge"
    device.save(virtual)
    assert device.show("/mgmt/tm/ltm/virtual/~Common~vs").properties["clientside.curConns"]["value"] == 0
    assert device.exist("/mgmt/tm/ltm/virtual/~Common~vs")

    device.delete("/mgmt/tm/ltm/virtual/~Common~vs")
    device.delete("/mgmt/tm/ltm/pool/~Common~web")
    device.delete("/mgmt/tm/ltm/node/~Common~db")
    assert not device.exist("/mgmt/tm/ltm/pool/~Common~web")
