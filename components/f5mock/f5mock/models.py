"""The configuration the mock keeps (records) and the request bodies it accepts.

Request bodies reject unknown fields with a 400, as BIG-IP does; the read-only fields
BIG-IP itself returns (`kind`, `selfLink`, `generation`, `fullPath`, references) are
accepted and ignored, so a client can PUT back an object it has just read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from f5mock.names import ObjectPath

LoadBalancingMode = Literal["round-robin", "least-connections-member"]
# Every monitor is probed with a TCP connect (see docs/f5-mock.md).
MONITORS = frozenset({"tcp", "tcp_half_open", "http", "https"})
DEFAULT_TCP_PROFILE = "/Common/tcp"
FASTL4_PROFILE = "/Common/fastL4"  # the appliance's built-in fastL4 profile: kernel forwarding (fastpath.py)
DEFAULT_IDLE_TIMEOUT = 300  # seconds, BIG-IP's /Common/tcp
INDEFINITE = 4294967295  # BIG-IP's idleTimeout for "never"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partition: str
    name: str
    sub_path: str = ""
    generation: int

    @property
    def path(self) -> ObjectPath:
        return ObjectPath(self.partition, self.name, self.sub_path)


class NodeRecord(_Record):
    address: str
    description: str = ""
    forced_down: bool = False
    disabled: bool = False


class MemberRecord(_Record):
    node: str  # full path of the node it belongs to
    address: str
    port: int
    description: str = ""
    forced_down: bool = False
    disabled: bool = False
    ratio: int = 1


class PoolRecord(_Record):
    load_balancing_mode: LoadBalancingMode = "round-robin"
    monitor: str = ""
    description: str = ""
    members: list[MemberRecord] = []
    # The members' names, built when first asked: whether a name is new is then one lookup, not a
    # scan of thousands of members. Whoever changes `members` keeps it in step (`ConfigEdit`).
    _names: set[str] | None = PrivateAttr(default=None)

    def member_names(self) -> set[str]:
        if self._names is None:
            self._names = {member.name for member in self.members}
        return self._names


class TcpProfileRecord(_Record):
    defaults_from: str = ""
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    description: str = ""


BUILTIN_TCP_PROFILE = TcpProfileRecord(partition="Common", name="tcp", generation=1)


class FastL4ProfileRecord(TcpProfileRecord):
    """A fastL4 profile: its virtuals are forwarded by the kernel (the appliance's fast path)."""


BUILTIN_FASTL4_PROFILE = FastL4ProfileRecord(partition="Common", name="fastL4", generation=1)


class VirtualRecord(_Record):
    destination: str  # normalised, e.g. /Common/10.0.0.100:80
    tcp_profile: str = DEFAULT_TCP_PROFILE  # "" with a fastL4 profile: a virtual has one or the other
    fastl4_profile: str = ""
    pool: str = ""  # full path, or "" for none
    mask: str = "255.255.255.255"
    source: str = "0.0.0.0/0"
    source_address_translation: Literal["automap", "none", "snat"] = "none"
    description: str = ""
    enabled: bool = True


class RouteRecord(_Record):
    """A static route (`/mgmt/tm/net/route`): traffic to `network` goes through `gw`."""

    network: str  # normalised, e.g. 10.244.1.0/24 (BIG-IP writes 0.0.0.0/0 as "default")
    gw: str
    mtu: int = 0  # 0: the interface's
    description: str = ""


class Config(BaseModel):
    """Everything the API has acknowledged; saved as JSON in the state directory."""

    model_config = ConfigDict(extra="forbid")

    generation: int = 0
    nodes: dict[str, NodeRecord] = {}
    pools: dict[str, PoolRecord] = {}
    virtuals: dict[str, VirtualRecord] = {}
    tcp_profiles: dict[str, TcpProfileRecord] = {}  # besides the built-in /Common/tcp
    fastl4_profiles: dict[str, FastL4ProfileRecord] = {}  # besides the built-in /Common/fastL4
    routes: dict[str, RouteRecord] = {}
    # (partition, address) -> node key: BIG-IP allows one node per address and partition,
    # and scanning every node for each new member would make writes grow with the size.
    _node_addresses: dict[tuple[str, str], str] | None = PrivateAttr(default=None)

    def node_addresses(self) -> dict[tuple[str, str], str]:
        if self._node_addresses is None:
            self._node_addresses = {(node.partition, node.address): key for key, node in self.nodes.items()}
        return self._node_addresses


# --- request bodies ---------------------------------------------------------------------


def _text() -> Any:
    return Field(default=None, max_length=4096)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", title="")

    name: str | None = Field(default=None, max_length=512)
    partition: str | None = Field(default=None, max_length=64)
    subPath: str | None = Field(default=None, max_length=64)
    kind: Any = None
    selfLink: Any = None
    generation: Any = None
    fullPath: Any = None

    def given(self, field: str) -> bool:
        return field in self.model_fields_set


class MemberBody(_Body):
    address: str | None = Field(default=None, max_length=64)
    description: str | None = _text()
    # Clients write user-up/user-down and user-enabled/user-disabled; the values BIG-IP
    # reads back are accepted too, so an object read can be written back unchanged.
    state: Literal["user-up", "user-down", "up", "down", "unchecked"] | None = None
    session: Literal["user-enabled", "user-disabled", "monitor-enabled"] | None = None
    ratio: int | None = Field(default=None, ge=1, le=100)
    ephemeral: Any = None


class NodeBody(_Body):
    address: str | None = Field(default=None, max_length=64)
    description: str | None = _text()
    state: Literal["user-up", "user-down", "up", "down", "unchecked"] | None = None
    session: Literal["user-enabled", "user-disabled", "monitor-enabled"] | None = None
    ephemeral: Any = None


class PoolBody(_Body):
    description: str | None = _text()
    loadBalancingMode: LoadBalancingMode | None = None
    monitor: str | None = Field(default=None, max_length=512)
    members: list[MemberBody] | None = Field(default=None, max_length=1024)
    membersReference: Any = None


class SourceAddressTranslation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["automap", "none", "snat"]
    pool: Any = None


class ProfileReference(BaseModel):
    """An entry of a virtual's `profiles`, as BIG-IP lists and accepts them."""

    model_config = ConfigDict(extra="forbid", title="")

    name: str = Field(max_length=512)
    partition: str | None = Field(default=None, max_length=64)
    context: Literal["all"] | None = None
    kind: Any = None
    selfLink: Any = None
    fullPath: Any = None
    generation: Any = None
    nameReference: Any = None


class VirtualBody(_Body):
    destination: str | None = Field(default=None, max_length=128)
    pool: str | None = Field(default=None, max_length=512)
    ipProtocol: Literal["tcp"] | None = None
    mask: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=64)
    sourceAddressTranslation: SourceAddressTranslation | None = None
    description: str | None = _text()
    enabled: bool | None = None
    disabled: bool | None = None
    poolReference: Any = None
    profiles: list[ProfileReference | str] | None = Field(default=None, max_length=8)
    profilesReference: Any = None


class TcpProfileBody(_Body):
    defaultsFrom: str | None = Field(default=None, max_length=512)
    idleTimeout: Annotated[int, Field(ge=1, le=INDEFINITE)] | Literal["indefinite"] | None = None
    description: str | None = _text()


class FastL4ProfileBody(TcpProfileBody):
    pass


class RouteBody(_Body):
    network: str | None = Field(default=None, max_length=64)
    gw: str | None = Field(default=None, max_length=64)
    mtu: int | None = Field(default=None, ge=0, le=9198)
    description: str | None = _text()


class TokenTimeoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout: int = Field(ge=0, le=36000)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients add fields such as `needsToken`

    username: str = Field(max_length=256)
    password: str = Field(max_length=256)
    loginProviderName: str | None = Field(default=None, max_length=256)
