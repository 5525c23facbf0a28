"""Running the Pulumi CLI: where the Automation API's public interface falls short, the public CLI.

What the Automation API does not offer, so envbuilder runs the CLI itself (`run_pulumi`):
- its `PulumiCommand.run` reads the CLI's output through pipes, with no way to have it write to
  files instead (why files: `engine_command`); its public class is subclassed with a `run` of ours;
- its `export_stack` passes `--show-secrets`, so it needs the stack's passphrase: another home's
  stack in a shared backend is encrypted with that home's, so its owner is read with
  `pulumi stack export` as stored (`export_as_stored`);
- each of its workspaces first runs `pulumi version`, and a stack is selected (`pulumi stack select`)
  before anything is done with it: `down`, which only reads a stack, has it forget its objects and
  removes it, does each in one CLI call of its own (stacks.StoredStack).
"""

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envbuilder.cluster.commands import CommandResult
from envbuilder.cluster.tools import find_tool
from envbuilder.errors import EnvbuilderError, PrerequisiteError

# How long an interrupted command waits for its engine to save the state and release the lock.
ENGINE_STOP_SECONDS = 90.0


def pulumi_binary() -> Path:
    binary = find_tool("pulumi")
    if binary is None:
        raise PrerequisiteError("the Pulumi CLI is not installed", hint="run `make setup` (or `make toolchain`)")
    return binary


@functools.cache  # the Automation API's command runs `pulumi version` when made: once per process is enough
def engine_command(root: str):
    """The Pulumi CLI for the Automation API, run with its output in files rather than pipes to this process.

    With pipes, an envbuilder killed outright (kill -9, the OOM killer) takes its engine down
    with it: the engine's next write gets SIGPIPE, mid-update, leaving its lock, its plugins
    running as orphans and at times a truncated checkpoint. Writing to files, the engine finds
    its program gone, saves the state, releases the lock and stops its plugins. On Ctrl-C
    (which the engine, in the same process group, gets too) this process waits for that.
    """
    from pulumi import automation as auto
    from pulumi.automation.errors import create_command_error

    class EngineCommand(auto.PulumiCommand):
        def run(self, args: list[str], cwd: str, additional_env: Mapping[str, str], on_output=None,
                on_error=None) -> auto.CommandResult:
            env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
            # The plugins beside the CLI first, as the Automation API's own command runs them.
            env["PATH"] = os.pathsep.join([os.path.dirname(self.command), env.get("PATH", "")])
            ran = run_pulumi(args, cwd, env, self.command)
            for text, callback in ((ran.stdout, on_output), (ran.stderr, on_error)):
                for line in text.splitlines() if callback else []:
                    callback(line)
            result = auto.CommandResult(stdout=ran.stdout, stderr=ran.stderr, code=ran.returncode)
            if ran.returncode != 0:
                raise create_command_error(result)
            return result

    return EngineCommand(root=root)


def run_pulumi(args: list[str], cwd: str, env: Mapping[str, str], binary: str | None = None) -> CommandResult:
    """The Pulumi CLI with its output in files rather than pipes (why: `engine_command`), never interactive.
    On Ctrl-C, which the CLI gets too, it is given ENGINE_STOP_SECONDS to finish and save what it was doing."""
    separator = args.index("--") if "--" in args else len(args)
    if "--non-interactive" not in args[:separator]:
        args = ["--non-interactive", *args]
    command = [binary or str(pulumi_binary()), *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            try:  # the engine got the Ctrl-C as well: let it finish its in-flight steps and save them
                process.wait(timeout=ENGINE_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            raise
        streams = []
        for handle in (out, err):
            handle.seek(0)
            streams.append("\n".join(line.rstrip() for line in handle.read().splitlines()))
    return CommandResult(tuple(command), code, *streams)


def export_as_stored(stack_name: str, work_dir: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The stack's export (its version and deployment) as the backend stores it, its secrets left
    encrypted: no passphrase needed, and what `pulumi stack import` takes back."""
    exported = run_pulumi(["stack", "export", "--stack", stack_name], work_dir, env)
    if not exported.ok:
        raise EnvbuilderError(f"cannot export stack {stack_name}: {exported.stderr.strip()}")
    return json.loads(exported.stdout)
