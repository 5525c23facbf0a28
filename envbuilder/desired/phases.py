"""The phases of an environment, declared once: each one's status line and the phases it needs first.

`up` runs the prerequisites and the images, then hands the engine the phases from the cluster to
the services, which it runs as a graph: a phase's resources wait only for the resources of the
phases it needs, so the F5 and the broker start together. `down` runs destroy, cleanup and
verify-clean. Status lines, the record's timings, the reports and the fault suite all name
phases by these values; the engine says which phase each of its resources belongs to.
"""

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    PREREQUISITES = "prerequisites"
    IMAGES = "images"
    CLUSTER = "cluster"
    PUSH = "push"
    CNI = "cni"
    BROKER = "broker"
    F5 = "f5"
    SERVICES = "services"
    SMOKE = "smoke"
    DESTROY = "destroy"
    CLEANUP = "cleanup"
    VERIFY_CLEAN = "verify-clean"

    @property
    def title(self) -> str:
        return PHASES[self].title

    @property
    def needs(self) -> tuple["Phase", ...]:
        return PHASES[self].needs

    def needs_transitively(self) -> set["Phase"]:
        needed: set[Phase] = set()
        for phase in self.needs:
            needed |= {phase, *phase.needs_transitively()}
        return needed


@dataclass(frozen=True)
class PhaseDeclaration:
    title: str
    # What must be done before this phase starts. A phase absent from a run (the existing target has
    # no cluster, pod network or image push) counts as done.
    needs: tuple[Phase, ...] = ()


PHASES: dict[Phase, PhaseDeclaration] = {
    Phase.PREREQUISITES: PhaseDeclaration("Checking prerequisites"),
    Phase.IMAGES: PhaseDeclaration("Building images", (Phase.PREREQUISITES,)),
    Phase.CLUSTER: PhaseDeclaration("Creating the kind cluster", (Phase.PREREQUISITES,)),
    # The machine's registry takes the images while kind creates the cluster; the nodes pull from it later.
    Phase.PUSH: PhaseDeclaration("Pushing images to the machine's registry", (Phase.IMAGES,)),
    Phase.CNI: PhaseDeclaration("Installing the pod network, waiting for Ready nodes", (Phase.CLUSTER,)),
    # The broker's and the F5's pods need nodes that are Ready and images they can pull; not each other.
    Phase.BROKER: PhaseDeclaration("Starting the broker", (Phase.CNI, Phase.PUSH)),
    Phase.F5: PhaseDeclaration("Starting the F5 and f5-sync", (Phase.CNI, Phase.PUSH)),
    # Services connect to the broker when they start; f5-sync picks their Services up whenever it runs.
    Phase.SERVICES: PhaseDeclaration("Deploying services", (Phase.BROKER,)),
    Phase.SMOKE: PhaseDeclaration("Running smoke checks", (Phase.F5, Phase.SERVICES)),
    Phase.DESTROY: PhaseDeclaration("Deleting the kind cluster or the namespace"),
    # The containers and volumes beside the cluster go while it is deleted; the network and the stack wait
    # for it step by step (pipeline/down.py's WAITS_FOR), not as a phase.
    Phase.CLEANUP: PhaseDeclaration("Removing what is left"),
    Phase.VERIFY_CLEAN: PhaseDeclaration("Checking nothing is left", (Phase.DESTROY, Phase.CLEANUP)),
}
