"""The engine's one public face: what the pipeline (and only through here) asks of Pulumi.

An environment's stack is an `EngineStack`: opened (created or selected), recovered after an
interrupted run, brought up to the desired state, destroyed. `down`, which deletes the stack's
objects itself, reads it as a `StoredStack` (`stored_stack`): one CLI call to read it, one to
have it forget its objects, one to remove it. Behind it: backend.py (where the
state lives, the engine's environment), passphrases.py, orphans.py (an interrupted run's engine,
locks and pending operations), commands.py (running the Pulumi CLI), stacks.py, failures.py,
program.py and resources.py. pyproject.toml's import contracts keep the pipeline to this module.
"""

import functools
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from envbuilder.desired.phases import Phase
from envbuilder.engine import stacks
from envbuilder.engine.backend import forget_workspace
from envbuilder.engine.failures import run_engine
from envbuilder.engine.orphans import recover, stop_orphaned_engines
from envbuilder.engine.program import CONFIG_BROKER_PASSWORD, CONFIG_F5_PASSWORD, ProgramInputs, environment_program
from envbuilder.engine.stacks import StoredStack, stack_exists, stack_names, stack_owner, stored_stack
from envbuilder.engine.urns import Urn

if TYPE_CHECKING:
    from pulumi import automation as auto

__all__ = [
    "EngineStack",
    "ProgramInputs",
    "StoredStack",
    "Urn",
    "forget_workspace",
    "open_stack",
    "stack_exists",
    "stack_names",
    "stack_owner",
    "stop_orphaned_engines",
    "stored_stack",
]

EngineEvents = Callable[["auto.EngineEvent"], None]
# Given how to tell each resource's phase from its URN, the handler of the engine's events (the status lines).
EventsFor = Callable[[Callable[[str], Phase | None]], EngineEvents]


class EngineStack:
    """An environment's stack. Its operations raise EnvbuilderError naming what failed and why."""

    def __init__(self, stack: "auto.Stack") -> None:
        self._stack = stack

    @property
    def name(self) -> str:
        return self._stack.name

    def kind_clusters(self, *, pending_only: bool = False) -> set[str]:
        """The kind clusters it created or was creating when interrupted (`pending_only`: only the latter)."""
        return stacks.kind_clusters_in(self._stack, pending_only=pending_only)

    def recover(self) -> list[str]:
        """Clear what an interrupted run left (a stale lock, pending operations); returns what was done."""
        return recover(self._stack)

    def up(self, inputs: ProgramInputs, events_for: EventsFor | None = None) -> None:
        """Bring the environment to `inputs`' desired state; its passwords are made on the first run."""
        self._ensure_credentials([CONFIG_BROKER_PASSWORD, CONFIG_F5_PASSWORD])
        program = environment_program(inputs)
        on_event = events_for(program.phase_of) if events_for else None
        run_engine("up", functools.partial(self._stack.up, program=program), on_event)

    def destroy(self) -> None:
        run_engine("destroy", self._stack.destroy)

    def _ensure_credentials(self, keys: list[str]) -> None:
        """Generate each environment's secrets once; later runs reuse them from the stack config."""
        existing = self._stack.get_all_config()
        for key in keys:
            if f"envbuilder:{key}" not in existing:
                stacks.set_secret(self._stack, f"envbuilder:{key}", secrets.token_urlsafe(18))


def open_stack(name: str, backend_url: str | None = None) -> EngineStack:
    """The environment's stack, created or selected once no engine of an interrupted run of this machine
    is still writing it (`stop_orphaned_engines` first stops one whose command is gone)."""
    return EngineStack(stacks.select_stack(name, lambda: None, backend_url))
