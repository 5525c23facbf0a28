"""Commands on environments: up, down, list, status, services, render, scale."""

import json
from pathlib import Path
from typing import Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.cli.exit_codes import exit_codes
from envbuilder.cli.console import console, err_console
from envbuilder.errors import InputError
from envbuilder.spec.profile import PodNetwork

ServicesOption = Annotated[
    str, typer.Option("--services", "-s", help="Comma-separated catalog services, e.g. web,worker.")
]
NameOption = Annotated[
    str | None,
    typer.Option("--name", "-n", help="Environment name (a DNS label). Default: <user>-<git branch>."),
]
ProfileOption = Annotated[str, typer.Option("--profile", "-p", help="Profile from stacks/: default, nightly, ...")]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="Override a service's config: SERVICE.KEY=VALUE (repeatable).")
]
RevisionOption = Annotated[
    str | None, typer.Option("--revision", "-r", help="Git commit whose images to run. Default: the working tree.")
]
TargetOption = Annotated[
    str, typer.Option("--target", help="kind: a new local cluster; existing: a namespace in --kube-context.")
]
KubeContextOption = Annotated[
    str | None, typer.Option("--kube-context", help="kubeconfig context for --target existing.")
]
NodeImageOption = Annotated[
    str | None,
    typer.Option("--node-image", help="kind node image. Default: the profile's, else `make node-image`'s when built, "
                 "else kind's published image for the profile's Kubernetes version."),
]
PodNetworkOption = Annotated[
    PodNetwork | None,
    typer.Option("--pod-network", help="kind's pod network: calico (as production) or kube-router. Default: Calico "
                 "where its pinned manifest and images can be had (a container registry answers), else kube-router, "
                 "which the node image `make node-image` builds brings. An environment keeps the one it was made with."),
]
BACKEND_SCHEMES = ("file://", "s3://", "gs://", "azblob://", "https://", "http://")


def _backend_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(BACKEND_SCHEMES):
        raise typer.BadParameter(f"{value!r} is not a Pulumi backend URL; it starts with one of: "
                                 f"{', '.join(BACKEND_SCHEMES)}")
    return value


