"""envbuilder uses Pulumi's public names only: no `_`-prefixed module or attribute of pulumi, which may
change in any release without notice (engine/commands.py says where the public interface falls short)."""

import ast
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[2] / "envbuilder"


def private_pulumi_names(source: str) -> list[str]:
    """Each private name of pulumi the source imports or reaches through a name bound to a pulumi module."""

    def private(dotted: str) -> bool:
        return any(part.startswith("_") and not part.endswith("__") for part in dotted.split("."))

    found, bound = [], set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pulumi":
                    found += [alias.name] if private(alias.name) else []
                    bound.add(alias.asname or "pulumi")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pulumi":
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                found += [dotted] if private(dotted) else []
                bound.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bound:
                found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("source", [
    "from pulumi.automation._cmd import PulumiCommand",
    "from pulumi.automation import _local_workspace",
    "import pulumi.automation._stack",
    "from pulumi import automation as auto\nauto._cmd.PulumiCommand",
    "import pulumi\npulumi.runtime._sync_await",
])
def test_a_private_pulumi_name_is_found(source):
    assert private_pulumi_names(source)


def test_public_names_and_envbuilders_own_private_names_are_not():
    assert private_pulumi_names("from pulumi import automation as auto\nauto.PulumiCommand\nauto.__name__\n"
                                "from envbuilder.engine.resources import _ContainerProvider") == []


def test_envbuilder_uses_no_private_pulumi_name():
    found = {str(path.relative_to(SOURCES.parent)): names for path in sorted(SOURCES.rglob("*.py"))
             if (names := private_pulumi_names(path.read_text()))}
    assert found == {}
