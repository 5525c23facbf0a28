"""What the pool check concludes from a pool's members and the Ready nodes (the pure comparison)."""

from envbuilder.smoke.f5 import compare_pool, member_key, pool_member_node, pool_table
from tests.smoke.fake_kube import node


def member(name: str, state: str = "up", session: str = "monitor-enabled") -> dict:
    return {"name": name, "address": name.split(":")[0], "state": state, "session": session}


EXPECTED = {"172.18.0.2:30080", "172.18.0.3:30080"}


def test_a_pool_with_exactly_the_ready_nodes_matches():
    assert compare_pool([member("172.18.0.2:30080"), member("172.18.0.3:30080")], EXPECTED).matches


def test_a_missing_node_and_a_stale_member_are_both_named():
    comparison = compare_pool([member("172.18.0.2:30080"), member("172.18.0.9:30080")], EXPECTED)
    assert not comparison.matches
    assert comparison.describe() == "missing 172.18.0.3:30080; unexpected 172.18.0.9:30080"


def test_members_that_are_down_or_disabled_do_not_count_as_serving():
    members = [member("172.18.0.2:30080", state="user-down"), member("172.18.0.3:30080", session="user-disabled")]
    comparison = compare_pool(members, EXPECTED)
    assert comparison.describe() == "down or disabled 172.18.0.2:30080, 172.18.0.3:30080"


def test_route_domain_suffixes_are_ignored_when_comparing():
    assert member_key({"name": "172.18.0.2%1:30080"}) == "172.18.0.2:30080"
    assert compare_pool([member("172.18.0.2%1:30080"), member("172.18.0.3:30080")], EXPECTED).matches


def test_cordoned_nodes_and_nodes_without_an_internal_ip_are_not_expected_in_the_pool():
    cordoned = node("b", "172.18.0.3")
    cordoned["spec"]["unschedulable"] = True
    no_address = node("c", "172.18.0.4")
    no_address["status"]["addresses"] = []
    assert [pool_member_node(n) for n in (node("a", "172.18.0.2"), cordoned, no_address)] == [True, False, False]


def test_the_pool_table_shows_every_member_with_its_state_and_session():
    table = pool_table([member("172.18.0.3:30080", state="down"), member("172.18.0.2:30080")])
    assert table.splitlines() == [
        "  172.18.0.2:30080         state=up session=monitor-enabled",
        "  172.18.0.3:30080         state=down session=monitor-enabled",
    ]
    assert pool_table([]) == "  (no members)"
