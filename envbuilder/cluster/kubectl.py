"""kubectl command lines: the one place that says which cluster a kubectl call talks to."""

from pathlib import Path


def kubectl_command(binary: str | Path, kubeconfig: str | Path | None = None, context: str | None = None) -> list[str]:
    """`binary` with the kubeconfig and context to use, ready for a subcommand; without either,
    kubectl's own defaults ($KUBECONFIG or ~/.kube/config, its current context)."""
    command = [str(binary)]
    if kubeconfig:
        command += ["--kubeconfig", str(kubeconfig)]
    if context:
        command += ["--context", context]
    return command
