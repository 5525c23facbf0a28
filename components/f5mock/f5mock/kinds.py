"""The object kinds the mock serves, each declared once as data: where its objects live in
the API and in the configuration, how they are named, which other objects they name.

Everything generic reads these declarations: the routes and handlers (`api.py`), the
configuration operations (`config.py`), the saved tables (`journal.py`) and the bodies
BIG-IP answers with (`render.py`). What one kind does that no other does (its fields and
their rules) is code beside them, keyed by the kind: `config.py`'s field rules and
`render.py`'s field and stats renderers.

A kind's objects are held under its plural name: `Config.pools` (keyed by full path) for
a top-level kind, `PoolRecord.members` (a list) for a kind held in its parent's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from f5mock.models import (
    BUILTIN_FASTL4_PROFILE,
    BUILTIN_TCP_PROFILE,
    FastL4ProfileBody,
    FastL4ProfileRecord,
    MemberBody,
    MemberRecord,
    NodeBody,
    NodeRecord,
    PoolBody,
    PoolRecord,
    RouteBody,
    RouteRecord,
    TcpProfileBody,
    TcpProfileRecord,
    VirtualBody,
    VirtualRecord,
)
from f5mock.names import ObjectPath, split_service

RecordT = TypeVar(
    "RecordT", NodeRecord, PoolRecord, MemberRecord, VirtualRecord, TcpProfileRecord, FastL4ProfileRecord, RouteRecord
)
BodyT = TypeVar("BodyT", NodeBody, PoolBody, MemberBody, VirtualBody, TcpProfileBody, FastL4ProfileBody, RouteBody)
Record = NodeRecord | PoolRecord | MemberRecord | VirtualRecord | TcpProfileRecord | FastL4ProfileRecord | RouteRecord
Body = NodeBody | PoolBody | MemberBody | VirtualBody | TcpProfileBody | FastL4ProfileBody | RouteBody
COLLECTION_QUERY = ("expandSubcollections", "$filter")


@dataclass(frozen=True)
class Reference:
    """A record field holding the full path of another object: that object must exist when
    it is named, and BIG-IP refuses to delete it while it is named."""

    field: str
    target: str  # the name of the kind referred to
    in_use: str  # the refusal to delete: {target} is the object, {referrer} the top-level one naming it


@dataclass(frozen=True, eq=False)
class Kind(Generic[RecordT, BodyT]):
    name: str  # `tcp_profile`: operations `create_tcp_profile`, `list_tcp_profiles`; table `tcp_profiles`
    label: str  # BIG-IP's word in messages: "The requested Pool (/Common/x) was not found."
    noun: str  # in the API description: "List pools", "Read a pool"
    path: str  # the collection: `/mgmt/tm/ltm/pool`, or under the parent's object: `members`
    variable: str  # the object's URL variable: `/mgmt/tm/ltm/pool/{pool}`
    record: type[RecordT]
    body: type[BodyT]
    parent: Kind[Any, Any] | None = None  # held in the parent's record (a pool's members)
    folders: bool = True  # names may sit in a sub-folder of the partition (`/Common/app/web`)
    nameless: str = ""  # the refusal of a body without a name, when not "a {label} requires a name"
    required: tuple[str, ...] = ()  # body fields a creation must give ...
    requires: str = ""  # ... in the refusal: "Node /Common/x requires an address."
    references: tuple[Reference, ...] = ()
    builtins: tuple[RecordT, ...] = ()  # shipped with the appliance: listed, read, never changed
    stats: bool = False  # serves `.../{object}/stats`
    list_query: tuple[str, ...] = ()  # `$filter` among them: the list filters by partition
    get_query: tuple[str, ...] = ()
    summaries: Mapping[str, str] = field(default_factory=dict)  # where the generic ones read wrong

    @property
    def plural(self) -> str:
        return f"{self.name}s"

    @property
    def event(self) -> str:
        """The kind in the `change` events: `tcp-profile`."""
        return self.name.replace("_", "-")

    @property
    def url_collection(self) -> str:
        """The route template: `/mgmt/tm/ltm/pool/{pool}/members`."""
        return self.path if self.parent is None else f"{self.parent.url_object}/{self.path}"

    @property
    def url_object(self) -> str:
        return f"{self.url_collection}/{{{self.variable}}}"

    def collection(self, parent: ObjectPath | None = None) -> str:
        """The collection's path: `/mgmt/tm/ltm/pool/~Common~web/members`."""
        if self.parent is None:
            return self.path
        return f"{self.parent.object_path(parent)}/{self.path}"  # type: ignore[arg-type]

    def object_path(self, path: ObjectPath, parent: ObjectPath | None = None) -> str:
        return f"{self.collection(parent)}/{path.url_token}"

    def state(self, suffix: str) -> str:
        """BIG-IP's `kind` of its answers, from the collection path: `tm:ltm:pool:members:` +
        `membersstate`, `memberscollectionstate` or `membersstats`."""
        segments = [part for part in self.url_collection.removeprefix("/mgmt/").split("/") if not part.startswith("{")]
        return f"{':'.join(segments)}:{segments[-1]}{suffix}"

    def identity(self, path: ObjectPath, parent: ObjectPath | None = None) -> str:
        """How BIG-IP names an object in messages: its full path; a member by its pool,
        node and port (`/Common/p /Common/10.0.0.1 80`)."""
        if self.parent is None:
            return path.full_path
        host, port = split_service(path.name)
        return f"{parent.full_path} /{path.partition}/{host} {port}"  # type: ignore[union-attr]

    def summary(self, operation: str) -> str:
        generic = {
            "list": f"List {self.noun}s",
            "create": f"Create a {self.noun}",
            "get": f"Read a {self.noun}",
            "update": f"Change a {self.noun}",
            "delete": f"Delete a {self.noun}",
            "stats": f"{self.noun.capitalize()} counters",
        }
        return self.summaries.get(operation, generic[operation])

    def reference(self, field_name: str) -> Reference:
        return next(reference for reference in self.references if reference.field == field_name)


