"""The resolved environment spec: everything the desired state and the engine need, validated."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from envbuilder.errors import InputError
from envbuilder.naming import cluster_name, namespace_name
from envbuilder.spec.catalog import Catalog, ServiceEntry
from envbuilder.spec.profile import Profile

Target = Literal["kind", "existing"]
IMAGE_REPOSITORY = "envbuilder"


@dataclass(frozen=True)
class ServiceSpec:
    """A catalog entry as this environment runs it."""

    entry: ServiceEntry
    replicas: int
    config: dict[str, str]
    image: str

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def revision(self) -> str:
        """What the service runs: its image's tag, which names the content it was built from."""
        return image_tag(self.image)


@dataclass(frozen=True)
class EnvironmentSpec:
    name: str
    profile: Profile
    services: tuple[ServiceSpec, ...]
    revision: str  # the whole tree's (images.revision)
    owner: str  # the identity of the envbuilder home that creates it (envbuilder.state.identity)
    target: Target = "kind"
    kube_context: str | None = None
    # Name -> image reference of envbuilder's components (f5-mock, f5-sync) at this revision.
    component_images: Mapping[str, str] = field(default_factory=dict)
    # Service -> a count that changes when its containers must start again from the image (state.records).
    code_resets: Mapping[str, int] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return namespace_name(self.name)

    @property
    def cluster_name(self) -> str:
        return cluster_name(self.name)

    @property
    def needs_broker(self) -> bool:
        return any(service.entry.needs_broker for service in self.services)

    @property
    def exposed(self) -> tuple[ServiceSpec, ...]:
        return tuple(service for service in self.services if service.entry.expose)

    @property
    def in_cluster(self) -> tuple[ServiceSpec, ...]:
        return tuple(service for service in self.services if service.entry.runtime == "kubernetes")

    @property
    def classic(self) -> tuple[ServiceSpec, ...]:
        return tuple(service for service in self.services if service.entry.runtime == "classic")

    def component_image(self, component: str) -> str:
        return self.component_images[component]

    @property
    def images(self) -> dict[str, str]:
        """Name -> reference of every image of envbuilder's that the environment runs."""
        return {**{service.name: service.image for service in self.services}, **self.component_images}

    def with_broker_image(self, image: str) -> "EnvironmentSpec":
        """This spec with the broker running `image` instead of the profile's (chosen when images are built)."""
        broker = self.profile.broker.model_copy(update={"image": image})
        return replace(self, profile=self.profile.model_copy(update={"broker": broker}))


def image_name(name: str, tag: str) -> str:
    return f"{IMAGE_REPOSITORY}/{name}:{tag}"


def tagged_images(names: Iterable[str], tag: str) -> dict[str, str]:
    """Name -> reference of each image, all with the same tag (a clean commit's)."""
    return {name: image_name(name, tag) for name in names}


def recorded_images(images: Mapping[str, str], revision: str, names: Iterable[str]) -> dict[str, str]:
    """An environment's images as its record names them; a record from before images were recorded ran
    every image tagged with its revision."""
    return dict(images) if images else tagged_images(names, revision)


def image_tag(reference: str) -> str:
    return reference.rpartition(":")[2]


def parse_overrides(pairs: list[str]) -> dict[str, dict[str, str]]:
    """`["web.GREETING=hi"]` -> `{"web": {"GREETING": "hi"}}`."""
    overrides: dict[str, dict[str, str]] = {}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        service, dot, key = target.partition(".")
        if not sep or not dot or not service or not key:
            raise InputError(f"--set {pair!r}: expected SERVICE.KEY=VALUE, e.g. web.GREETING=hi")
        overrides.setdefault(service, {})[key] = value
    return overrides


def parse_replicas(pairs: list[str]) -> dict[str, int]:
    """`["web=3"]` -> `{"web": 3}`."""
    replicas: dict[str, int] = {}
    for pair in pairs:
        service, sep, count = pair.partition("=")
        if not sep or not service or not count.isdigit():
            raise InputError(f"{pair!r}: expected SERVICE=REPLICAS, e.g. web=3")
        replicas[service] = int(count)
    return replicas


def resolve_services(
    catalog: Catalog,
    names: list[str],
    profile: Profile,
    images: Mapping[str, str],
    overrides: dict[str, dict[str, str]] | None = None,
    replicas: dict[str, int] | None = None,
) -> tuple[ServiceSpec, ...]:
    """Merge catalog defaults, profile values and overrides; check replicas against the catalog bounds.
    `images`: name -> the reference each service runs.

    Fails before anything is created on unknown services, unknown config keys and counts out of bounds.
    """
    if not names:
        raise InputError(f"no services chosen; known services: {', '.join(catalog.names)}")
    entries = catalog.select(names)
    overrides = overrides or {}
    replicas = replicas or {}
    for name in [*overrides, *replicas]:
        if name not in names:
            raise InputError(
                f"{name!r} is not one of this environment's services ({', '.join(names)})"
            )
    services = []
    for entry in entries:
        config = dict(entry.config)
        for layer, source in ((profile.config.get(entry.name, {}), f"profile {profile.name}"), (overrides.get(entry.name, {}), "--set")):
            unknown = sorted(set(layer) - set(entry.config))
            if unknown:
                raise InputError(
                    f"{source}: unknown config key{'s' if len(unknown) > 1 else ''} for {entry.name}: "
                    f"{', '.join(unknown)}; known keys: {', '.join(sorted(entry.config)) or '(none)'}"
                )
            config.update(layer)
        count = replicas.get(entry.name, entry.replicas.default)
        if not entry.replicas.min <= count <= entry.replicas.max:
            raise InputError(
                f"{entry.name}: {count} replicas is outside the catalog's bounds "
                f"{entry.replicas.min} .. {entry.replicas.max}"
            )
        services.append(ServiceSpec(entry=entry, replicas=count, config=config, image=images[entry.name]))
    return tuple(services)
