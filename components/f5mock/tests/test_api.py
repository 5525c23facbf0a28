"""The iControl REST surface: shapes, addressing, errors and rules as BIG-IP has them."""

from __future__ import annotations

import json

import httpx

from f5mock.api import F5Api
from tests.support.ports import free_port


def create_pool_with_member(api: httpx.Client, pool: str = "web", member: str = "10.1.1.5:80") -> None:
    assert api.post("/mgmt/tm/ltm/pool", json={"name": pool, "partition": "Common"}).status_code == 200
    assert api.post(f"/mgmt/tm/ltm/pool/~Common~{pool}/members", json={"name": member}).status_code == 200


def test_pool_create_answers_200_with_the_whole_object_in_bigip_shape(api):
    answer = api.post("/mgmt/tm/ltm/pool", json={"name": "/Common/web", "monitor": "tcp", "description": "d"})

    assert answer.status_code == 200
    pool = answer.json()
    assert pool["kind"] == "tm:ltm:pool:poolstate"
    assert (pool["name"], pool["partition"], pool["fullPath"]) == ("web", "Common", "/Common/web")
    assert pool["selfLink"] == "https://localhost/mgmt/tm/ltm/pool/~Common~web?ver=15.1.0"
    assert pool["loadBalancingMode"] == "round-robin"
    assert pool["monitor"] == "/Common/tcp"
    assert pool["membersReference"]["isSubcollection"] is True
    assert isinstance(pool["generation"], int)


def test_objects_are_addressed_by_tilde_path_short_name_and_with_trailing_slashes(api):
    api.post("/mgmt/tm/ltm/pool", json={"name": "web", "partition": "Common"})

    for url in ("/mgmt/tm/ltm/pool/~Common~web", "/mgmt/tm/ltm/pool/web", "/mgmt/tm/ltm/pool/~Common~web/"):
        assert api.get(url).json()["fullPath"] == "/Common/web", url
    assert api.get("/mgmt/tm/ltm/pool/").json()["items"][0]["name"] == "web"


def test_members_create_their_node_and_are_listed_inline_with_expand_subcollections(api):
    create_pool_with_member(api)

    node = api.get("/mgmt/tm/ltm/node/~Common~10.1.1.5").json()
    assert (node["kind"], node["address"]) == ("tm:ltm:node:nodestate", "10.1.1.5")
    member = api.get("/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.1.1.5:80").json()
    assert member["kind"] == "tm:ltm:pool:members:membersstate"
    assert (member["address"], member["state"], member["session"]) == ("10.1.1.5", "unchecked", "user-enabled")
    expanded = api.get("/mgmt/tm/ltm/pool", params={"expandSubcollections": "true"}).json()
    assert [m["name"] for m in expanded["items"][0]["membersReference"]["items"]] == ["10.1.1.5:80"]
    collection = api.get("/mgmt/tm/ltm/pool/~Common~web/members").json()
    assert collection["kind"] == "tm:ltm:pool:members:memberscollectionstate"


def test_a_pool_body_with_members_replaces_the_member_list(api):
    create_pool_with_member(api)

    answer = api.patch(
        "/mgmt/tm/ltm/pool/~Common~web", json={"members": [{"name": "10.1.1.6:80"}, {"name": "10.1.1.7:80"}]}
    )

    assert answer.status_code == 200
    names = [m["name"] for m in api.get("/mgmt/tm/ltm/pool/~Common~web/members").json()["items"]]
    assert names == ["10.1.1.6:80", "10.1.1.7:80"]


def test_put_of_an_object_just_read_is_accepted_with_its_read_only_fields(api):
    create_pool_with_member(api)
    member_url = "/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.1.1.5:80"
    member = api.get(member_url).json()
    member["session"] = "user-disabled"

    answer = api.put(member_url, json=member)

    assert answer.status_code == 200
    assert answer.json()["session"] == "user-disabled"
    assert answer.json()["generation"] > member["generation"]
    pool = api.get("/mgmt/tm/ltm/pool/~Common~web").json()
    assert api.put("/mgmt/tm/ltm/pool/~Common~web", json=pool).status_code == 200


def test_virtual_destination_is_normalised_and_pool_referenced(api):
    api.post("/mgmt/tm/ltm/pool", json={"name": "web"})

    port = free_port()

    virtual = api.post(
        "/mgmt/tm/ltm/virtual", json={"name": "vs", "destination": f"127.0.0.100%0:{port}", "pool": "web"}
    )

    body = virtual.json()
    assert virtual.status_code == 200
    assert (body["kind"], body["destination"], body["pool"]) == (
        "tm:ltm:virtual:virtualstate",
        f"/Common/127.0.0.100:{port}",
        "/Common/web",
    )
    assert body["poolReference"]["link"].startswith("https://localhost/mgmt/tm/ltm/pool/~Common~web")
    assert (body["ipProtocol"], body["mask"], body["source"], body["enabled"]) == (
        "tcp",
        "255.255.255.255",
        "0.0.0.0/0",
        True,
    )


