"""The layers of docs/architecture.md hold: every import points down them (import-linter, with the
contracts in pyproject.toml), and the doc's layer table names the contract's layers in its order."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_import_points_down_the_layers_and_independent_modules_stay_apart():
    # In a process of its own: run in this one, import-linter leaves logging changed for later tests.
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr  # each import that breaks a contract, with its line


def contract_layers() -> list[list[str]]:
    """Each layer of the contract, top first, as the doc names its modules: `engine/`, `naming.py`."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(contract["layers"] for contract in contracts if contract["type"] == "layers")
    named = []
    for layer in layers:
        modules = [module.strip().removeprefix("envbuilder.") for module in re.split(r"[|:]", layer)]
        named.append([f"{m}/" if (ROOT / "envbuilder" / m).is_dir() else f"{m}.py" for m in modules])
    return named


def doc_layers() -> list[list[str]]:
    """The first column of the table under `## Layers` in docs/architecture.md, row by row."""
    section = (ROOT / "docs" / "architecture.md").read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.findall(r"`([^`]+)`", row.split("|")[1]) for row in rows]


def test_the_architecture_docs_layer_table_is_the_contracts():
    assert doc_layers() == contract_layers()
