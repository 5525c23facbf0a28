"""The everyday commands stay light: they load none of the components' servers (aiohttp,
cryptography) nor the engine (Pulumi); envbuilder reads only the components' contracts."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envbuilder.state.records import save_record
from tests.cli.test_cli import make_record

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("aiohttp", "cryptography", "pulumi")

# Runs the typer app in a fresh interpreter, then prints the top-level modules it loaded.
PROBE = """
import json, sys
from envbuilder.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted({name.partition(".")[0] for name in sys.modules})}))
"""


def loaded_modules(*arguments: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["code"] in (0, None), result.stdout + result.stderr
    return set(outcome["modules"])


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["render", "--services", "web,worker", "--name", "dev", "--out", "{out}"],
        ["list", "--json"],
        ["status", "dev", "--json"],
        ["services", "--json"],
    ],
    ids=["help", "render", "list", "status", "services"],
)
def test_everyday_commands_load_no_server_crypto_or_engine(arguments, tmp_path):
    save_record(make_record("dev"))
    arguments = [argument.format(out=tmp_path / "out") for argument in arguments]

    loaded = loaded_modules(*arguments)

    assert "envbuilder" in loaded and loaded & set(HEAVY) == set()


def test_the_component_contracts_use_the_standard_library_alone():
    probe = ("import json, sys; before = set(sys.modules); import f5mock.contract, f5sync.contract; "
             "print(json.dumps(sorted(set(sys.modules) - before)))")
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", probe], text=True, timeout=60))

    assert {"f5mock.contract", "f5sync.contract"} <= set(loaded)
    assert {name.partition(".")[0] for name in loaded} - sys.stdlib_module_names == {"f5mock", "f5sync"}