def test_not_found_and_already_exists_are_worded_as_bigip_words_them(api):
    missing = api.get("/mgmt/tm/ltm/pool/~Common~my-pool")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": 404,
        "message": "01020036:3: The requested Pool (/Common/my-pool) was not found.",
        "errorStack": [],
        "apiError": 3,
    }
    create_pool_with_member(api, pool="p", member="10.0.0.1:80")
    duplicate = api.post("/mgmt/tm/ltm/pool/~Common~p/members", json={"name": "10.0.0.1:80"})
    assert duplicate.status_code == 409
    assert duplicate.json()["message"] == (
        "01020066:3: The requested Pool Member (/Common/p /Common/10.0.0.1 80) already exists in partition Common."
    )
    unknown = api.get("/mgmt/tm/ltm/nothing")
    assert (unknown.status_code, unknown.json()["message"]) == (
        404,
        "Public URI path not registered: /mgmt/tm/ltm/nothing",
    )


def test_a_node_used_by_a_member_and_a_pool_used_by_a_virtual_cannot_be_deleted(api):
    create_pool_with_member(api, pool="p", member="10.0.0.1:80")
    api.post(
        "/mgmt/tm/ltm/virtual", json={"name": "vs", "destination": f"127.0.0.1:{free_port()}", "pool": "/Common/p"}
    )

    node = api.delete("/mgmt/tm/ltm/node/~Common~10.0.0.1")
    pool = api.delete("/mgmt/tm/ltm/pool/~Common~p")

    assert (node.status_code, node.json()["message"]) == (
        400,
        "01070110:3: Node address '/Common/10.0.0.1' is referenced by a member of pool '/Common/p'.",
    )
    assert (pool.status_code, pool.json()["message"]) == (
        400,
        "01070265:3: The Pool (/Common/p) cannot be deleted because it is in use by a Virtual Server (/Common/vs).",
    )
    assert api.delete("/mgmt/tm/ltm/virtual/~Common~vs").status_code == 200
    assert api.delete("/mgmt/tm/ltm/pool/~Common~p").status_code == 200
    assert api.delete("/mgmt/tm/ltm/node/~Common~10.0.0.1").status_code == 200


def test_partition_filter_and_sub_path_addressing(api):
    api.post("/mgmt/tm/ltm/pool", json={"name": "a", "partition": "Common"})
    api.post("/mgmt/tm/ltm/pool", json={"name": "b", "partition": "k8s", "subPath": "app"})

    only_k8s = api.get("/mgmt/tm/ltm/pool", params={"$filter": "partition eq k8s"}).json()["items"]

    assert [p["fullPath"] for p in only_k8s] == ["/k8s/app/b"]
    assert api.get("/mgmt/tm/ltm/pool/~k8s~app~b").json()["subPath"] == "app"


def test_empty_collections_leave_items_out_as_bigip_does(api):
    body = api.get("/mgmt/tm/ltm/virtual").json()
    assert body == {
        "kind": "tm:ltm:virtual:virtualcollectionstate",
        "selfLink": "https://localhost/mgmt/tm/ltm/virtual?ver=15.1.0",
    }


def test_every_object_has_stats_with_connection_counters(api):
    create_pool_with_member(api)
    api.post("/mgmt/tm/ltm/virtual", json={"name": "vs", "destination": "10.0.0.100:80"})

    for url, kind, counter in [
        ("/mgmt/tm/ltm/pool/~Common~web/stats", "tm:ltm:pool:poolstats", "serverside.totConns"),
        (
            "/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.1.1.5:80/stats",
            "tm:ltm:pool:members:membersstats",
            "serverside.curConns",
        ),
        ("/mgmt/tm/ltm/node/~Common~10.1.1.5/stats", "tm:ltm:node:nodestats", "serverside.bitsIn"),
        ("/mgmt/tm/ltm/virtual/~Common~vs/stats", "tm:ltm:virtual:virtualstats", "clientside.totConns"),
    ]:
        body = api.get(url).json()
        assert body["kind"] == kind, url
        (nested,) = body["entries"].values()
        assert nested["nestedStats"]["entries"][counter] == {"value": 0}, url


def test_sys_version_and_echo_query_answer_what_clients_parse(api):
    assert "ver=15.1.0" in api.get("/mgmt/tm/sys/").json()["selfLink"]
    version = api.get("/mgmt/tm/sys/version").json()
    (entry,) = version["entries"].values()
    assert entry["nestedStats"]["entries"]["Version"] == {"description": "15.1.0"}
    assert api.get("/mgmt/shared/echo-query").status_code == 200


