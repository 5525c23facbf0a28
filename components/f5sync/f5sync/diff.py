"""What the F5 holds vs. what it should hold -> the fewest calls that close the gap. Pure."""

from dataclasses import dataclass
from typing import ClassVar

from f5sync.model import F5State, Member, ObjectKey, Pool, Route, Virtual

# An F5 object an operation changes or relies on: ("pool" | "virtual" | "route", partition, name).
ObjectRef = tuple[str, str, str]


def pool_ref(partition: str, name: str) -> ObjectRef:
    return ("pool", partition, name)


def virtual_ref(partition: str, name: str) -> ObjectRef:
    return ("virtual", partition, name)


def route_ref(partition: str, name: str) -> ObjectRef:
    return ("route", partition, name)


@dataclass(frozen=True)
class CreateRoute:
    kind: ClassVar[str] = "create_route"
    route: Route

    @property
    def subject(self) -> ObjectRef:
        return route_ref(self.route.partition, self.route.name)


@dataclass(frozen=True)
class UpdateRoute:
    kind: ClassVar[str] = "update_route"
    route: Route  # its block moved to another node, or the node's address changed: a new gateway

    @property
    def subject(self) -> ObjectRef:
        return route_ref(self.route.partition, self.route.name)


@dataclass(frozen=True)
class DeleteRoute:
    kind: ClassVar[str] = "delete_route"
    partition: str
    name: str

    @property
    def subject(self) -> ObjectRef:
        return route_ref(self.partition, self.name)


@dataclass(frozen=True)
class CreatePool:
    kind: ClassVar[str] = "create_pool"
    pool: Pool  # created with its members in one call

    @property
    def subject(self) -> ObjectRef:
        return pool_ref(self.pool.partition, self.pool.name)


@dataclass(frozen=True)
class AddMember:
    kind: ClassVar[str] = "add_member"
    partition: str
    pool: str
    member: Member

    @property
    def subject(self) -> ObjectRef:
        return pool_ref(self.partition, self.pool)


@dataclass(frozen=True)
class RemoveMember:
    kind: ClassVar[str] = "remove_member"
    partition: str
    pool: str
    member: Member

    @property
    def subject(self) -> ObjectRef:
        return pool_ref(self.partition, self.pool)


@dataclass(frozen=True)
class CreateVirtual:
    kind: ClassVar[str] = "create_virtual"
    virtual: Virtual

    @property
    def subject(self) -> ObjectRef:
        return virtual_ref(self.virtual.partition, self.virtual.name)


@dataclass(frozen=True)
class UpdateVirtual:
    kind: ClassVar[str] = "update_virtual"
    virtual: Virtual  # destination and pool are rewritten

    @property
    def subject(self) -> ObjectRef:
        return virtual_ref(self.virtual.partition, self.virtual.name)


@dataclass(frozen=True)
class DeleteVirtual:
    kind: ClassVar[str] = "delete_virtual"
    partition: str
    name: str

    @property
    def subject(self) -> ObjectRef:
        return virtual_ref(self.partition, self.name)


@dataclass(frozen=True)
class DeletePool:
    kind: ClassVar[str] = "delete_pool"
    partition: str
    name: str

    @property
    def subject(self) -> ObjectRef:
        return pool_ref(self.partition, self.name)


Operation = (
    CreateRoute
    | UpdateRoute
    | CreatePool
    | AddMember
    | RemoveMember
    | CreateVirtual
    | UpdateVirtual
    | DeleteVirtual
    | DeletePool
    | DeleteRoute
)


def depends_on(operation: Operation) -> frozenset[ObjectRef]:
    """The objects whose earlier failure in a pass makes `operation` pointless or harmful.

    Its own subject: stale members are not removed from a pool whose new members the F5 refused
    (the pool would empty). A virtual also needs its pool: without it the F5 refuses the virtual.
    """
    match operation:
        case CreateVirtual(virtual) | UpdateVirtual(virtual):
            return frozenset({operation.subject, pool_ref(virtual.partition, virtual.pool)})
        case _:
            return frozenset({operation.subject})