NODE = Kind(
    name="node", label="Node", noun="node", path="/mgmt/tm/ltm/node", variable="node",
    record=NodeRecord, body=NodeBody,
    required=("address",), requires="an address",
    stats=True, list_query=COLLECTION_QUERY,
)
POOL = Kind(
    name="pool", label="Pool", noun="pool", path="/mgmt/tm/ltm/pool", variable="pool",
    record=PoolRecord, body=PoolBody,
    stats=True, list_query=COLLECTION_QUERY, get_query=("expandSubcollections",),
)
# A member is named `address:port` (IPv6 `address.port`), in its pool's partition and never
# in a folder; its node, when absent, is created with it (config.py), as BIG-IP does.
MEMBER = Kind(
    name="member", label="Pool Member", noun="member", path="members", variable="member",
    record=MemberRecord, body=MemberBody,
    parent=POOL, folders=False, nameless="a pool member requires a name (address:port)",
    references=(
        Reference(
            "node", "node", "01070110:3: Node address '{target}' is referenced by a member of pool '{referrer}'."
        ),
    ),
    stats=True,
    summaries={
        "list": "List a pool's members", "create": "Add a member (creates its node)", "delete": "Remove a member",
    },
)
VIRTUAL = Kind(
    name="virtual", label="Virtual Server", noun="virtual server", path="/mgmt/tm/ltm/virtual", variable="virtual",
    record=VirtualRecord, body=VirtualBody,
    required=("destination",), requires="a destination",
    references=(
        Reference(
            "pool", "pool",
            "01070265:3: The Pool ({target}) cannot be deleted because it is in use by a Virtual Server ({referrer}).",
        ),
        Reference(
            "tcp_profile", "tcp_profile",
            "01070313:3: The profile ({target}) cannot be deleted because it is in use by a Virtual Server "
            "({referrer}).",
        ),
        Reference(
            "fastl4_profile", "fastl4_profile",
            "01070313:3: The profile ({target}) cannot be deleted because it is in use by a Virtual Server "
            "({referrer}).",
        ),
    ),
    stats=True, list_query=COLLECTION_QUERY,
)
TCP_PROFILE = Kind(
    name="tcp_profile", label="profile", noun="TCP profile", path="/mgmt/tm/ltm/profile/tcp", variable="profile",
    record=TcpProfileRecord, body=TcpProfileBody,
    references=(
        Reference(
            "defaults_from", "tcp_profile",
            "01070313:3: The profile ({target}) cannot be deleted because the profile ({referrer}) derives from it.",
        ),
    ),
    builtins=(BUILTIN_TCP_PROFILE,), list_query=("$filter",),
    summaries={"update": "Change a TCP profile (idleTimeout)"},
)
FASTL4_PROFILE = Kind(
    name="fastl4_profile", label="profile", noun="fastL4 profile", path="/mgmt/tm/ltm/profile/fastl4",
    variable="profile", record=FastL4ProfileRecord, body=FastL4ProfileBody,
    references=(
        Reference(
            "defaults_from", "fastl4_profile",
            "01070313:3: The profile ({target}) cannot be deleted because the profile ({referrer}) derives from it.",
        ),
    ),
    builtins=(BUILTIN_FASTL4_PROFILE,), list_query=("$filter",),
    summaries={"update": "Change a fastL4 profile (idleTimeout)"},
)
ROUTE = Kind(
    name="route", label="Route", noun="static route", path="/mgmt/tm/net/route", variable="route",
    record=RouteRecord, body=RouteBody,
    required=("network", "gw"), requires="a network and a gw", list_query=("$filter",),
)

# In this order the saved tables are written, and a deletion's references are looked for.
KINDS: tuple[Kind[Any, Any], ...] = (NODE, POOL, MEMBER, VIRTUAL, TCP_PROFILE, FASTL4_PROFILE, ROUTE)
KIND_NAMED = {kind.name: kind for kind in KINDS}