def test_requests_without_valid_credentials_get_401_and_health_needs_none(f5):
    with httpx.Client(base_url=f5.url, verify=False) as anonymous:
        assert anonymous.get("/mgmt/tm/ltm/pool").status_code == 401
        assert anonymous.get("/mgmt/tm/ltm/pool", auth=("admin", "wrong")).status_code == 401
        assert anonymous.get("/mgmt/tm/ltm/nothing").status_code == 401
        refused = anonymous.get("/mgmt/tm/ltm/pool", headers={"X-F5-Auth-Token": "NOPE"})
        assert refused.status_code == 401
        assert refused.json()["kind"] == ":resterrorresponse"
        assert anonymous.get("/health").json() == {"status": "ok", "version": anonymous.get("/health").json()["version"]}
        assert anonymous.get("/health", auth=("admin", "wrong")).status_code == 401
        assert "virtualsListening" in anonymous.get("/health", auth=("admin", "admin")).json()


def test_token_login_use_extend_and_delete(f5):
    with httpx.Client(base_url=f5.url, verify=False) as client:
        login = client.post(
            "/mgmt/shared/authn/login", json={"username": "admin", "password": "admin", "loginProviderName": "tmos"}
        )
        token = login.json()["token"]
        assert token["kind"] == "shared:authz:tokens:authtokenitemstate"
        assert token["timeout"] == 1200
        assert token["expirationMicros"] - token["lastUpdateMicros"] == 1200 * 1_000_000
        headers = {"X-F5-Auth-Token": token["token"]}
        assert client.get("/mgmt/tm/ltm/pool", headers=headers).status_code == 200

        extended = client.patch(f"/mgmt/shared/authz/tokens/{token['token']}", json={"timeout": 36000}, headers=headers)
        assert extended.json()["timeout"] == 36000
        assert (
            client.patch(
                f"/mgmt/shared/authz/tokens/{token['token']}", json={"timeout": 36001}, headers=headers
            ).status_code
            == 400
        )

        assert client.delete(f"/mgmt/shared/authz/tokens/{token['token']}", headers=headers).status_code == 200
        assert client.get("/mgmt/tm/ltm/pool", headers=headers).status_code == 401
        bad_login = client.post("/mgmt/shared/authn/login", json={"username": "admin", "password": "x"})
        assert bad_login.status_code == 401


def test_an_expired_token_is_refused(f5):
    with httpx.Client(base_url=f5.url, verify=False) as client:
        token = client.post("/mgmt/shared/authn/login", json={"username": "admin", "password": "admin"}).json()
        value = token["token"]["token"]
        client.patch(f"/mgmt/shared/authz/tokens/{value}", json={"timeout": 0}, headers={"X-F5-Auth-Token": value})

        assert client.get("/mgmt/tm/ltm/pool", headers={"X-F5-Auth-Token": value}).status_code == 401


def test_every_change_is_logged_as_one_json_line(api, caplog):
    with caplog.at_level("INFO", logger="envbuilder.f5mock"):
        api.post("/mgmt/tm/ltm/pool", json={"name": "web"})

    events = [json.loads(record.getMessage()) for record in caplog.records]
    change = next(event for event in events if event["event"] == "change")
    assert (change["action"], change["kind"], change["target"], change["user"]) == ("create", "pool", "web", "admin")


def test_openapi_describes_exactly_the_routes_served(api):
    document = api.get("/openapi.json").json()

    described = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    served = {(route.method, route.path) for route in F5Api(None, None, None).routes()}  # type: ignore[arg-type]
    assert described == served
    assert document["components"]["schemas"]["PoolBody"]["additionalProperties"] is False


def test_route_domain_and_ipv6_members_are_named_and_addressed_as_on_bigip(api):
    members = [{"name": "10.0.0.1%1:80"}, {"name": "2001:db8::1.443"}]
    assert api.post("/mgmt/tm/ltm/pool", json={"name": "web", "members": members}).status_code == 200

    items = api.get("/mgmt/tm/ltm/pool/~Common~web/members").json()["items"]

    assert [(m["name"], m["address"]) for m in items] == [("10.0.0.1%1:80", "10.0.0.1%1"), ("2001:db8::1.443", "2001:db8::1")]
    assert items[0]["selfLink"].endswith("/members/~Common~10.0.0.1%251:80?ver=15.1.0")
    assert api.get("/mgmt/tm/ltm/pool/~Common~web/members/~Common~10.0.0.1%251:80").status_code == 200
    assert api.get("/mgmt/tm/ltm/pool/~Common~web/members/~Common~2001:db8::1.443").status_code == 200