@dataclass(frozen=True)
class Plan:
    operations: tuple[Operation, ...]
    conflicts: tuple[str, ...]  # desired objects whose names are taken by objects we do not own


def plan(
    current: F5State,
    desired: F5State,
    *,
    foreign_pools: frozenset[ObjectKey],
    foreign_virtuals: frozenset[ObjectKey],
    foreign_routes: frozenset[ObjectKey] = frozenset(),
) -> Plan:
    """Operations in an order the F5 accepts.

    Routes to the pod network come first, so members added in the same pass are reachable
    when their first connection comes, and go last, after the members behind them.

    `current` holds only the objects we own; `foreign_*` are names taken by anyone else, which we
    never create over, change or delete. Members are added before stale ones are removed, so a pool
    never empties during a rolling change; a virtual is retargeted or deleted before its old pool
    is deleted (BIG-IP refuses to delete a pool in use).
    """
    conflicts: list[str] = []
    wanted_pools: dict[ObjectKey, Pool] = {}
    for key, pool in desired.pools.items():
        if key in foreign_pools:
            conflicts.append(f"pool /{key[0]}/{key[1]} exists and is not ours")
        else:
            wanted_pools[key] = pool
    wanted_routes: dict[ObjectKey, Route] = {}
    for key, route in desired.routes.items():
        if key in foreign_routes:
            conflicts.append(f"route /{key[0]}/{key[1]} exists and is not ours")
        else:
            wanted_routes[key] = route
    create_routes: list[Operation] = []
    for key, route in sorted(wanted_routes.items()):
        held_route = current.routes.get(key)
        if held_route is None:
            create_routes.append(CreateRoute(route))
        elif held_route != route:
            create_routes.append(UpdateRoute(route))
    delete_routes: list[Operation] = [
        DeleteRoute(*key) for key in sorted(current.routes.keys() - wanted_routes.keys())
    ]
    wanted_virtuals: dict[ObjectKey, Virtual] = {}
    for key, virtual in desired.virtuals.items():
        if key in foreign_virtuals:
            conflicts.append(f"virtual /{key[0]}/{key[1]} exists and is not ours")
        elif (virtual.partition, virtual.pool) in wanted_pools:
            wanted_virtuals[key] = virtual

    create_pools: list[Operation] = []
    add_members: list[Operation] = []
    remove_members: list[Operation] = []
    for key, pool in sorted(wanted_pools.items()):
        held = current.pools.get(key)
        if held is None:
            create_pools.append(CreatePool(pool))
            continue
        add_members.extend(AddMember(pool.partition, pool.name, m) for m in sorted(pool.members - held.members))
        remove_members.extend(RemoveMember(pool.partition, pool.name, m) for m in sorted(held.members - pool.members))

    delete_virtuals: list[Operation] = [
        DeleteVirtual(*key) for key in sorted(current.virtuals.keys() - wanted_virtuals.keys())
    ]
    create_virtuals: list[Operation] = []
    update_virtuals: list[Operation] = []
    for key, virtual in sorted(wanted_virtuals.items()):
        held_virtual = current.virtuals.get(key)
        if held_virtual is None:
            create_virtuals.append(CreateVirtual(virtual))
        elif held_virtual != virtual:
            update_virtuals.append(UpdateVirtual(virtual))
    delete_pools: list[Operation] = [DeletePool(*key) for key in sorted(current.pools.keys() - wanted_pools.keys())]

    operations = (
        *create_routes,
        *create_pools,
        *add_members,
        *delete_virtuals,  # first, so a virtual moving partitions frees its destination
        *create_virtuals,
        *update_virtuals,
        *remove_members,
        *delete_pools,
        *delete_routes,
    )
    return Plan(operations=operations, conflicts=tuple(conflicts))
