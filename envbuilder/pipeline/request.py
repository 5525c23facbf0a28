"""What the user asked for, checked and resolved into an EnvironmentSpec before anything is created."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from envbuilder.errors import InputError
from envbuilder.spec.catalog import load_catalog
from envbuilder.spec.environment import EnvironmentSpec, parse_overrides, resolve_services
from envbuilder.spec.names import default_name, validate_name
from envbuilder.spec.profile import IMAGE_REFERENCE, PodNetwork, load_profile, parse_duration
from envbuilder.state.home import project_root, stacks_dir
from envbuilder.state.identity import home_identity
from envbuilder.state.ports import port_range

if TYPE_CHECKING:
    from envbuilder.images.revision import Revision

TARGETS = ("kind", "existing")


@dataclass(frozen=True)
class ResolvedRequest:
    spec: EnvironmentSpec
    ttl: timedelta
    ttl_is_explicit: bool  # --ttl was given: it also applies when `up` updates an environment
    overrides: dict[str, dict[str, str]]
    replicas: dict[str, int]
    backend_url: str | None
    node_image: str | None  # --node-image (kind target)
    pod_network: PodNetwork | None  # --pod-network (kind target); None: chosen by what can be had
    # The source the images are built from; None when they are the ones the record names (scale).
    revision: "Revision | None"


@dataclass(frozen=True)
class EnvironmentRequest:
    services: list[str]
    name: str | None = None
    profile: str = "default"
    overrides: list[str] = field(default_factory=list)
    replicas: dict[str, int] = field(default_factory=dict)
    revision: str | None = None
    # The images the environment's record names (scale): `revision` and these are used as they are.
    recorded_images: dict[str, str] | None = None
    target: str = "kind"
    kube_context: str | None = None
    ttl: str | None = None
    node_image: str | None = None
    pod_network: PodNetwork | None = None
    backend_url: str | None = None

    def resolve(self) -> ResolvedRequest:
        from envbuilder.images.build import COMPONENTS, image_references
        from envbuilder.images.revision import current_revision, resolve_revision

        name = validate_name(self.name) if self.name else default_name()
        if self.target not in TARGETS:
            raise InputError(f"unknown target {self.target!r}; choose one of: {', '.join(TARGETS)}")
        if self.target == "existing" and not self.kube_context:
            raise InputError("--target existing needs --kube-context CONTEXT")
        if self.target == "kind" and self.kube_context:
            raise InputError("--kube-context applies to --target existing only")
        if self.target == "existing" and self.node_image:
            raise InputError("--node-image applies to --target kind only")
        if self.node_image and not re.fullmatch(IMAGE_REFERENCE, self.node_image):
            raise InputError(f"--node-image {self.node_image!r} is not an image reference like kindest/node:v1.35.4")
        if self.target == "existing" and self.pod_network:
            raise InputError("--pod-network applies to --target kind only: an existing cluster runs its own")
        if self.target == "kind":
            _check_image_variables()
        port_range()  # a bad $ENVBUILDER_PORT_RANGE stops `up` here, before the record takes ports
        profile = load_profile(stacks_dir(), self.profile)
        overrides = parse_overrides(self.overrides)
        source: Revision | None = None
        if self.recorded_images is not None and self.revision:
            revision, images = self.revision, self.recorded_images
        else:
            source = resolve_revision(project_root(), self.revision) if self.revision else current_revision(project_root())
            revision, images = source.name, image_references(project_root(), source)
        services = resolve_services(
            load_catalog(stacks_dir() / "services"), self.services, profile, images, overrides, self.replicas
        )
        try:
            ttl = parse_duration(self.ttl) if self.ttl else profile.ttl
        except ValueError as error:
            raise InputError(f"--ttl: {error}") from None
        spec = EnvironmentSpec(
            name=name, profile=profile, services=services, revision=revision, owner=home_identity(),
            target=self.target, kube_context=self.kube_context,  # type: ignore[arg-type]
            component_images={name: images[name] for name in COMPONENTS},
        )
        return ResolvedRequest(
            spec, ttl, self.ttl is not None, overrides, dict(self.replicas), self.backend_url, self.node_image,
            self.pod_network, source,
        )


def _check_image_variables() -> None:
    """The images phase reads these; a bad value stops `up` here, before anything is created."""
    import os

    from envbuilder.images.broker import BROKER_IMAGE_VARIABLE
    from envbuilder.images.build import BASE_IMAGE_VARIABLE, image_override

    for variable in (BASE_IMAGE_VARIABLE, BROKER_IMAGE_VARIABLE):
        image_override(variable, os.environ)
