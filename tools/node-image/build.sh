#!/usr/bin/env bash
# Build a kind node image without any container registry (docs/node-image.md):
#
#   bash tools/node-image/build.sh                   # envbuilder/kind-node:<KUBERNETES_VERSION>
#   bash tools/node-image/build.sh --unless-registry # only where kind's published images are out of reach
#   bash tools/node-image/build.sh --check           # only check the commands it needs (make setup, first)
#   bash tools/node-image/build.sh --rootfs [--unless-registry]  # only the root filesystem (make setup runs
#                                                    # it beside the Go builds: it waits on the network, not a core)
#
# Pieces: a debootstrapped Debian bookworm root (containerd, runc, CNI plugins from Debian),
# kind's base files from its Go module, the Kubernetes binaries, etcd, CoreDNS, pause and
# kube-router from tools/toolchain/build.sh, and every image the cluster starts with,
# preloaded into the node's containerd under the names kubeadm expects. The image carries a
# key of all its inputs: when an image with the same key exists, nothing is rebuilt.
# NODE_IMAGE_REBUILD=1 rebuilds anyway.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../toolchain/versions.env
source "$REPO/tools/toolchain/versions.env"
LOG_PREFIX=node-image
# shellcheck source=../steps.sh
source "$REPO/tools/steps.sh"
require debootstrap:debootstrap docker:docker.io tar:tar curl:curl
UNLESS_REGISTRY=0 ROOTFS_ONLY=0
for option in "$@"; do
  case "$option" in
    --check) exit 0 ;;
    --unless-registry) UNLESS_REGISTRY=1 ;;
    --rootfs) ROOTFS_ONLY=1 ;;
    *) echo "usage: build.sh [--check | --unless-registry | --rootfs [--unless-registry]] (got $option)" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
# The name and labels are the product's (envbuilder/spec/profile.py, envbuilder/cluster/node_image.py).
read -r IMAGE PROFILE_VERSION KEY_LABEL CNI_LABEL < <("$PYTHON" - "$REPO/stacks" <<'PY'
import sys
from pathlib import Path
from envbuilder.cluster.node_image import CNI_LABEL, KEY_LABEL
from envbuilder.spec.profile import load_profile
profile = load_profile(Path(sys.argv[1]), "default")
print(profile.local_node_image, profile.kubernetes_version, KEY_LABEL, CNI_LABEL)
PY
)
[[ "$PROFILE_VERSION" == "$KUBERNETES_VERSION" ]] \
  || { echo "stacks/default.yaml runs Kubernetes $PROFILE_VERSION but the toolchain builds $KUBERNETES_VERSION" >&2; exit 2; }
if ((UNLESS_REGISTRY)) && curl -s -o /dev/null --max-time 5 https://registry-1.docker.io/v2/; then
  echo "node image: a container registry is reachable, kind pulls its published node image (make node-image builds one anyway)"
  exit 0
fi

TOOLCHAIN_CACHE="${ENVBUILDER_TOOLCHAIN_CACHE:-$HOME/.cache/envbuilder/toolchain}"
CACHE="${ENVBUILDER_NODE_IMAGE_CACHE:-$HOME/.cache/envbuilder/node-image}"
BIN="${ENVBUILDER_TOOLS_BIN:-$REPO/.tools/bin}"
export GOMODCACHE="$TOOLCHAIN_CACHE/gomodcache" GOFLAGS=-mod=mod GOTOOLCHAIN=local
CNI_IMAGE="envbuilder/kube-router:$KUBE_ROUTER_VERSION"
# The node's root: what kind's node images hold, plus ipset for kube-router's policies.
PACKAGES=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,nftables,ipset,iproute2,conntrack,ethtool,util-linux,mount,kmod,procps,jq,pigz,e2fsprogs,ca-certificates,bash

# ------------------------------------------------------------------ inputs
toolchain() { bash "$REPO/tools/toolchain/build.sh" node; }

# kubeadm's own list of the images a cluster of this version runs.
required_images() { "$BIN/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION"; }

image_of() { required_images | grep -E "/$1:" ; }

inputs_key() {
  {
    echo "$KUBERNETES_VERSION $KUBE_ROUTER_VERSION $KIND_VERSION $ETCD_VERSION $CRICTL_VERSION $PACKAGES"
    required_images
    cat "$HERE/build.sh" "$HERE/Dockerfile" "$HERE/offline_cni.py"
    sha256sum "$BIN"/{kubeadm,kubelet,kubectl,crictl,kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy,etcd,coredns,pause,kube-router} | cut -d' ' -f1
  } | sha256sum | cut -c1-16
}

# ------------------------------------------------------------------ the root filesystem
rootfs_tarball() { echo "$CACHE/rootfs-bookworm-$(echo "$PACKAGES" | sha256sum | cut -c1-12).tar"; }

