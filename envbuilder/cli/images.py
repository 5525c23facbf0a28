"""`envbuilder images`: build images of a precise revision; make the local base and broker images; remove the
images no environment runs."""

from typing import Annotated

import typer

from envbuilder.cli.app import app
from envbuilder.cli.exit_codes import exit_codes
from envbuilder.cli.console import console, err_console

images_app = typer.Typer(help="Container images built from a precise git revision.", no_args_is_help=True)
app.add_typer(images_app, name="images")


def _progress(message: str) -> None:
    err_console.print(f"[dim]{message}[/]", highlight=False)


@images_app.command("build", epilog=exit_codes("images build"))
def build(
    names: Annotated[
        list[str] | None, typer.Argument(help="Services and components to build (default: all of that revision).")
    ] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", "-r", help="Commit, branch or tag. Default: the working tree.")
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base-image",
            help="BASE_IMAGE for the Dockerfiles. Default: $ENVBUILDER_BASE_IMAGE, else python:3.11-slim "
            "when docker has it or a registry is reachable, else envbuilder/base:bookworm.",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Rebuild every layer even when the tag exists, and download the wheels again (e.g. after a base update).",
        ),
    ] = False,
) -> None:
    """Build envbuilder/<name>:<tag> for the catalog's services and envbuilder's components; the tag is the
    commit, or for inputs changed in the working tree the commit and a digest of the changes."""
    from rich.table import Table

    from envbuilder.images.build import build_images, resolve_base_image
    from envbuilder.images.revision import current_revision, resolve_revision
    from envbuilder.state.home import project_root

    repo = project_root()
    chosen = resolve_revision(repo, revision) if revision else current_revision(repo)
    base = resolve_base_image(base_image, progress=_progress)
    _progress(f"revision {chosen.name}, base image {base}")
    table = Table("image", "status", box=None)
    for image in build_images(repo, chosen, names or [], lambda: base, progress=_progress, no_cache=no_cache):
        table.add_row(image.tag, f"built in {image.seconds:.1f} s" if image.built else "present")
    console.print(table)


@images_app.command("base", epilog=exit_codes("images base"))
def base() -> None:
    """Make the local base image envbuilder/base:bookworm from Debian packages (no registry needed)."""
    from envbuilder.images.base import ensure_base_image

    console.print(ensure_base_image(progress=_progress))


@images_app.command("broker", epilog=exit_codes("images broker"))
def broker() -> None:
    """Make the local broker image envbuilder/broker:<version>-bookworm from Debian packages (no registry needed)."""
    from envbuilder.images.broker import ensure_broker_image

    console.print(ensure_broker_image(progress=_progress))


@images_app.command("prune", epilog=exit_codes("images prune"))
def prune() -> None:
    """Remove the images this home built that none of its environments runs, except those the working tree builds
    now (the next `up` runs them). Other homes' images, and images a container uses, stay."""
    from envbuilder.images.build import image_references
    from envbuilder.images.revision import current_revision
    from envbuilder.pipeline.images import prune_images
    from envbuilder.state.home import project_root

    repo = project_root()
    removed = prune_images(image_references(repo, current_revision(repo)).values())
    for image in removed:
        console.print(f"removed {image}")
    if not removed:
        console.print("nothing to remove: every image this home built is run by an environment or is the working tree's")
