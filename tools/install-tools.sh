#!/usr/bin/env bash
# Install the external tools envbuilder drives into .tools/bin when they are not on PATH:
# kind, the Pulumi CLI and its Kubernetes plugin. kubectl and Docker come from the system.
#
# ENVBUILDER_TOOLCHAIN=auto (default): official downloads, else build from Go modules.
# ENVBUILDER_TOOLCHAIN=download | build: only that way.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BIN="$REPO/.tools/bin"
MODE="${ENVBUILDER_TOOLCHAIN:-auto}"
# shellcheck source=toolchain/versions.env
source "$HERE/toolchain/versions.env"
mkdir -p "$BIN"

have() { command -v "$1" >/dev/null 2>&1 || [[ -x "$BIN/$1" ]]; }

download() {
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  if ! have kind; then
    curl -fsSL --max-time 60 -o "$tmp/kind" "https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-amd64" || return 1
    install -m 0755 "$tmp/kind" "$BIN/kind"
  fi
  if ! have pulumi; then
    curl -fsSL --max-time 120 -o "$tmp/pulumi.tgz" \
      "https://get.pulumi.com/releases/sdk/pulumi-${PULUMI_VERSION}-linux-x64.tar.gz" || return 1
    tar -xzf "$tmp/pulumi.tgz" -C "$tmp"
    install -m 0755 "$tmp"/pulumi/* "$BIN/"
  fi
  if ! has_kubernetes_plugin; then
    PATH="$BIN:$PATH" pulumi plugin install resource kubernetes "$PULUMI_KUBERNETES_VERSION" || return 1
  fi
}

has_kubernetes_plugin() {
  have pulumi-resource-kubernetes || { have pulumi && PATH="$BIN:$PATH" pulumi plugin ls 2>/dev/null | grep -q '^kubernetes '; }
}

reachable() { curl -fsS --max-time 5 -o /dev/null "$1" 2>/dev/null; }

if have kind && have pulumi && have pulumi-resource-pulumi-python && has_kubernetes_plugin; then
  echo "tools: kind, pulumi and the Kubernetes plugin are installed"
  exit 0
fi
case "$MODE" in
  download) download ;;
  build) bash "$HERE/toolchain/build.sh" engine ;;
  auto)
    if reachable "https://get.pulumi.com/" && download; then
      echo "tools: installed from the official downloads"
    else
      echo "tools: official downloads unreachable; building from Go modules (see docs/toolchain.md)"
      bash "$HERE/toolchain/build.sh" engine
    fi
    ;;
  *) echo "ENVBUILDER_TOOLCHAIN must be auto, download or build (got $MODE)" >&2; exit 2 ;;
esac
