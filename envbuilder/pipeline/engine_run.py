"""Running the engine for an environment and turning its failures into messages people can act on."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from envbuilder.engine.urns import Urn
from envbuilder.engine.workspace import STACK_TYPE
from envbuilder.errors import EnvbuilderError

if TYPE_CHECKING:
    from pulumi.automation import EngineEvent

# A dynamic provider's diagnostic is its whole Python traceback; the last lines hold the reason.
MAX_LINES_PER_DIAGNOSTIC = 12


@dataclass
class FailedResource:
    urn: str
    diagnostics: list[str] = field(default_factory=list)

    @property
    def type(self) -> str:
        return Urn.parse(self.urn).type

    @property
    def name(self) -> str:
        return Urn.parse(self.urn).name

    def describe(self) -> str:
        lines = [f"{self.type} {self.name!r} ({self.urn})"]
        for diagnostic in self.diagnostics or ["(the engine gave no reason)"]:
            lines += [f"    {line}" for line in diagnostic.splitlines()[-MAX_LINES_PER_DIAGNOSTIC:]]
        return "\n".join(lines)


class EngineFailures:
    """What the engine's events say failed: each resource whose step failed, and the errors it reported."""

    def __init__(self) -> None:
        self._by_urn: dict[str, FailedResource] = {}

    def record(self, event: "EngineEvent") -> None:
        diagnostic = event.diagnostic_event
        if diagnostic is not None and diagnostic.severity == "error" and diagnostic.urn:
            self._resource(diagnostic.urn).diagnostics.append(diagnostic.message.strip())
        if event.res_op_failed_event is not None:
            self._resource(event.res_op_failed_event.metadata.urn)

    def _resource(self, urn: str) -> FailedResource:
        return self._by_urn.setdefault(urn, FailedResource(urn))

    def error(self, operation: str, error: Exception) -> EnvbuilderError:
        resources = [failed for failed in self._by_urn.values() if failed.type != STACK_TYPE]
        # The stack's own errors matter when no resource failed: the program raised, or a plugin is missing.
        failed = resources or list(self._by_urn.values())
        if not failed:
            return EnvbuilderError(f"pulumi {operation} failed before the engine reported anything:\n{error}")
        count = f"{len(resources)} resource(s) failed" if resources else "the stack failed"
        return EnvbuilderError(
            f"pulumi {operation} failed: {count}\n" + "\n".join(f"  {resource.describe()}" for resource in failed)
        )


def run_engine(
    operation: str, run: Callable[..., object], on_event: Callable[["EngineEvent"], None] | None = None
) -> None:
    """`run` (a stack's `up` or `destroy`) with its failure told from the engine's events, not its text output."""
    failures = EngineFailures()

    def each_event(event: "EngineEvent") -> None:
        failures.record(event)
        if on_event is not None:
            on_event(event)

    try:
        run(on_event=each_event, color="never", on_output=lambda _line: None)
    except Exception as error:  # the Automation API raises CommandError subclasses
        raise failures.error(operation, error) from None


def ensure_credentials(stack, keys: list[str]) -> None:
    """Generate each environment's secrets once; later runs reuse them from the stack config."""
    existing = stack.get_all_config()
    for key in keys:
        if f"envbuilder:{key}" not in existing:
            _set_secret_config(stack, f"envbuilder:{key}", secrets.token_urlsafe(18))


def _set_secret_config(stack, key: str, value: str) -> None:
    """`pulumi config set --secret` with the value on stdin: the Automation API's set_config puts it on
    the command line, where any local user reads it (ps, /proc/<pid>/cmdline)."""
    from envbuilder.cluster.commands import check, run
    from envbuilder.cluster.tools import find_tool

    workspace = stack.workspace
    command = [str(find_tool("pulumi")), "config", "set", "--secret", "--stack", stack.name, "--non-interactive",
               "--cwd", workspace.work_dir, key]
    check(run(command, input=value, env=workspace.env_vars, timeout=120), f"storing the generated {key} in the stack")
