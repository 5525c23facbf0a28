"""An interrupted run's leftovers: the engine and plugins it left running, the stack's locks, its pending operations.

After kill -9 of envbuilder its engine (the Pulumi CLI) runs on, holding the stack's lock; after
kill -9 of the engine too, the lock names a process that is gone and the stack keeps the
operations that were in flight. Only what is proven abandoned is touched: a local backend's
lock is read for its holder (pid and hostname); an engine is stopped only when the command that
ran it is gone. On a shared backend, which cannot be proven from here, nothing is changed.
"""

import json
import os
import signal
import socket
from pathlib import Path

from envbuilder.engine import commands
from envbuilder.engine.backend import (
    STACK_WORKSPACE_VARIABLE,
    default_backend_url,
    holds_nothing,
    local_backend,
    stack_backend,
    workspace_path,
)
from envbuilder.errors import EnvbuilderError
from envbuilder.polling import wait_for


def recover(stack) -> list[str]:
    """Clear what an interrupted run left (a stale lock, pending operations); returns what was done.

    Only what is proven abandoned is touched: a local backend's lock must name a process of
    this machine that is gone. A lock that may still be held stops the command with an
    error naming the holder; on a shared backend, which cannot be proven from here, nothing
    is cancelled or cleared.
    """
    done = []
    backend = stack_backend(stack)
    if backend is None:
        pending = (stack.export_stack().deployment or {}).get("pending_operations")
        if pending:
            done.append(f"{len(pending)} pending operation(s) in the shared backend left as they are: another "
                        "machine may be running them; the engine reports them if they are in the way")
        return done
    done += release_stale_locks(backend, stack.name)
    if holds_nothing(backend, stack.name):
        return done
    deployment = stack.export_stack()
    pending = (deployment.deployment or {}).get("pending_operations")
    if pending:
        deployment.deployment["pending_operations"] = []
        stack.import_stack(deployment)
        kinds = ", ".join(sorted({operation.get("type", "?") for operation in pending}))
        done.append(f"cleared {len(pending)} pending operation(s) ({kinds}) left by an interrupted run")
    return done


def release_stale_locks(backend: Path, stack_name: str) -> list[str]:
    """Remove the locks of a local backend's stack that name a process of this machine that is gone; returns
    what was done. A lock that may still be held stops the command with an error naming the holder."""
    locks = wait_for_holders(backend, stack_name)
    held = [(lock, holder) for lock in locks if (holder := _holder_if_alive(lock))]
    if held:
        raise EnvbuilderError(
            f"stack {stack_name} is locked by {', '.join(holder for _, holder in held)}, which may still be working on "
            "it; nothing was changed",
            hint="wait for it; if you know it is gone, remove the lock file(s): " + " ".join(str(lock) for lock, _ in held),
        )
    for lock in locks:
        lock.unlink(missing_ok=True)
    return [f"removed a stale lock left by an interrupted run ({len(locks)} file(s))"] if locks else []


def stop_orphaned_engines(name: str, backend_url: str | None = None) -> list[str]:
    """Stop the engine an interrupted run of this machine left working on the stack; returns what was done.

    After kill -9 of envbuilder its engine runs on, though nobody will read its result, and may
    hold the stack for minutes (or, wedged, for ever). It gets what Ctrl-C would have sent (it
    cancels what it waits for, saves the state and lets go); one that has not let go after
    ENGINE_STOP_SECONDS is killed, and `recover` clears what it left. Only an engine whose
    command is proven gone is touched. Then the plugins of runs whose engine is gone
    (stop_orphaned_plugins). Call it holding the environment's lock.
    """
    backend = local_backend(backend_url or default_backend_url())
    if backend is None:
        return stop_orphaned_plugins(name)
    engines = {pid for pid in _live_local_holders(backend, name) if _is_orphaned_engine(pid)}
    done = []
    for pid in sorted(engines):
        if _signal(pid, signal.SIGINT):
            done.append(f"asked the engine an interrupted run left running (pid {pid}) to stop: its command is gone")
    wait_for(lambda: not engines & _live_local_holders(backend, name), timeout=commands.ENGINE_STOP_SECONDS,
             interval=0.5)
    running = engines & _live_local_holders(backend, name)
    for pid in sorted(running):
        # With its plugins and what they run (kind, docker), which would otherwise go on as orphans.
        descendants = _descendants(pid)
        if _signal(pid, signal.SIGKILL):
            killed = sum(_signal(process, signal.SIGKILL) for process in descendants)
            done.append(f"killed that engine (pid {pid}) and {killed} process(es) it had started: "
                        f"it had not stopped {commands.ENGINE_STOP_SECONDS:.0f} s later")
    # SIGKILL is not refused; the process may take a moment to exit.
    wait_for(lambda: not running & _live_local_holders(backend, name), timeout=10, interval=0.1)
    return done + stop_orphaned_plugins(name) + restore_cut_checkpoint(backend, name)


