"""Static routes (`/mgmt/tm/net/route`): BIG-IP's shapes and rules, kept across restarts,
installed in the network namespace the mock forwards from.

Kernel installation runs in a network namespace of the test's own (needs root, as the
container needs NET_ADMIN); the host's routing table is never touched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from f5mock.server import run_in_thread
from f5mock.routing import ROUTE_PROTOCOL, KernelRoutes
from components.f5mock.tests.conftest import kernel_routes

ROUTES = "/mgmt/tm/net/route"


def test_a_route_is_created_read_changed_and_deleted_in_big_ips_shapes(api: httpx.Client):
    created = api.post(ROUTES, json={"name": "pods_a", "partition": "Common", "network": "10.244.1.0/24", "gw": "172.18.0.3"})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["kind"] == "tm:net:route:routestate"
    assert body["fullPath"] == "/Common/pods_a"
    assert (body["network"], body["gw"], body["mtu"]) == ("10.244.1.0/24", "172.18.0.3", 0)
    assert body["selfLink"] == "https://localhost/mgmt/tm/net/route/~Common~pods_a?ver=15.1.0"

    moved = api.patch(f"{ROUTES}/~Common~pods_a", json={"gw": "172.18.0.4", "description": "mine"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["gw"], moved.json()["description"]) == ("172.18.0.4", "mine")
    listed = api.get(ROUTES).json()
    assert listed["kind"] == "tm:net:route:routecollectionstate"
    assert [item["name"] for item in listed["items"]] == ["pods_a"]

    assert api.delete(f"{ROUTES}/~Common~pods_a").status_code == 200
    assert "items" not in api.get(ROUTES).json()
    missing = api.get(f"{ROUTES}/~Common~pods_a")
    assert missing.status_code == 404
    assert missing.json()["message"] == "01020036:3: The requested Route (/Common/pods_a) was not found."


def test_the_default_route_reads_back_as_default(api: httpx.Client):
    created = api.post(ROUTES, json={"name": "out", "network": "default", "gw": "172.18.0.1"})
    assert created.json()["network"] == "default"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "r", "network": "10.244.1.0/24"}, "requires a network and a gw"),
        ({"name": "r", "network": "10.244.1.5/24", "gw": "172.18.0.3"}, 'Invalid network "10.244.1.5/24"'),
        ({"name": "r", "network": "10.244.1.0/24", "gw": "gateway"}, 'Invalid IP address "gateway"'),
        ({"name": "r", "network": "fd00::/64", "gw": "172.18.0.3"}, "not of the address family"),
        ({"name": "r", "network": "10.244.1.0/24", "gw": "172.18.0.3", "tmInterface": "x"}, "unexpected json pair"),
    ],
)
def test_a_route_big_ip_would_refuse_is_refused(api: httpx.Client, body: dict, message: str):
    answer = api.post(ROUTES, json=body)
    assert answer.status_code == 400
    assert message in answer.json()["message"]
    assert "items" not in api.get(ROUTES).json()


def test_two_routes_cannot_share_a_destination_nor_a_name(api: httpx.Client):
    assert api.post(ROUTES, json={"name": "a", "network": "10.244.1.0/24", "gw": "172.18.0.3"}).status_code == 200
    same_network = api.post(ROUTES, json={"name": "b", "network": "10.244.1.0/24", "gw": "172.18.0.4"})
    assert same_network.status_code == 400
    assert "has the destination 10.244.1.0/24 of Route /Common/a" in same_network.json()["message"]
    same_name = api.post(ROUTES, json={"name": "a", "network": "10.244.2.0/24", "gw": "172.18.0.4"})
    assert same_name.status_code == 409


def test_routes_survive_a_restart(tmp_path):
    with run_in_thread(tmp_path / "f5") as f5:
        httpx.post(f"{f5.url}{ROUTES}", json={"name": "a", "network": "10.244.1.0/24", "gw": "172.18.0.3"},
                   auth=("admin", "admin"), verify=False).raise_for_status()
    with run_in_thread(tmp_path / "f5") as f5:
        read = httpx.get(f"{f5.url}{ROUTES}/~Common~a", auth=("admin", "admin"), verify=False)
        assert (read.json()["network"], read.json()["gw"]) == ("10.244.1.0/24", "172.18.0.3")


def test_f5_sdk_and_bigrest_manage_routes_unchanged(f5, monkeypatch):
    from bigrest.bigip import BIGIP
    from f5.bigip import ManagementRoot

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    address = urlsplit(f5.url)
    bigip = ManagementRoot(address.hostname, "admin", "admin", port=address.port, token=True)
    route = bigip.tm.net.routes.route.create(name="pods_a", partition="Common", network="10.244.1.0/24", gw="172.18.0.3")
    route.modify(gw="172.18.0.4")
    assert bigip.tm.net.routes.route.load(name="pods_a", partition="Common").gw == "172.18.0.4"
    assert [r.name for r in bigip.tm.net.routes.get_collection()] == ["pods_a"]

    rest = BIGIP(f"{address.hostname}:{address.port}", "admin", "admin", session_verify=False)
    assert rest.load("/mgmt/tm/net/route/~Common~pods_a").properties["network"] == "10.244.1.0/24"
    rest.delete("/mgmt/tm/net/route/~Common~pods_a")
    assert not bigip.tm.net.routes.route.exists(name="pods_a", partition="Common")


# --- into the kernel, in a network namespace of the test's own --------------------------------


@pytest.mark.slow
def test_routes_are_installed_moved_and_removed_in_the_namespace_the_mock_forwards_from(tmp_path, namespace):
    theirs = {"10.99.0.0/16": ("172.30.0.254", 4)}  # RTPROT_STATIC: an administrator's route
    with run_in_thread(tmp_path / "f5", routes=KernelRoutes(namespace)) as f5, httpx.Client(
        base_url=f5.url, auth=("admin", "admin"), verify=False
    ) as api:
        api.post(ROUTES, json={"name": "a", "network": "10.244.1.0/24", "gw": "172.30.0.3"}).raise_for_status()
        assert kernel_routes(namespace) == {**theirs, "10.244.1.0/24": ("172.30.0.3", ROUTE_PROTOCOL)}

        api.patch(f"{ROUTES}/~Common~a", json={"gw": "172.30.0.4"}).raise_for_status()
        assert kernel_routes(namespace)["10.244.1.0/24"] == ("172.30.0.4", ROUTE_PROTOCOL)

        unreachable = api.post(ROUTES, json={"name": "b", "network": "10.244.2.0/24", "gw": "172.31.0.3"})
        assert unreachable.status_code == 200  # configured, as BIG-IP keeps it; reported as not installed
        health = api.get("/health").json()
        assert health["routesNotInstalled"] == {
            "/Common/b": "10.244.2.0/24 via 172.31.0.3: Network is unreachable"
        }
        api.delete(f"{ROUTES}/~Common~b").raise_for_status()
        assert api.get("/health").json()["routesNotInstalled"] == {}

    with run_in_thread(tmp_path / "f5", routes=KernelRoutes(namespace)) as f5:  # a restart installs them again
        assert kernel_routes(namespace)["10.244.1.0/24"] == ("172.30.0.4", ROUTE_PROTOCOL)
        httpx.delete(f"{f5.url}{ROUTES}/~Common~a", auth=("admin", "admin"), verify=False).raise_for_status()
        assert kernel_routes(namespace) == theirs  # only its own were ever touched
