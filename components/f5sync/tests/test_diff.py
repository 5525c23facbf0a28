"""The plan: the fewest F5 calls, in an order the F5 accepts, touching only what we own."""

from f5sync.diff import (
    AddMember,
    CreatePool,
    CreateVirtual,
    DeletePool,
    DeleteVirtual,
    RemoveMember,
    UpdateVirtual,
    depends_on,
    plan,
    pool_ref,
    virtual_ref,
)
from f5sync.model import F5State, Member, Pool, Virtual

A, B, C = Member("10.0.0.1", 30080), Member("10.0.0.2", 30080), Member("10.0.0.3", 30080)
NONE: frozenset = frozenset()


def pool(*members: Member, name: str = "shop_web_80") -> Pool:
    return Pool("Common", name, frozenset(members))


def virtual(pool_name: str = "shop_web_80", port: int = 80) -> Virtual:
    return Virtual("Common", "shop_web", "192.0.2.10", port, pool_name)


def operations(current: F5State, desired: F5State, foreign_pools=NONE, foreign_virtuals=NONE):
    return list(plan(current, desired, foreign_pools=foreign_pools, foreign_virtuals=foreign_virtuals).operations)


def test_nothing_to_do_when_the_f5_already_matches():
    state = F5State.of([pool(A, B)], [virtual()])
    assert operations(state, state) == []


def test_a_new_service_creates_its_pool_with_members_then_its_virtual():
    desired = F5State.of([pool(A, B)], [virtual()])
    assert operations(F5State(), desired) == [CreatePool(pool(A, B)), CreateVirtual(virtual())]


def test_scaling_adds_and_removes_only_the_members_that_changed():
    current = F5State.of([pool(A, B)], [virtual()])
    desired = F5State.of([pool(B, C)], [virtual()])
    assert operations(current, desired) == [
        AddMember("Common", "shop_web_80", C),
        RemoveMember("Common", "shop_web_80", A),
    ]


def test_a_deleted_service_takes_its_virtual_then_its_pool():
    current = F5State.of([pool(A)], [virtual()])
    assert operations(current, F5State()) == [DeleteVirtual("Common", "shop_web"), DeletePool("Common", "shop_web_80")]


def test_a_changed_virtual_is_updated_before_its_old_pool_is_deleted():
    current = F5State.of([pool(A, name="shop_web_80")], [virtual("shop_web_80")])
    desired = F5State.of([pool(A, name="shop_web_90")], [virtual("shop_web_90", port=90)])
    assert operations(current, desired) == [
        CreatePool(pool(A, name="shop_web_90")),
        UpdateVirtual(virtual("shop_web_90", port=90)),
        DeletePool("Common", "shop_web_80"),
    ]


def test_objects_owned_by_others_are_never_created_over_and_are_reported():
    desired = F5State.of([pool(A)], [virtual()])
    result = plan(F5State(), desired, foreign_pools=frozenset({("Common", "shop_web_80")}), foreign_virtuals=NONE)
    assert result.operations == ()  # no pool, and no virtual pointing at someone else's pool
    assert result.conflicts == ("pool /Common/shop_web_80 exists and is not ours",)


def test_a_virtual_name_owned_by_others_is_reported_while_the_pool_is_still_managed():
    desired = F5State.of([pool(A)], [virtual()])
    result = plan(F5State(), desired, foreign_pools=NONE, foreign_virtuals=frozenset({("Common", "shop_web")}))
    assert result.operations == (CreatePool(pool(A)),)
    assert result.conflicts == ("virtual /Common/shop_web exists and is not ours",)


def test_an_operation_waits_on_its_own_object_and_a_virtual_also_on_its_pool():
    web_pool, web_virtual = pool_ref("Common", "shop_web_80"), virtual_ref("Common", "shop_web")
    assert depends_on(RemoveMember("Common", "shop_web_80", A)) == {web_pool}
    assert depends_on(CreateVirtual(virtual())) == {web_virtual, web_pool}
    assert depends_on(UpdateVirtual(virtual("shop_web_8080"))) == {web_virtual, pool_ref("Common", "shop_web_8080")}
    assert depends_on(DeleteVirtual("Common", "shop_web")) == {web_virtual}
