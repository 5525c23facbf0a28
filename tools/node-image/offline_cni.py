"""The offline node image's pod network manifest, derived from kube-router's own at build time.

Usage: python offline_cni.py KUBE_ROUTER_MODULE_DIR IMAGE > default-cni.yaml

kube-router's kubeadm manifest (routing and network policy; kube-proxy keeps the Services)
is used as published, with two changes for a node image without registry access: its
image is the one built here, never pulled; and it reads the API through its service
account rather than a kubeconfig file that kubeadm does not write.
"""

import sys
from pathlib import Path

import yaml

MANIFEST = "daemonset/kubeadm-kuberouter.yaml"
KUBECONFIG_VOLUME = "kubeconfig"


def offline_manifest(module_dir: Path, image: str) -> list[dict]:
    documents = [doc for doc in yaml.safe_load_all((module_dir / MANIFEST).read_text()) if doc]
    for doc in documents:
        if doc.get("kind") != "DaemonSet":
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            container["image"] = image
            container["imagePullPolicy"] = "Never"
            mounts = container.get("volumeMounts", [])
            container["volumeMounts"] = [m for m in mounts if m["name"] != KUBECONFIG_VOLUME]
        pod["volumes"] = [v for v in pod["volumes"] if v["name"] != KUBECONFIG_VOLUME]
    return documents


def main() -> None:
    module_dir, image = Path(sys.argv[1]), sys.argv[2]
    if not (module_dir / MANIFEST).is_file():
        sys.exit(f"{module_dir / MANIFEST} not found: is {module_dir} kube-router's module?")
    sys.stdout.write(yaml.safe_dump_all(offline_manifest(module_dir, image), sort_keys=False))


if __name__ == "__main__":
    main()
