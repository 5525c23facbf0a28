"""Profiles: the cluster shape, versions, timeouts and TTL an environment is built with."""

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from envbuilder.errors import InputError
from envbuilder.spec.loading import load_yaml_model

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# Docker's reference grammar: [registry[:port]/]lowercase/path[:tag][@sha256:digest].
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE = (
    rf"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)


class PodNetwork(StrEnum):
    """The kind target's pod network (`up --pod-network`): Calico, as production runs, where its
    manifest and images can be had; kube-router where only the offline node image brings one
    (docs/node-image.md)."""

    CALICO = "calico"
    KUBE_ROUTER = "kube-router"

    @property
    def daemonset(self) -> str:
        """Its agents' DaemonSet in kube-system, which the engine and the smoke checks wait for on every node."""
        return "calico-node" if self is PodNetwork.CALICO else "kube-router"


# An environment kept longer is no longer disposable; beyond it, expiry dates leave the calendar.
LONGEST_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """'8h', '90m', '1d12h', '45s' -> timedelta."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 8h, 90m or 1d12h")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        duration = LONGEST_DURATION * 2
    if duration > LONGEST_DURATION:
        raise ValueError(f"{text!r} is longer than {LONGEST_DURATION.days} days")
    return duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Strict):
    """Seconds each phase may take before `up` fails and says why."""

    cluster: int = Field(300, ge=10)
    cni: int = Field(300, ge=10)
    rollout: int = Field(300, ge=10)
    smoke: int = Field(120, ge=5)


class Broker(_Strict):
    # On kind, `up` may run a local image instead when nodes could not pull this one (images/broker.py).
    image: str = "rabbitmq:3.13-management"

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not re.fullmatch(IMAGE_REFERENCE, value):
            raise ValueError(f"{value!r} is not an image reference like rabbitmq:3.13-management")
        return value


class Profile(_Strict):
    name: str
    description: str = ""
    kubernetes_version: str = Field(pattern=r"^v1\.\d+\.\d+$")
    workers: int = Field(1, ge=0, le=10)
    calico_version: str = Field(pattern=r"^v3\.\d+\.\d+$")
    # kind node image; unset: the one `make node-image` built when Docker has it, else kind's published one.
    node_image: str | None = None
    ttl: timedelta = timedelta(hours=8)
    timeouts: Timeouts = Timeouts()
    broker: Broker = Broker()
    # How the F5 reaches cluster-mode pods on the kind target: `static`, routes f5-sync writes
    # from the nodes' pod blocks; `bgp`, routes the F5 learns from the pod network's own BGP
    # speakers (kube-router peers with it), as the appliance learns them from Calico in production.
    f5_routes: Literal["static", "bgp"] = "static"
    # Per-service configuration values that override the catalog defaults.
    config: dict[str, dict[str, str]] = {}

    @field_validator("ttl", mode="before")
    @classmethod
    def _ttl(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @property
    def published_node_image(self) -> str:
        return f"kindest/node:{self.kubernetes_version}"

    @property
    def local_node_image(self) -> str:
        """What tools/node-image/build.sh builds for this version where no registry is reachable."""
        return f"envbuilder/kind-node:{self.kubernetes_version}"

    def node_image_candidates(self, explicit: str | None = None) -> list[str]:
        """The node images to use, in order of preference: --node-image or the profile's alone; else the
        locally built one when Docker has it, else kind's published one (cluster.node_image chooses)."""
        chosen = explicit or self.node_image
        return [chosen] if chosen else [self.local_node_image, self.published_node_image]


def load_profile(stacks_dir: Path, name: str) -> Profile:
    path = stacks_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in stacks_dir.glob("*.yaml"))
        raise InputError(f"unknown profile {name!r}; known profiles: {', '.join(known) or '(none)'}")
    profile = load_yaml_model(path, Profile)
    if profile.name != name:
        raise InputError(f"{path}: name: {profile.name!r} must match the file name {name!r}")
    return profile
