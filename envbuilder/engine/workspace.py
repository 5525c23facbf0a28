"""Selecting an environment's Pulumi stack with the settings every engine run needs.

No Pulumi account: the backend is a local file backend under the state directory unless
`--backend-url` names another. Each stack's secrets are encrypted with a passphrase of its own,
random, kept in a 0600 file of its workspace (which is 0700) and handed to Pulumi as
PULUMI_CONFIG_PASSPHRASE_FILE, never in an environment variable. With locally built tools,
plugin downloads and update checks are off, so a missing piece is an error at once, never a hang.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from envbuilder.cluster.commands import run
from envbuilder.cluster.tools import find_tool, tool_path_env
from envbuilder.errors import EnvbuilderError, PrerequisiteError
from envbuilder.state.home import state_home

PROJECT = "envbuilder"
PASSPHRASE_FILE = "passphrase"
# Every stack's passphrase before each had its own: a stack still encrypted with it is re-encrypted
# with a new passphrase of its own the first time `up` or `down` works on it.
FORMER_SHARED_PASSPHRASE = "envbuilder-local"
_PASSPHRASE_VARIABLES = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


def default_backend_url() -> str:
    directory = state_home() / "pulumi"
    directory.mkdir(parents=True, exist_ok=True)
    return directory.as_uri()


def engine_env(backend_url: str, passphrase_file: Path | None = None) -> dict[str, str]:
    """The environment of every Pulumi command: without the user's own passphrase variables, which
    would take precedence over the stack's passphrase file."""
    env = {key: value for key, value in tool_path_env().items() if key not in _PASSPHRASE_VARIABLES}
    python_bin = str(Path(sys.executable).parent)
    env.update(
        {
            # Dynamic providers run in a Python process of their own: make it this environment's Python.
            "PATH": f"{python_bin}{os.pathsep}{env['PATH']}",
            "ENVBUILDER_PYTHON": sys.executable,
            "PULUMI_BACKEND_URL": backend_url,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
    )
    if passphrase_file is not None:
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file)
    return env


def workspace_path(name: str | None) -> Path:
    """Where a stack's settings live between runs: its config (the generated secrets, encrypted) and
    its passphrase. Removed only once the stack is gone (`remove_stack`, `down`)."""
    return state_home() / "workspaces" / (name or "_project")


def workspace_dir(name: str | None) -> Path:
    directory = workspace_path(name)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def passphrase_path(name: str) -> Path:
    return workspace_path(name) / PASSPHRASE_FILE


def _write_private(path: Path, content: str) -> None:
    """Made 0600 before the content is written, so it is never readable by others, even for a moment."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content)


def forget_workspace(name: str) -> None:
    import shutil

    shutil.rmtree(workspace_path(name), ignore_errors=True)


def _workspace_options(backend_url: str | None, name: str | None = None):
    from pulumi import automation as auto

    pulumi_binary = find_tool("pulumi")
    if pulumi_binary is None:
        raise PrerequisiteError("the Pulumi CLI is not installed", hint="run `make setup` (or `make toolchain`)")
    url = backend_url or default_backend_url()
    workspace = workspace_dir(name)
    # Only a passphrase that exists: Pulumi refuses even to export a stack when the file named is missing.
    passphrase = passphrase_path(name) if name and passphrase_path(name).is_file() else None
    env = engine_env(url, passphrase)
    # The Automation API starts the CLI with this process's environment under `env_vars`: a passphrase
    # variable there would take precedence over the stack's own; the others it also reads from here.
    for variable in _PASSPHRASE_VARIABLES:
        os.environ.pop(variable, None)
    os.environ.update({k: v for k, v in env.items() if k.startswith("PULUMI_") and k not in _PASSPHRASE_VARIABLES})
    return auto.LocalWorkspaceOptions(
        work_dir=str(workspace),
        env_vars=env,
        project_settings=auto.ProjectSettings(name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=url)),
        pulumi_command=_engine_command(str(pulumi_binary.parent.parent)),
    )


# How long an interrupted command waits for its engine to save the state and release the lock.
ENGINE_STOP_SECONDS = 90.0


def _engine_command(root: str):
    """The Pulumi CLI, run with its output in files rather than pipes to this process.

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
            separator = args.index("--") if "--" in args else len(args)
            if "--non-interactive" not in args[:separator]:
                args.insert(0, "--non-interactive")
            env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
            # The plugins beside the CLI first, as the Automation API's own command runs them.
            env["PATH"] = os.pathsep.join([os.path.dirname(self.command), env.get("PATH", "")])
            with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
                process = subprocess.Popen([self.command, *args], stdout=out, stderr=err, cwd=cwd, env=env,
                                           stdin=subprocess.DEVNULL)
                try:
                    code = process.wait()
                except KeyboardInterrupt:
                    try:  # the engine got the Ctrl-C as well: let it finish its in-flight steps and save them
                        process.wait(timeout=ENGINE_STOP_SECONDS)
                    except subprocess.TimeoutExpired:
                        pass
                    raise
                streams = []
                for handle, callback in ((out, on_output), (err, on_error)):
                    handle.seek(0)
                    lines = handle.read().splitlines()
                    for line in lines if callback else []:
                        callback(line.rstrip())
                    streams.append("\n".join(line.rstrip() for line in lines))
            result = auto.CommandResult(stdout=streams[0], stderr=streams[1], code=code)
            if code != 0:
                raise create_command_error(result)
            return result

    return EngineCommand(root=root)


