"""End-to-end check of the built engine toolchain (docs/toolchain.md).

Starts the test control plane (tests/support/controlplane.py), then runs an
inline Pulumi Automation API program that creates a ConfigMap through the
pulumi-resource-kubernetes plugin and a pulumi.dynamic resource, with a local
file backend and automatic plugin downloads disabled; up, then destroy.

    python tools/toolchain/smoke.py        # in a venv with pulumi + pulumi-kubernetes

Exit 0 on success. Uses .tools/bin first on PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.controlplane import ControlPlane, tools_bin  # noqa: E402


def main() -> int:
    made: list[str] = []
    try:
        return _main(made)
    finally:
        for d in made:
            shutil.rmtree(d, ignore_errors=True)


def _main(made: list[str]) -> int:
    os.environ["PATH"] = f"{tools_bin()}{os.pathsep}{os.environ['PATH']}"
    os.environ.setdefault("ENVBUILDER_PYTHON", sys.executable)
    state = tempfile.mkdtemp(prefix="envbuilder-smoke-state-")
    made.append(state)
    if not os.environ.get("PULUMI_HOME"):
        os.environ["PULUMI_HOME"] = tempfile.mkdtemp(prefix="envbuilder-smoke-home-")
        made.append(os.environ["PULUMI_HOME"])
    os.environ.update({
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "x",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    })

    import pulumi
    import pulumi_kubernetes as k8s
    from pulumi import automation as auto
    from pulumi.dynamic import CreateResult, Resource, ResourceProvider

    class EchoProvider(ResourceProvider):
        def create(self, props):
            return CreateResult(id_="echo-1", outs={"echo": props["text"].upper()})

    class Echo(Resource):
        echo: pulumi.Output[str]

        def __init__(self, name, text, opts=None):
            super().__init__(EchoProvider(), name, {"text": text, "echo": None}, opts)

    with ControlPlane(nodes=1) as cp:
        def program():
            provider = k8s.Provider("cp", kubeconfig=cp.kubeconfig.read_text())
            cm = k8s.core.v1.ConfigMap(
                "smoke", metadata={"name": "smoke", "namespace": "default"},
                data={"hello": "world"}, opts=pulumi.ResourceOptions(provider=provider))
            pulumi.export("configmap", cm.metadata["name"])
            if os.environ.get("SMOKE_DYNAMIC", "1") == "1":
                pulumi.export("echo", Echo("echo", "hello").echo)

        pulumi_cmd = auto.PulumiCommand(root=str(tools_bin().parent)) if (tools_bin() / "pulumi").exists() else None
        ws = auto.LocalWorkspaceOptions(pulumi_command=pulumi_cmd, env_vars=dict(os.environ))
        stack = auto.create_or_select_stack(stack_name="smoke", project_name="toolchain-smoke",
                                            program=program, opts=ws)
        print("CLI version:", stack.workspace.pulumi_command.version)
        t0 = time.monotonic()
        up = stack.up(on_output=print)
        print(f"up in {time.monotonic() - t0:.1f}s outputs={ {k: v.value for k, v in up.outputs.items()} }")
        got = cp.request("GET", "/api/v1/namespaces/default/configmaps/smoke")
        assert got["data"] == {"hello": "world"}, got
        if "echo" in up.outputs:
            assert up.outputs["echo"].value == "HELLO"
        t0 = time.monotonic()
        stack.destroy(on_output=print)
        print(f"destroy in {time.monotonic() - t0:.1f}s")
        try:
            cp.request("GET", "/api/v1/namespaces/default/configmaps/smoke")
            raise AssertionError("ConfigMap still exists after destroy")
        except Exception as e:  # noqa: BLE001
            assert "404" in str(e), e
        stack.workspace.remove_stack("smoke")
    print("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
