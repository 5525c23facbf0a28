"""Pulumi resource URNs, read in one place: `urn:pulumi:STACK::PROJECT::QUALIFIED_TYPE::NAME`.

The qualified type is the chain of parent types joined by `$` (a ConfigGroup's Deployment is
`kubernetes:yaml/v2:ConfigGroup$kubernetes:apps/v1:Deployment`); the Kubernetes provider names a
group's objects `GROUP:NAMESPACE/NAME`, so a child's name starts with its group's.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Urn:
    stack: str
    project: str
    types: tuple[str, ...]  # outermost parent first
    name: str

    @classmethod
    def parse(cls, urn: str) -> "Urn":
        parts = urn.split("::", 3)  # a name may itself hold "::"
        if len(parts) != 4 or not parts[0].startswith("urn:pulumi:"):
            raise ValueError(f"not a Pulumi URN: {urn!r}")
        stack, project, qualified_type, name = parts
        return cls(stack.removeprefix("urn:pulumi:"), project, tuple(qualified_type.split("$")), name)

    @property
    def type(self) -> str:
        return self.types[-1]

    @property
    def is_child(self) -> bool:
        return len(self.types) > 1

    @property
    def top_level_name(self) -> str:
        """The name the program registered: its own, or for a group's object, the group's."""
        return self.name.split(":", 1)[0] if self.is_child else self.name