def restore_cut_checkpoint(backend: Path, name: str) -> list[str]:
    """An engine killed while it wrote the stack's checkpoint (kill -9 of the run's process group) leaves
    it cut short, and every Pulumi command then fails (`failed to load checkpoint: EOF`): the backup the
    engine made before writing it, or else the newest checkpoint of the stack's history, takes its place. Killed
    while it wrote the file's attributes (the digest the backend keeps beside it), it leaves those cut short and
    the checkpoint whole: without them, the checkpoint is read as it is."""
    done = []
    for checkpoint in sorted(backend.glob(f".pulumi/stacks/**/{name}.json")):
        if _is_json(checkpoint):
            attributes = Path(f"{checkpoint}.attrs")
            if attributes.is_file() and not _is_json(attributes):
                attributes.unlink()
                done.append("removed the attributes of the stack's checkpoint, cut short by an interrupted run")
            continue
        earlier = [checkpoint.with_name(f"{name}.json.bak"),
                   *sorted(backend.glob(f".pulumi/history/**/{name}/{name}-*.checkpoint.json"), reverse=True)]
        restored = next((path for path in earlier if _is_json(path)), None)
        if restored is None:
            raise EnvbuilderError(f"the checkpoint {checkpoint} of stack {name} is cut short and has no readable backup",
                                  hint=f"envbuilder down {name} cannot read the stack either; remove the file and "
                                       "remove what is left by hand")
        checkpoint.write_bytes(restored.read_bytes())
        # The file backend keeps each file's digest beside it: the restored file's goes with it.
        attributes, restored_attributes = (Path(f"{path}.attrs") for path in (checkpoint, restored))
        if restored_attributes.is_file():
            attributes.write_bytes(restored_attributes.read_bytes())
        else:
            attributes.unlink(missing_ok=True)
        done.append(f"restored the stack's checkpoint, cut short by an interrupted run, from {restored.name}")
    return done


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def stop_orphaned_plugins(name: str) -> list[str]:
    """Kill the plugins (the Kubernetes provider, the dynamic providers' Python) of the stack's runs whose
    engine is gone, with what they started; returns what was done.

    When a whole run is killed at once (kill -9 of its process group), the engine dies without
    stopping its plugins, which run in process groups of their own: they live on as orphans. A
    plugin carries its stack's workspace in its environment (backend.STACK_WORKSPACE_VARIABLE), as
    its engine does; one whose parent does not is left by a run that is gone. Engines are not
    touched here (stop_orphaned_engines judges them). Call it holding the environment's lock, so
    that no run of the stack is going on.
    """
    marker = f"{STACK_WORKSPACE_VARIABLE}={workspace_path(name)}".encode()
    carrying = {pid for pid in _pids() if marker in _environment(pid)}
    orphans = sorted(
        pid for pid in carrying
        if (fields := _stat(pid)) and int(fields[1]) not in carrying and int(fields[1]) != os.getpid()
        and fields[0] != "Z" and not _is_engine(pid)
    )
    if not orphans:
        return []
    stopped = [process for pid in orphans for process in (pid, *_descendants(pid)) if _signal(process, signal.SIGKILL)]
    wait_for(lambda: not any(_alive(pid) for pid in stopped), timeout=10, interval=0.1)
    return [f"killed {len(stopped)} plugin process(es) an interrupted run left running (pid "
            f"{', '.join(map(str, orphans))}): its engine is gone"]


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _environment(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone meanwhile, or another user's
        return []


def _is_engine(pid: int) -> bool:
    """Whether the process is the Pulumi CLI (an engine or a command of it), not one of its plugins."""
    try:
        program = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return Path(program.decode(errors="replace")).name == "pulumi"


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _signal(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False  # gone meanwhile
    except PermissionError:
        return False  # another user's: left to the wait, like any holder
    return True


def wait_for_holders(backend: Path, stack_name: str) -> list[Path]:
    """The stack's lock files, once no live process of this machine holds one, or after ENGINE_STOP_SECONDS.

    The caller holds the environment's own lock, so a live holder is the engine of a command
    that was interrupted, still saving its work: it is waited for."""
    wait_for(lambda: not _live_local_holders(backend, stack_name), timeout=commands.ENGINE_STOP_SECONDS, interval=0.5)
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
