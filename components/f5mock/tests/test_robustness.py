"""Bad input never crashes the mock nor touches its saved configuration."""

from __future__ import annotations

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from f5mock.server import run_in_thread
from tests.support.ports import free_port

POOLS = "/mgmt/tm/ltm/pool"


@pytest.fixture
def saved_config(api, f5):
    """The pool `web` with one member, saved; returns a reader of the saved file."""
    api.post(POOLS, json={"name": "web", "members": [{"name": "10.0.0.1:80"}]})
    state_dir = f5.server.state_dir
    return lambda: {path.name: path.read_bytes() for path in state_dir.glob("*json*")}


@pytest.mark.parametrize("raw", [b"{", b"", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000])
def test_malformed_json_is_a_400_worded_as_bigip_words_it(api, saved_config, raw):
    before = saved_config()

    answer = api.post(POOLS, content=raw, headers={"Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json() == {
        "code": 400,
        "message": "Found invalid JSON body in the request.",
        "errorStack": [],
        "apiError": 1,
    }
    assert saved_config() == before


@pytest.mark.parametrize(
    ("url", "body", "message_part"),
    [
        (POOLS, {"name": "p", "colour": "blue"}, 'unexpected json pair at configuration item /ltm/pool: "colour"'),
        (POOLS, {"name": "p", "loadBalancingMode": "random"}, "invalid loadBalancingMode"),
        (POOLS, {"name": "p", "monitor": "/Common/nosuch"}, "requested monitor (/Common/nosuch) was not found"),
        (POOLS, {"name": "b@d name"}, "object name (b@d name) is invalid"),
        (POOLS, {"name": "/a/b/c/d"}, "object name (/a/b/c/d) is invalid"),
        (POOLS, {"name": 42}, "invalid name"),
        (POOLS, {}, "requires a name"),
        (POOLS, {"name": "p", "members": [{"name": "10.0.0.1:99999"}]}, "invalid port (99999)"),
        (
            POOLS,
            {"name": "p", "members": [{"name": "10.0.0.300:80"}]},
            "requested Node (/Common/10.0.0.300) was not found",
        ),
        (POOLS, {"name": "p", "members": [{"name": "10.0.0.1"}]}, "is not of the form address:port"),
        (POOLS, {"name": "p", "members": [{"name": "10.0.0.2:80"}, {"name": "10.0.0.2:80"}]}, "already exists"),
        (f"{POOLS}/~Common~web/members", {"name": "10.0.0.1:80", "ratio": 0}, "invalid ratio"),
        (f"{POOLS}/~Common~web/members", {"name": "10.0.0.1:80", "state": "sleepy"}, "invalid state"),
        ("/mgmt/tm/ltm/node", {"name": "n", "address": "not-an-ip"}, 'Invalid IP address "not-an-ip"'),
        ("/mgmt/tm/ltm/node", {"name": "n", "address": "10.0.0.1"}, "already exists"),
        ("/mgmt/tm/ltm/virtual", {"name": "v", "destination": "10.0.0.1:0", "pool": "web"}, "invalid port (0)"),
        ("/mgmt/tm/ltm/virtual", {"name": "v", "destination": "10.0.0.1"}, "is not of the form address:port"),
        (
            "/mgmt/tm/ltm/virtual",
            {"name": "v", "destination": "1.2.3.4:80", "pool": "nope"},
            "Pool (/Common/nope) was not found",
        ),
        ("/mgmt/tm/ltm/virtual", {"name": "v", "destination": "1.2.3.4:80", "ipProtocol": "udp"}, "invalid ipProtocol"),
        ("/mgmt/tm/ltm/virtual", {"name": "v", "destination": "1.2.3.4:80", "mask": "255.0"}, "Invalid IP address"),
    ],
)
def test_invalid_bodies_are_a_400_and_change_nothing(api, saved_config, url, body, message_part):
    before = saved_config()

    answer = api.post(url, json=body)

    assert answer.status_code in (400, 409), answer.text
    assert message_part in answer.json()["message"]
    assert saved_config() == before


ARABIC_INDIC_80 = "\u0668\u0660"  # "80" in Arabic-Indic digits: Python's int() reads them, BIG-IP does not


@pytest.mark.parametrize(
    ("url", "body", "message_part"),
    [
        (
            "/mgmt/tm/ltm/virtual",
            {"name": "v", "destination": f"127.0.0.1:{ARABIC_INDIC_80}", "pool": "web"},
            f"invalid port ({ARABIC_INDIC_80})",
        ),
        (
            "/mgmt/tm/ltm/virtual",
            {"name": "v", "destination": "10.0.0.1%\u0661:80", "pool": "web"},
            "Invalid IP address",
        ),
        (f"{POOLS}/~Common~web/members", {"name": f"10.0.0.2:{ARABIC_INDIC_80}"}, "is invalid"),
        (POOLS, {"name": "web2\n"}, "object name (web2\n) is invalid"),
        (POOLS, {"name": "web2", "partition": "Common\n"}, "requested folder (/Common\n) was not found"),
        ("/mgmt/tm/ltm/node", {"name": "n\n", "address": "10.0.0.9"}, "is invalid"),
    ],
)
def test_ports_and_names_are_ascii_only_and_whole(api, saved_config, url, body, message_part):
    before = saved_config()

    answer = api.post(url, json=body)

    assert answer.status_code == 400, answer.text
    assert message_part in answer.json()["message"]
    assert saved_config() == before


@pytest.mark.parametrize("token", ["~Common~", "~~~", "~Common~a~b~c", "%00", "..", "~Common~" + "x" * 300])
def test_odd_names_in_urls_are_refused_cleanly(api, token):
    answer = api.get(f"{POOLS}/{token}")
    assert answer.status_code in (400, 404), answer.text
    assert answer.json()["code"] == answer.status_code


@pytest.fixture(scope="module")
def fuzzed_mock(tmp_path_factory):
    # Every virtual listens on loopback whatever its destination, so fuzzed
    # destinations never bind a non-loopback address.
    with run_in_thread(tmp_path_factory.mktemp("fuzz"), bind_virtuals_to="127.0.0.1") as mock:
        yield mock


def test_fuzzed_requests_never_get_a_server_error(fuzzed_mock):
    """Every operation of /openapi.json, a few examples each (a few hundred requests in all)."""
    document = httpx.get(f"{fuzzed_mock.url}/openapi.json", verify=False).json()
    operations = [result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]
    assert len(operations) > 30
    session = requests.Session()  # keep-alive: one TLS handshake, not one per example
    session.auth = ("admin", "admin")

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def answers_without_server_error(case):
            # A made-up token fails authentication, and the throttle then slows every later request by a
            # second: the session's basic auth is used instead (tests of their own cover tokens and the throttle).
            if case.headers:
                case.headers.pop("X-F5-Auth-Token", None)
            response = case.call(base_url=fuzzed_mock.url, session=session, verify=False, timeout=10)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"

        answers_without_server_error()


def test_the_mock_is_still_consistent_after_fuzzing(fuzzed_mock):
    with httpx.Client(base_url=fuzzed_mock.url, auth=("admin", "admin"), verify=False) as api:
        assert api.get("/health").json()["status"] == "ok"
        port = free_port()
        assert api.post(POOLS, json={"name": "after-fuzz"}).status_code == 200
        virtual = api.post(
            "/mgmt/tm/ltm/virtual",
            json={"name": "after-fuzz", "destination": f"127.0.0.1:{port}", "pool": "after-fuzz"},
        )
        assert virtual.status_code == 200, virtual.text
