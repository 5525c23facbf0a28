"""The service catalog: one YAML file per service under stacks/services/."""

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envbuilder.errors import InputError
from envbuilder.spec.loading import load_yaml_model

SERVICE_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")
CONFIG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
F5_API_PORT = 443  # iControl REST of the environment's F5
# The F5's virtual servers listen on every address of the F5 (F5_VIP_ADDRESS 0.0.0.0), so a
# virtual on a port the F5 itself serves would take it over, or fail to listen.
RESERVED_VIP_PORTS = {F5_API_PORT: "the F5's iControl REST API listens there"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Build(_Strict):
    """Where the service's image is built from, relative to the repository root."""

    context: str
    dockerfile: str = "Dockerfile"


class Replicas(_Strict):
    default: int = Field(1, ge=0)
    min: int = Field(1, ge=0)
    max: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _default_within_bounds(self) -> "Replicas":
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside min {self.min} .. max {self.max}")
        return self


class Expose(_Strict):
    """How the F5 fronts the service: a virtual server on vip_port."""

    vip_port: int = Field(ge=1, le=65535)
    mode: Literal["nodeport", "cluster"] = "nodeport"
    partition: str = "Common"

    @field_validator("vip_port")
    @classmethod
    def _not_reserved(cls, port: int) -> int:
        if port in RESERVED_VIP_PORTS:
            raise ValueError(f"{port} is reserved: {RESERVED_VIP_PORTS[port]}")
        return port


class SmokeCheck(_Strict):
    """An extra HTTP check the service asks for: a path and what it must answer."""

    name: str
    path: str = Field(pattern=r"^/")
    expect_status: int = Field(200, ge=100, le=599)
    expect_body: str | None = None


class Rpc(_Strict):
    """A request the service answers by asking another service through the broker: `path?payload=TOKEN`
    answers 200 with TOKEN in its body once `to` replied. The smoke suite checks this round trip."""

    to: str
    path: str = Field(pattern=r"^/")


class DevSync(_Strict):
    """A folder of the repository whose files `envbuilder dev` copies into the running containers."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")  # relative to the repository root
    to: str = Field(pattern=r"^/")  # where those files are in the image


class Dev(_Strict):
    """How `envbuilder dev` puts a saved file into the running service without a new image."""

    sync: list[DevSync] = Field(min_length=1)
    # A shell command run in each container once the files are in: restarts the service's process in place.
    restart: str = Field(min_length=1)
    # Files (globs, relative to a sync folder) that sync cannot carry, e.g. requirements.txt: a change
    # rebuilds the image. The Dockerfile and the catalog entry always do.
    rebuild_on: list[str] = []


class ServiceEntry(_Strict):
    name: str
    description: str = ""
    runtime: Literal["kubernetes", "classic"] = "kubernetes"
    build: Build
    port: int = Field(ge=1, le=65535)
    replicas: Replicas = Replicas()
    needs_broker: bool = False
    expose: Expose | None = None
    health_path: str = Field("/healthz", pattern=r"^/")
    config: dict[str, str] = {}
    smoke: list[SmokeCheck] = []
    rpc: Rpc | None = None
    dev: Dev | None = None  # omit when the service has not opted in to `envbuilder dev`

    @field_validator("name")
    @classmethod
    def _dns_label(cls, name: str) -> str:
        if not SERVICE_NAME.match(name):
            raise ValueError("must be a DNS label of lowercase letters, digits and '-' (at most 32)")
        return name

    @model_validator(mode="after")
    def _rpc_needs_the_broker(self) -> "ServiceEntry":
        if self.rpc and not self.needs_broker:
            raise ValueError("rpc: the request goes through the broker, so needs_broker must be true")
        return self

    @field_validator("config", mode="before")
    @classmethod
    def _string_values(cls, config: object) -> object:
        # YAML turns 5 and true into numbers and booleans; environment variables are strings.
        if isinstance(config, dict):
            return {key: _as_env_value(value) for key, value in config.items()}
        return config

    @field_validator("config")
    @classmethod
    def _valid_keys(cls, config: dict[str, str]) -> dict[str, str]:
        for key in config:
            if not CONFIG_KEY.match(key):
                raise ValueError(f"config key {key!r} is not a valid environment variable name")
        return config


def _as_env_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class Catalog:
    """The services an environment can run, by name."""

    def __init__(self, entries: dict[str, ServiceEntry]) -> None:
        self.entries = dict(sorted(entries.items()))

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def select(self, names: list[str]) -> list[ServiceEntry]:
        """The entries for `names`, in the order given; unknown names fail before anything is created."""
        unknown = [name for name in names if name not in self.entries]
        if unknown:
            raise InputError(
                f"unknown service{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; "
                f"known services: {', '.join(self.names) or '(none)'}"
            )
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InputError(f"service listed more than once: {', '.join(duplicates)}")
        return [self.entries[name] for name in names]


def load_catalog(directory: Path) -> Catalog:
    if not directory.is_dir():
        raise InputError(f"service catalog directory {directory} does not exist")
    entries: dict[str, ServiceEntry] = {}
    vip_ports: dict[int, Path] = {}  # every service's virtual shares the F5's one VIP address
    for path in sorted(directory.glob("*.yaml")):
        entry = load_yaml_model(path, ServiceEntry)
        if entry.name != path.stem:
            raise InputError(f"{path}: name: {entry.name!r} must match the file name {path.stem!r}")
        if entry.expose is not None:
            port = entry.expose.vip_port
            if port in vip_ports:
                raise InputError(
                    f"{path}: expose.vip_port: {port} is already the VIP port of {vip_ports[port].stem} "
                    f"({vip_ports[port]}); two virtual servers cannot listen on one port"
                )
            vip_ports[port] = path
        entries[entry.name] = entry
    for name, entry in entries.items():
        if entry.rpc and entry.rpc.to not in entries:
            raise InputError(f"{directory / name}.yaml: rpc.to: {entry.rpc.to!r} is not a service of the catalog")
    return Catalog(entries)