BackendOption = Annotated[
    str | None, typer.Option("--backend-url", callback=_backend_url,
                             help="Pulumi backend (file://, s3://, gs://, azblob://, https://). "
                                  "Default: a local file backend in ~/.envbuilder."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _split(services: str) -> list[str]:
    return [name.strip() for name in services.split(",") if name.strip()]


@app.command(epilog=exit_codes("services"))
def services(as_json: JsonOption = False) -> None:
    """List the service catalog (stacks/services/)."""
    from rich.table import Table

    from envbuilder.spec.catalog import load_catalog
    from envbuilder.state.home import stacks_dir

    catalog = load_catalog(stacks_dir() / "services")
    if as_json:
        console.print_json(json.dumps([entry.model_dump(mode="json") for entry in catalog.entries.values()]))
        return
    table = Table("service", "runtime", "port", "replicas", "broker", "F5 VIP", "description", box=None)
    for entry in catalog.entries.values():
        vip = f":{entry.expose.vip_port} ({entry.expose.mode})" if entry.expose else "-"
        replicas = f"{entry.replicas.default} ({entry.replicas.min}-{entry.replicas.max})"
        table.add_row(entry.name, entry.runtime, str(entry.port), replicas, "yes" if entry.needs_broker else "-", vip, entry.description)
    console.print(table)


@app.command(epilog=exit_codes("render"))
def render(
    services: ServicesOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the YAML into.")],
    name: NameOption = None,
    profile: ProfileOption = "default",
    set_: SetOption = None,
    revision: RevisionOption = None,
    target: TargetOption = "kind",
    node_image: NodeImageOption = None,
    pod_network: PodNetworkOption = None,
) -> None:
    """Write everything the environment will hold as YAML, without a cluster or Pulumi: on the kind target
    with the pod network `up` would choose and its objects (Docker reads the node image's own)."""
    from envbuilder.pipeline.request import EnvironmentRequest
    from envbuilder.pipeline.render import render_to_directory

    request = EnvironmentRequest(
        services=_split(services), name=name, profile=profile, overrides=set_ or [], revision=revision, target=target,
        node_image=node_image, pod_network=pod_network,
    )
    written = render_to_directory(request.resolve(), out)
    err_console.print(f"wrote {len(written)} files to {out}")


@app.command(epilog=exit_codes("up"))
def up(
    services: ServicesOption,
    name: NameOption = None,
    profile: ProfileOption = "default",
    set_: SetOption = None,
    revision: RevisionOption = None,
    target: TargetOption = "kind",
    kube_context: KubeContextOption = None,
    ttl: Annotated[str | None, typer.Option("--ttl", help="Time to live, e.g. 8h (default: the profile's).")] = None,
    node_image: NodeImageOption = None,
    pod_network: PodNetworkOption = None,
    backend_url: BackendOption = None,
    smoke: Annotated[bool, typer.Option("--smoke/--no-smoke", help="Run the smoke checks after up.")] = True,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Run the engine even when nothing changed since the last up.")] = False,
    full_smoke: Annotated[bool, typer.Option(
        "--full-smoke", help="When nothing changed, run every smoke check, not only the liveness subset.")] = False,
) -> None:
    """Stand up an environment (or bring an existing one up to date).

    When nothing changed since its last successful up (services, images, profile, overrides, ports,
    node image) and it answers its liveness checks, up runs no engine and returns in a second or two."""
    from envbuilder.pipeline.request import EnvironmentRequest
    from envbuilder.pipeline.up import up as run_up

    request = EnvironmentRequest(
        services=_split(services), name=name, profile=profile, overrides=set_ or [], revision=revision,
        target=target, kube_context=kube_context, ttl=ttl, node_image=node_image, pod_network=pod_network,
        backend_url=backend_url,
    )
    run_up(request, smoke=smoke, refresh=refresh, full_smoke=full_smoke)


@app.command(epilog=exit_codes("down"))
def down(
    name: Annotated[str | None, typer.Argument(help="Environment to remove. Default: <user>-<git branch>.")] = None,
    backend_url: BackendOption = None,
) -> None:
    """Remove an environment and every trace of it, then prove nothing is left."""
    from envbuilder.pipeline.down import down as run_down
    from envbuilder.spec.names import default_name, validate_name

    run_down(validate_name(name) if name else default_name(), backend_url=backend_url)


@app.command("list", epilog=exit_codes("list"))
def list_environments(as_json: JsonOption = False) -> None:
    """List environments on this machine with their age and time left."""
    from rich.table import Table

    from envbuilder.pipeline.views import environment_summary, unreadable_summary
    from envbuilder.state.records import read_records

    records, unreadable = read_records()
    summaries = [environment_summary(record) for record in records]
    if as_json:
        console.print_json(json.dumps(summaries + [unreadable_summary(error) for error in unreadable]))
        return
    for error in unreadable:
        err_console.print(f"[red]unreadable record[/] {error.path}: {error.reason}", highlight=False)
    if not summaries:
        err_console.print("no environments; create one with: envbuilder up --services web,worker")
        return
    table = Table("name", "status", "target", "services", "revision", "age", "time left", "owner", box=None)
    for s in summaries:
        left = s["time_left"] if not s["expired"] else "[red]expired[/]"
        table.add_row(s["name"], s["status"], s["target"], ",".join(s["services"]), s["revision"], s["age"], left, s["owner"])
    console.print(table)


@app.command(epilog=exit_codes("status"))
def status(name: Annotated[str | None, typer.Argument(help="Environment. Default: <user>-<git branch>.")] = None, as_json: JsonOption = False) -> None:
    """Show an environment: services, images, ports, F5 and broker addresses, phases; and which of its
    images differ from what the working tree would build now."""
    from envbuilder.cluster.tools import DRIVEN_TOOLS, choose_tool
    from envbuilder.pipeline.views import environment_details, images_behind_the_tree
    from envbuilder.spec.environment import image_tag
    from envbuilder.spec.names import default_name, validate_name
    from envbuilder.state.records import load_record

    record = load_record(validate_name(name) if name else default_name())
    details = environment_details(record)
    behind = images_behind_the_tree(record.images) if record.images else None
    details["not_the_working_tree"] = behind
    details["tools"] = {tool: choose_tool(tool).shown() for tool in DRIVEN_TOOLS}  # what the next command drives
    if as_json:
        console.print_json(json.dumps(details))
        return
    for key, value in details.items():
        if key in ("not_the_working_tree", "live_changes"):
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value)
        console.print(f"[bold]{key}[/]: {value}", highlight=False)
    if record.live_changes:
        files = "; ".join(f"{service}: {', '.join(paths)}" for service, paths in record.live_changes.items())
        console.print(f"[yellow]live changes not in an image[/] (envbuilder dev): {files}; the next "
                      f"`envbuilder up --name {record.name}` starts those services from their images", highlight=False)
    if behind:
        changed = ", ".join(
            f"{image} (running {image_tag(tags['running'])}, tree {image_tag(tags['tree']) if tags['tree'] else 'none'})"
            for image, tags in behind.items()
        )
        console.print(f"[yellow]not the working tree's:[/] {changed}; deploy them with: "
                      f"envbuilder up --name {record.name} --services {','.join(record.services)}", highlight=False)
    elif behind == {}:
        console.print("[bold]working tree[/]: every image is the tree's", highlight=False)


@app.command(epilog=exit_codes("scale"))
def scale(
    name: Annotated[str, typer.Argument(help="Environment to change.")],
    replicas: Annotated[list[str], typer.Argument(help="SERVICE=REPLICAS, e.g. web=3.")],
    backend_url: BackendOption = None,
) -> None:
    """Change replica counts within the catalog's bounds (the F5 follows through f5-sync)."""
    from envbuilder.pipeline.up import scale as run_scale
    from envbuilder.spec.environment import parse_replicas
    from envbuilder.spec.names import validate_name

    if not replicas:
        raise InputError("give at least one SERVICE=REPLICAS")
    run_scale(validate_name(name), parse_replicas(replicas), backend_url=backend_url)


@app.command(epilog=exit_codes("verify"))
def verify(
    services: ServicesOption,
    profile: ProfileOption = "nightly",
    report_dir: Annotated[Path, typer.Option("--report-dir", help="Where the JUnit, JSON and HTML reports go.")] = Path("reports"),
    name: NameOption = None,
    set_: SetOption = None,
    revision: RevisionOption = None,
    target: TargetOption = "kind",
    kube_context: KubeContextOption = None,
    node_image: NodeImageOption = None,
    pod_network: PodNetworkOption = None,
    backend_url: BackendOption = None,
) -> None:
    """Up, smoke, down in one command, with reports; down always runs. Exit 0 only when all passed."""
    from envbuilder.errors import EnvbuilderError
    from envbuilder.pipeline.request import EnvironmentRequest
    from envbuilder.pipeline.verify import verify as run_verify

    request = EnvironmentRequest(
        services=_split(services), name=name, profile=profile, overrides=set_ or [], revision=revision,
        target=target, kube_context=kube_context, node_image=node_image, pod_network=pod_network,
        backend_url=backend_url,
    )
    run = run_verify(request, report_dir)
    failed = [check.name for check in run.checks if check.failed]
    if failed:
        raise EnvbuilderError(f"verify failed: {', '.join(failed)}; reports in {report_dir}")
    err_console.print(f"[green]verify passed[/]: {len(run.checks)} checks; reports in {report_dir}")


@app.command(epilog=exit_codes("reap"))
def reap(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    backend_url: BackendOption = None,
) -> None:
    """Remove this home's expired environments and orphans; other homes' objects are left alone."""
    from envbuilder.pipeline.reap import reap as run_reap

    plan = run_reap(backend_url=backend_url, dry_run=dry_run)
    for line in plan.left_alone:
        err_console.print(f"[yellow]{line}[/]")
    if plan.empty:
        err_console.print("nothing to reap")
        return
    verb = "would remove" if dry_run else "removed"
    for name in plan.expired:
        console.print(f"{verb} expired environment {name}")
    for name in plan.orphans:
        console.print(f"{verb} orphaned traces of {name}")