def select_stack(name: str, program: Callable[[], None], backend_url: str | None = None):
    """Create or select the stack named after the environment, once no engine of an interrupted run
    of this machine is still writing it; a new stack gets a passphrase of its own.

    An existing stack without a passphrase file here is another home's (shared backend) or was made
    before stacks had their own: `own_passphrase` tells them apart where this home acts on it.
    """
    from pulumi import automation as auto

    url = backend_url or default_backend_url()
    if url.startswith("file://"):
        _wait_for_holders(Path(url.removeprefix("file://")), name)
    if not passphrase_path(name).is_file() and not stack_exists(name, backend_url):
        workspace_dir(name)
        _write_private(passphrase_path(name), secrets.token_urlsafe(32))
    options = _workspace_options(backend_url, name)
    return auto.create_or_select_stack(stack_name=name, project_name=PROJECT, program=program, opts=options)


def own_passphrase(stack) -> str | None:
    """Give a stack made with the former shared passphrase one of its own (once); says so when it did.

    The new passphrase is written (0600) before the stack is re-encrypted with it and kept as
    `passphrase.new` until that succeeded, so an interruption loses neither: the next run tries
    the new one first. A stack that neither opens is left as it is, with an error saying why.
    """
    target = passphrase_path(stack.name)
    if target.is_file():
        return None
    pending = target.with_name(f"{PASSPHRASE_FILE}.new")
    formers = [FORMER_SHARED_PASSPHRASE]
    if pending.is_file():
        formers.insert(0, pending.read_text())  # an interrupted run may have re-encrypted it already
    else:
        _write_private(pending, secrets.token_urlsafe(32))
    new = pending.read_text()
    env = engine_env(stack.workspace.env_vars["PULUMI_BACKEND_URL"])
    command = [str(find_tool("pulumi")), "stack", "change-secrets-provider", "passphrase", "--stack", stack.name,
               "--non-interactive", "--cwd", stack.workspace.work_dir]
    for former in formers:
        # The former passphrase opens the stack; the new one comes on stdin.
        if run(command, input=new, env={**env, "PULUMI_CONFIG_PASSPHRASE": former}, timeout=120).ok:
            pending.rename(target)
            stack.workspace.env_vars["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(target)
            backend_url = env["PULUMI_BACKEND_URL"]
            if backend_url.startswith("file://"):
                _remove_copies_under_the_former_passphrase(Path(backend_url.removeprefix("file://")), stack.name)
            return ("the stack's secrets were encrypted with the passphrase every envbuilder stack once shared; "
                    f"they are now encrypted with a passphrase of its own ({target})")
    raise EnvbuilderError(
        f"stack {stack.name} has no passphrase in {target.parent}, and envbuilder's former shared passphrase does "
        "not open it: it is another envbuilder home's, or its workspace was removed; nothing was changed",
        hint=f"if it is this home's and you know its passphrase, write it to {target} (mode 0600)",
    )


def workspace(backend_url: str | None = None):
    """The envbuilder project's workspace, for listing and removing stacks."""
    from pulumi import automation as auto

    options = _workspace_options(backend_url)
    return auto.LocalWorkspace(
        work_dir=options.work_dir, env_vars=options.env_vars, project_settings=options.project_settings,
        pulumi_command=options.pulumi_command,
    )


def _remove_copies_under_the_former_passphrase(backend: Path, name: str) -> None:
    """A local backend keeps former checkpoints of a stack (history, backups, `.bak`): encrypted with
    the passphrase every stack once shared, they would still give the passwords away."""
    import shutil

    state = backend / ".pulumi"
    for directory in (state / "history" / PROJECT / name, state / "backups" / PROJECT / name):
        shutil.rmtree(directory, ignore_errors=True)
    for copy in (state / "stacks" / PROJECT).glob(f"{name}.json.bak*"):
        copy.unlink()


def stack_exists(name: str, backend_url: str | None = None) -> bool:
    """Whether the backend holds a stack for `name`, without creating one (nor this home's backend)."""
    if backend_url is None and not (state_home() / "pulumi" / ".pulumi").is_dir():
        return False  # no stack was ever made here: listing would create the backend
    return any(summary.name == name for summary in workspace(backend_url).list_stacks())


def remove_stack(name: str, backend_url: str | None = None) -> None:
    # force: also when resources are left in it (a stack whose cluster is already gone).
    workspace(backend_url).remove_stack(name, force=True)
    forget_workspace(name)


KIND_CLUSTER_RESOURCE = "cluster"  # the KindCluster's resource name in the program
OWNER_OUTPUT = "owner"  # the stack output naming the home that owns the environment
STACK_TYPE = "pulumi:pulumi:Stack"


def stack_owner(name: str, backend_url: str | None) -> str | None:
    """The owner a stack names in its outputs; None when there is no such stack or it names none
    (a run interrupted before its first update finished)."""
    if not stack_exists(name, backend_url):
        return None
    # From the state exported as it is stored (secrets left encrypted: the Automation API's export decrypts
    # them), so that no passphrase is needed: another home's stack is encrypted with its own.
    workspace = select_stack(name, lambda: None, backend_url).workspace
    exported = run([str(find_tool("pulumi")), "stack", "export", "--stack", name, "--cwd", workspace.work_dir],
                   env=workspace.env_vars, timeout=120)
    if not exported.ok:
        raise EnvbuilderError(f"cannot read the owner of stack {name}: {exported.stderr.strip()}")
    deployment = json.loads(exported.stdout).get("deployment") or {}
    stacks = [resource for resource in deployment.get("resources", []) if resource.get("type") == STACK_TYPE]
    output = (stacks[0].get("outputs") or {}).get(OWNER_OUTPUT) if stacks else None
    return str(output) if output is not None else None


def kind_clusters_in(stack, *, pending_only: bool = False) -> set[str]:
    """The kind clusters the stack created or was creating when interrupted (`pending_only`: only the
    latter): this home's beyond doubt."""
    deployment = stack.export_stack().deployment or {}
    pending = [operation.get("resource", {}) for operation in deployment.get("pending_operations", [])
               if operation.get("type") == "creating"]
    resources = pending if pending_only else [*deployment.get("resources", []), *pending]
    return {
        name
        for resource in resources
        if resource.get("urn", "").endswith(f"::{KIND_CLUSTER_RESOURCE}")
        for name in [(resource.get("outputs") or {}).get("name") or (resource.get("inputs") or {}).get("name")]
        if name
    }


def recover(stack) -> list[str]:
    """Clear what an interrupted run left (a stale lock, pending operations); returns what was done.

    Only what is proven abandoned is touched: a local backend's lock must name a process of
    this machine that is gone. A lock that may still be held stops the command with an
    error naming the holder; on a shared backend, which cannot be proven from here, nothing
    is cancelled or cleared.
    """
    done = []
    backend_url = stack.workspace.env_vars.get("PULUMI_BACKEND_URL", "")
    if not backend_url.startswith("file://"):
        pending = (stack.export_stack().deployment or {}).get("pending_operations")
        if pending:
            done.append(f"{len(pending)} pending operation(s) in the shared backend left as they are: another "
                        "machine may be running them; the engine reports them if they are in the way")
        return done
    locks = _wait_for_holders(Path(backend_url.removeprefix("file://")), stack.name)
    held = [(lock, holder) for lock in locks if (holder := _holder_if_alive(lock))]
    if held:
        raise EnvbuilderError(
            f"stack {stack.name} is locked by {', '.join(holder for _, holder in held)}, which may still be working on it; "
            "nothing was changed",
            hint="wait for it; if you know it is gone, remove the lock file(s): " + " ".join(str(lock) for lock, _ in held),
        )
    for lock in locks:
        lock.unlink(missing_ok=True)
    if locks:
        done.append(f"removed a stale lock left by an interrupted run ({len(locks)} file(s))")
    deployment = stack.export_stack()
    pending = (deployment.deployment or {}).get("pending_operations")
    if pending:
        deployment.deployment["pending_operations"] = []
        stack.import_stack(deployment)
        kinds = ", ".join(sorted({operation.get("type", "?") for operation in pending}))
        done.append(f"cleared {len(pending)} pending operation(s) ({kinds}) left by an interrupted run")
    return done


def stop_orphaned_engines(name: str, backend_url: str | None = None) -> list[str]:
    """Stop the engine an interrupted run of this machine left working on the stack; returns what was done.

    After kill -9 of envbuilder its engine runs on, though nobody will read its result, and may
    hold the stack for minutes (or, wedged, for ever). It gets what Ctrl-C would have sent (it
    cancels what it waits for, saves the state and lets go); one that has not let go after
    ENGINE_STOP_SECONDS is killed, and `recover` clears what it left. Only an engine whose
    command is proven gone is touched. Call it holding the environment's lock.
    """
    url = backend_url or default_backend_url()
    if not url.startswith("file://"):
        return []
    backend = Path(url.removeprefix("file://"))
    engines = {pid for pid in _live_local_holders(backend, name) if _is_orphaned_engine(pid)}
    done = []
    for pid in sorted(engines):
        if _signal(pid, signal.SIGINT):
            done.append(f"asked the engine an interrupted run left running (pid {pid}) to stop: its command is gone")
    deadline = time.monotonic() + ENGINE_STOP_SECONDS
    while (running := engines & _live_local_holders(backend, name)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in sorted(running):
        # With its plugins and what they run (kind, docker), which would otherwise go on as orphans.
        descendants = _descendants(pid)
        if _signal(pid, signal.SIGKILL):
            killed = sum(_signal(process, signal.SIGKILL) for process in descendants)
            done.append(f"killed that engine (pid {pid}) and {killed} process(es) it had started: "
                        f"it had not stopped {ENGINE_STOP_SECONDS:.0f} s later")
    gone_by = time.monotonic() + 10  # SIGKILL is not refused; the process may take a moment to exit
    while running and (running := running & _live_local_holders(backend, name)) and time.monotonic() < gone_by:
        time.sleep(0.1)
    return done


def _signal(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False  # gone meanwhile
    except PermissionError:
        return False  # another user's: left to the wait, like any holder
    return True


def _wait_for_holders(backend: Path, stack_name: str) -> list[Path]:
    """The stack's lock files, once no live process of this machine holds one, or after ENGINE_STOP_SECONDS.

    The caller holds the environment's own lock, so a live holder is the engine of a command
    that was interrupted, still saving its work: it is waited for."""
    deadline = time.monotonic() + ENGINE_STOP_SECONDS
    while _live_local_holders(backend, stack_name) and time.monotonic() <= deadline:
        time.sleep(0.5)
    return _locks(backend, stack_name)


def _locks(backend: Path, stack_name: str) -> list[Path]:
    return sorted(backend.glob(f".pulumi/locks/**/{stack_name}/*.json"))


def _live_local_holders(backend: Path, stack_name: str) -> set[int]:
    """The processes of this machine that hold a lock of the stack and are alive."""
    holders = [_lock_holder(lock) for lock in _locks(backend, stack_name) if _holder_if_alive(lock)]
    return {pid for pid, hostname in filter(None, holders) if hostname == socket.gethostname()}


def _is_orphaned_engine(pid: int) -> bool:
    """Whether the process is an engine running an inline program whose host is gone: the Automation
    API starts it with `--client=ADDRESS`, where the envbuilder command that ran it listens."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    client = next((arg.removeprefix("--client=") for arg in args if arg.startswith("--client=")), None)
    if client is None or ":" not in client:
        return False
    host, port = client.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):
        pass  # not provably gone
    return False


def _lock_holder(lock: Path) -> tuple[int, str] | None:
    """The pid and hostname a local backend's lock file names; None when it cannot be read."""
    try:
        content = json.loads(lock.read_text())
        return int(content["pid"]), str(content["hostname"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _holder_if_alive(lock: Path) -> str | None:
    """Who holds a local backend's lock, unless the lock proves its process is gone (then None)."""
    if (holder := _lock_holder(lock)) is None:
        return f"an unreadable lock ({lock.name})"
    pid, hostname = holder
    if hostname != socket.gethostname():
        return f"pid {pid} on {hostname}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    if _is_zombie(pid):  # killed, and not yet reaped by an init that may never reap it (containers)
        return None
    return f"pid {pid} on this machine"


def _is_zombie(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] == "Z"


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    parents = [pid]
    while parents:
        offspring = children.get(parents.pop(), [])
        found += offspring
        parents += offspring
    return found


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat that follow the command name: state, parent pid, ..."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces.
    return stat.rsplit(")", 1)[-1].split()