build_rootfs() {
  local tarball; tarball="$(rootfs_tarball)"
  [[ -s "$tarball" ]] && { log "cached $(basename "$tarball")"; return 0; }
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  local mirror; mirror="$("$PYTHON" -c 'from pathlib import Path; from envbuilder.images.base import debian_mirror; print(debian_mirror(Path("/etc/apt")))')"
  local work; work="$(mktemp -d "$CACHE/rootfs-XXXXXX")"
  if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2; rm -rf "$work"; die "debootstrap failed"
  fi
  rm -f "$work"/root/var/cache/apt/archives/*.deb "$work"/root/var/lib/apt/lists/*_Packages
  tar -C "$work/root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"   # atomic: an interrupted build leaves no half tarball
  rm -rf "$work"
}

rootfs_image() { echo "envbuilder/node-rootfs:$(basename "$(rootfs_tarball)" .tar | sed 's/^rootfs-//')"; }

import_rootfs() {
  local image; image="$(rootfs_image)"
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  docker import "$(rootfs_tarball)" "$image" >/dev/null
}

# ------------------------------------------------------------------ the cluster's images
# build_image NAME BASE ENTRYPOINT_JSON BINARY...: a minimal image holding the binaries in
# /usr/local/bin (kubeadm's manifests call them by name).
build_image() {
  local name="$1" base="$2" entrypoint="$3"; shift 3
  local context; context="$(mktemp -d "$CACHE/context-XXXXXX")"
  cp "$@" "$context/"
  {
    echo "FROM $base"
    local binary
    for binary in "$@"; do echo "COPY $(basename "$binary") /usr/local/bin/"; done
    echo "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    [[ -n "$entrypoint" ]] && echo "ENTRYPOINT $entrypoint"
  } > "$context/Dockerfile"
  docker build -q -t "$name" "$context" >/dev/null 2>"$context/build.log" || { cat "$context/build.log" >&2; rm -rf "$context"; die "building $name"; }
  rm -rf "$context"
}

build_cluster_images() {
  local rootfs; rootfs="$(rootfs_image)"
  local component
  for component in kube-apiserver kube-controller-manager kube-scheduler; do
    build_image "$(image_of "$component")" scratch "" "$BIN/$component"
  done
  # kube-proxy and kube-router program iptables and ipset: they need those tools beside them.
  build_image "$(image_of kube-proxy)" "$rootfs" "" "$BIN/kube-proxy"
  build_image "$CNI_IMAGE" "$rootfs" '["/usr/local/bin/kube-router"]' "$BIN/kube-router"
  build_image "$(image_of etcd)" scratch "" "$BIN/etcd"
  build_image "$(image_of coredns)" scratch '["/usr/local/bin/coredns"]' "$BIN/coredns"
  build_image "$(image_of pause)" scratch '["/usr/local/bin/pause"]' "$BIN/pause"
}

# ------------------------------------------------------------------ the node
build_node_stage() {
  local context="$CACHE/node-context"
  rm -rf "$context"; mkdir -p "$context/bin"
  local kind_dir; kind_dir="$(moddir "sigs.k8s.io/kind@$KIND_VERSION")"
  [[ -d "$kind_dir/images/base/files" ]] || die "kind's base files not found in sigs.k8s.io/kind@$KIND_VERSION"
  cp -r "$kind_dir/images/base/files" "$context/kind-base"
  chmod -R u+w "$context/kind-base"
  rm -rf "$context/kind-base/LICENSES"
  cp "$BIN"/{kubeadm,kubelet,kubectl,crictl} "$context/bin/"
  local router_dir; router_dir="$(moddir "github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION")"
  "$PYTHON" "$HERE/offline_cni.py" "$router_dir" "$CNI_IMAGE" > "$context/default-cni.yaml"
  cp "$HERE/Dockerfile" "$context/Dockerfile"
  docker build -q -t "$IMAGE-stage" \
    --build-arg ROOTFS_IMAGE="$(rootfs_image)" \
    --build-arg KUBERNETES_VERSION="$KUBERNETES_VERSION" \
    --build-arg SANDBOX_IMAGE="$(image_of pause)" \
    "$context" >/dev/null
  rm -rf "$context"
}

# Import the cluster's images into the node's containerd (pinned, so kubelet never removes
# them), the way kind's own node image build does, then commit the result.
BUILD_CONTAINER=""
remove_build_container() { [[ -z "$BUILD_CONTAINER" ]] || docker rm -f -v "$BUILD_CONTAINER" >/dev/null 2>&1 || true; }
trap remove_build_container EXIT

preload_and_commit() {
  local key="$1" container
  container="$(docker run -d --privileged --entrypoint sleep "$IMAGE-stage" infinity)"
  BUILD_CONTAINER="$container"
  docker exec -d "$container" containerd
  local _
  for _ in $(seq 1 30); do docker exec "$container" ctr version >/dev/null 2>&1 && break; sleep 1; done
  docker exec "$container" ctr version >/dev/null || die "containerd did not start in the build container"
  local images=() name
  while read -r name; do images+=("$name"); done < <(required_images)
  images+=("$CNI_IMAGE")
  docker save "${images[@]}" | docker exec -i "$container" \
    ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >/dev/null
  docker exec "$container" pkill containerd || true
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    --change 'CMD []' \
    --change "LABEL $KEY_LABEL=$key $CNI_LABEL=kube-router" \
    "$container" "$IMAGE" >/dev/null
  # The stage image is an intermediate: its container goes first, or Docker keeps the image for it.
  remove_build_container
  BUILD_CONTAINER=""
  docker rmi "$IMAGE-stage" >/dev/null
}

main() {
  local t0=$SECONDS
  mkdir -p "$CACHE"
  command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "Docker is not running (bash tools/host/prepare-docker.sh)"
  if ((ROOTFS_ONLY)); then
    step "root filesystem" build_rootfs
    step "import root filesystem" import_rootfs
    return 0
  fi
  step "toolchain pieces" toolchain
  local key; key="$(inputs_key)"
  if [[ "${NODE_IMAGE_REBUILD:-0}" != 1 ]] \
     && [[ "$(docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$IMAGE" 2>/dev/null)" == "$key" ]]; then
    log "$IMAGE is up to date (key $key) in $((SECONDS - t0))s"
    return 0
  fi
  step "root filesystem" build_rootfs
  step "import root filesystem" import_rootfs
  step "cluster images" build_cluster_images
  step "node stage" build_node_stage
  step "preload images" preload_and_commit "$key"
  log "built $IMAGE (key $key) in $((SECONDS - t0))s"
}

main "$@"; exit $?
