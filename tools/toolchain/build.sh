#!/usr/bin/env bash
# Build the offline toolchain from Go modules (the only source this project's
# machines reach besides PyPI/apt/npm/crates/Maven).
#
#   bash tools/toolchain/build.sh engine        # kind, pulumi, pulumi-resource-kubernetes (+ python shim)
#   bash tools/toolchain/build.sh controlplane  # kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok
#   bash tools/toolchain/build.sh node          # what a kind node image needs: kube binaries, etcd, coredns, kube-router, crictl, pause
#   bash tools/toolchain/build.sh all
#   bash tools/toolchain/build.sh kind pulumi   # single pieces also work
#   bash tools/toolchain/build.sh check         # only check the commands it needs
#
# Pins: tools/toolchain/versions.env. Output: $ENVBUILDER_TOOLS_BIN (default
# <repo>/.tools/bin). Go caches, generated wrapper modules and finished
# binaries (keyed by name+version) live in
# ${ENVBUILDER_TOOLCHAIN_CACHE:-$HOME/.cache/envbuilder/toolchain}, never in
# the repository, so a rerun (also from another clone) only copies binaries.
# TOOLCHAIN_REBUILD=1 ignores finished binaries; TOOLCHAIN_GO_P sets go -p (2);
# ETCD_FROM_DEBIAN=1 links Debian's etcd-server instead of building etcd.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"

CACHE="${ENVBUILDER_TOOLCHAIN_CACHE:-$HOME/.cache/envbuilder/toolchain}"
BIN="${ENVBUILDER_TOOLS_BIN:-$REPO/.tools/bin}"
STORE="$CACHE/bin"
WORK="$CACHE/work"
mkdir -p "$CACHE" "$BIN" "$STORE" "$WORK"
# Keep build outputs out of git whatever the top-level .gitignore says.
[[ -f "$REPO/.tools/.gitignore" ]] || printf '*\n' > "$REPO/.tools/.gitignore" 2>/dev/null || true

export GOPATH="$CACHE/gopath"
export GOMODCACHE="$CACHE/gomodcache"
export GOCACHE="$CACHE/gocache"
# Every binary is also linked with -ldflags "-s -w" (no symbol table, no DWARF): a third smaller, no slower
# to build (docs/ci.md has the figures). -p: one compile per core; the machines have 2.
export GOFLAGS="-p=${TOOLCHAIN_GO_P:-2} -buildvcs=false -mod=mod -trimpath"
export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0
unset GOBIN GOENV_FILE 2>/dev/null || true

LOG_PREFIX=toolchain
# shellcheck source=../steps.sh
source "$REPO/tools/steps.sh"

command -v go >/dev/null || die "go not found on PATH (Go >= 1.25 needed)"
require git:git cc:gcc  # cc: the node image's static pause binary
[[ "${1:-}" != check ]] || exit 0  # make setup checks first, before any long build

# on_path_pinned BIN VERSION: the path of a BIN on PATH, other than ours (an official install, a
# distribution's package), whose --version names VERSION; else fails.
on_path_pinned() {
  local found ours; ours="$(readlink -f "$BIN/$1" 2>/dev/null || true)"
  for found in $(type -ap "$1"); do
    [[ "$(readlink -f "$found")" != "$ours" && "$found" != "$BIN/"* ]] || continue
    "$found" --version 2>&1 | grep -qF "${2#v}" && { echo "$found"; return 0; }
  done
  return 1
}

# have NAME VERSION BIN...: when every binary is already on the machine at the pinned version (linked
# into $BIN) or in the store (copied to $BIN), succeed without building.
have() {
  local key="$1-$2" version="$2"; shift 2
  [[ "${TOOLCHAIN_REBUILD:-0}" == 1 ]] && return 1
  local b path found=()
  for b in "$@"; do path="$(on_path_pinned "$b" "$version")" || break; found+=("$path"); done
  if ((${#found[@]} == $#)); then
    for path in "${found[@]}"; do rm -f "$BIN/$(basename "$path")"; ln -s "$path" "$BIN/$(basename "$path")"; done
    log "on PATH at $version: ${found[*]}"
    return 0
  fi
  for b in "$@"; do [[ -x "$STORE/$key/$b" ]] || return 1; done
  for b in "$@"; do rm -f "$BIN/$b"; install -m 0755 "$STORE/$key/$b" "$BIN/$b"; done
  log "cached $key ($*)"
}

# keep NAME VERSION FILE...: put freshly built binaries into the store and $BIN.
keep() {
  local key="$1-$2"; shift 2
  mkdir -p "$STORE/$key"
  local f
  for f in "$@"; do
    install -m 0755 "$f" "$STORE/$key/$(basename "$f")"
    rm -f "$BIN/$(basename "$f")"   # may be a symlink (etcd -> /usr/bin/etcd)
    install -m 0755 "$f" "$BIN/$(basename "$f")"
  done
}


# Copy the non-local replace directives of a go.mod, one "old => new ver" per line.
nonlocal_replaces() {
  (cd "$(dirname "$1")" && go mod edit -json "$1") | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]
    if "Version" not in new:      # local path replace (../sdk, ./staging/...)
        continue
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    print(old + "=" + new["Path"] + "@" + new["Version"])
'
}

# new_wrapper DIR MODULE: an empty wrapper module in the cache.
new_wrapper() {
  rm -rf "$1"; mkdir -p "$1"
  local gov; gov="$(go env GOVERSION)"; gov="${gov#go}"
  printf 'module %s\n\ngo %s\n' "$2" "$(echo "$gov" | cut -d. -f1-2)" > "$1/go.mod"
}

# ---------------------------------------------------------------- kind
build_kind() {
  have kind "$KIND_VERSION" kind && return 0
  local out="$WORK/kind/out"; mkdir -p "$out"
  GOBIN="$out" go install -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION"
  keep kind "$KIND_VERSION" "$out/kind"
}

# ---------------------------------------------------------------- pulumi CLI
build_pulumi() {
  have pulumi "$PULUMI_VERSION" pulumi && return 0
  local w="$WORK/pulumi-$PULUMI_VERSION"
  new_wrapper "$w" envbuilder.local/toolchain/pulumi
  local pkgdir sdkdir r
  pkgdir="$(moddir "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION")"
  sdkdir="$(moddir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION")"
  [[ -n "$pkgdir" && -n "$sdkdir" ]] || die "cannot download pulumi pkg/sdk $PULUMI_VERSION"
  cd "$w"
  for r in $(nonlocal_replaces "$pkgdir/go.mod") $(nonlocal_replaces "$sdkdir/go.mod"); do
    go mod edit -replace="$r"
  done
  go mod edit -require="github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" \
              -require="github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  # A tools file keeps the command's packages in the wrapper's build list.
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi/operations"\n' > tools.go
  go mod tidy >/dev/null 2>&1 || true
  go build -o "$w/out/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  keep pulumi "$PULUMI_VERSION" "$w/out/pulumi"
}

# ---------------------------------------------------------------- kubernetes plugin
build_pulumi_kubernetes() {
  have pulumi-resource-kubernetes "$PULUMI_KUBERNETES_VERSION" pulumi-resource-kubernetes && return 0
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  local src="$WORK/pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION/provider"
  local dir; dir="$(moddir "$mod@$PULUMI_KUBERNETES_MODULE_VERSION")"
  [[ -n "$dir" ]] || die "cannot download $mod@$PULUMI_KUBERNETES_MODULE_VERSION"
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"; chmod -R u+w "$src"
  cd "$src"
  # The module's own replace (sdk/v4 => ../sdk) points outside the zip; use
  # the published sdk/v4 it requires instead.
  go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4
  # schema-embed.json / terraform-mapping-embed.json are generated (gitignored
  # upstream) by the module's own generator.
  (cd cmd/pulumi-resource-kubernetes && VERSION="$PULUMI_KUBERNETES_VERSION" go run generate.go)
  [[ -s cmd/pulumi-resource-kubernetes/schema-embed.json ]] || die "schema-embed.json not generated"
  go build -o "$src/out/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X $mod/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
    ./cmd/pulumi-resource-kubernetes
  keep pulumi-resource-kubernetes "$PULUMI_KUBERNETES_VERSION" "$src/out/pulumi-resource-kubernetes"
}

# ---------------------------------------------------------------- python dynamic-provider shim
install_python_shim() {
  install -m 0755 "$HERE/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
}

# ---------------------------------------------------------------- kubernetes control plane
build_kube() {
  # The control plane for the engine tests and, from the same build cache, what a kind node
  # image needs besides it: one `go build` of them all links in parallel.
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl)
  have kubernetes "$KUBERNETES_VERSION" "${cmds[@]}" && return 0
  local w="$WORK/kubernetes-$KUBERNETES_VERSION"
  local ver="${KUBERNETES_VERSION#v}" minor major
  major="${ver%%.*}"; minor="$(echo "$ver" | cut -d. -f2)"
  local staging="v0.${ver#*.}"
  new_wrapper "$w" envbuilder.local/toolchain/kubernetes
  local kdir; kdir="$(moddir "k8s.io/kubernetes@$KUBERNETES_VERSION")"
  [[ -n "$kdir" ]] || die "cannot download k8s.io/kubernetes@$KUBERNETES_VERSION"
  cd "$w"
  # Every staging module (replace k8s.io/x => ./staging/src/k8s.io/x) becomes
  # the published k8s.io/x at v0.MINOR.PATCH; other non-local replaces are kept.
  local args=() r
  while read -r r; do args+=("-replace=$r=$r@$staging"); done < <(
    go mod edit -json "$kdir/go.mod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["New"]["Path"].startswith("./staging/"):
        print(r["Old"]["Path"])')
  for r in $(nonlocal_replaces "$kdir/go.mod"); do args+=("-replace=$r"); done
  go mod edit "${args[@]}" -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
  local pkg=k8s.io/component-base/version
  local ld="-s -w -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ld+=" -X $pkg.gitCommit=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"Hash": "\(.*\)",*/\1/p' | head -1)"
  local c outs=() pkgs=()
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); outs+=("$w/out/$c"); done
  mkdir -p "$w/out"
  step "go build ${cmds[*]}" go build -o "$w/out/" -ldflags "$ld" "${pkgs[@]}"
  keep kubernetes "$KUBERNETES_VERSION" "${outs[@]}"
}

# ---------------------------------------------------------------- etcd
# Built from source by default: go.etcd.io/etcd/server/v3 (its main package)
# from a wrapper module, since its go.mod replaces api/client/pkg with ../
# paths that a dependency ignores; the published siblings at the same tag are
# used. About a minute, and the same etcd (3.6, what k8s 1.35 is tested with)
# on every machine. ETCD_FROM_DEBIAN=1 links Debian's etcd-server (3.4.23)
# instead, which kube-apiserver 1.35 also accepts for our tests.
build_etcd() {
  if [[ "${ETCD_FROM_DEBIAN:-0}" == 1 ]]; then
    [[ -x /usr/bin/etcd ]] || die "ETCD_FROM_DEBIAN=1 but /usr/bin/etcd is missing (apt-get install etcd-server)"
    rm -f "$BIN/etcd"; ln -s /usr/bin/etcd "$BIN/etcd"
    log "etcd: using Debian's /usr/bin/etcd ($(/usr/bin/etcd --version 2>/dev/null | head -1))"
    return 0
  fi
  have etcd "$ETCD_VERSION" etcd && return 0
  local w="$WORK/etcd-$ETCD_VERSION"
  new_wrapper "$w" envbuilder.local/toolchain/etcd
  local sdir r; sdir="$(moddir "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  [[ -n "$sdir" ]] || die "cannot download go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  cd "$w"
  local args=()
  for r in $(nonlocal_replaces "$sdir/go.mod"); do args+=("-replace=$r"); done
  go mod edit "${args[@]}" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -o "$w/out/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
  keep etcd "$ETCD_VERSION" "$w/out/etcd"
}

# ---------------------------------------------------------------- kwok
build_kwok() {
  if ! have kwok "$KWOK_VERSION" kwok; then
    local out="$WORK/kwok/out"; mkdir -p "$out"
    GOBIN="$out" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    keep kwok "$KWOK_VERSION" "$out/kwok"
  fi
  # kwok (unlike kwokctl) ships no default stages: without --config it exits
  # with "no stages found". Assemble the upstream "fast" stages (node
  # initialize + heartbeat, pod ready/complete/delete) from the module.
  local stages="$STORE/kwok-$KWOK_VERSION/kwok-stages.yaml"
  if [[ ! -s "$stages" ]]; then
    local kdir f; kdir="$(moddir "sigs.k8s.io/kwok@$KWOK_VERSION")"
    [[ -n "$kdir" ]] || die "cannot download sigs.k8s.io/kwok@$KWOK_VERSION"
    : > "$stages.tmp"
    for f in "$kdir"/kustomize/stage/node/fast/*.yaml "$kdir"/kustomize/stage/node/heartbeat/*.yaml \
             "$kdir"/kustomize/stage/pod/fast/*.yaml; do
      [[ "$(basename "$f")" == kustomization.yaml ]] && continue
      { echo "---"; cat "$f"; } >> "$stages.tmp"
    done
    mv "$stages.tmp" "$stages"
  fi
  install -m 0644 "$stages" "$BIN/kwok-stages.yaml"
}

# ---------------------------------------------------------------- kind node image pieces
# What a kind node image needs beyond the Kubernetes binaries (tools/node-image/build.sh
# assembles them). CoreDNS at the version kubeadm deploys for KUBERNETES_VERSION.
build_coredns() {
  local version; version="$(coredns_version)"
  [[ -n "$version" ]] || die "cannot find kubeadm's CoreDNS version in k8s.io/kubernetes@$KUBERNETES_VERSION"
  have coredns "$version" coredns && return 0
  local out="$WORK/coredns-$version/out"; mkdir -p "$out"
  GOBIN="$out" go install -ldflags "-s -w" "github.com/coredns/coredns@$version"
  keep coredns "$version" "$out/coredns"
}

# kubeadm's own constant, read from the Kubernetes module (no need to wait for kubeadm's build).
coredns_version() {
  local kdir; kdir="$(moddir "k8s.io/kubernetes@$KUBERNETES_VERSION")"
  sed -n 's/^[[:space:]]*CoreDNSVersion = "\(v[0-9.]*\)"$/\1/p' "$kdir/cmd/kubeadm/app/constants/constants.go"
}

# The offline lane's pod network (see docs/node-image.md for why not Calico here).
build_kube_router() {
  have kube-router "$KUBE_ROUTER_VERSION" kube-router && return 0
  local out="$WORK/kube-router-$KUBE_ROUTER_VERSION/out"; mkdir -p "$out"
  GOBIN="$out" go install -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
    "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
  keep kube-router "$KUBE_ROUTER_VERSION" "$out/kube-router"
}

# crictl, which kind's node images carry (envbuilder reads a node's images with it).
build_crictl() {
  have crictl "$CRICTL_VERSION" crictl && return 0
  local out="$WORK/crictl-$CRICTL_VERSION/out"; mkdir -p "$out"
  GOBIN="$out" go install -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  keep crictl "$CRICTL_VERSION" "$out/crictl"
}

# The sandbox ("pause") binary, from the C source in the Kubernetes module, linked statically.
build_pause() {
  have pause "$KUBERNETES_VERSION" pause && return 0
  command -v cc >/dev/null || die "a C compiler is needed for pause (apt-get install gcc libc6-dev)"
  local kdir out="$WORK/pause-$KUBERNETES_VERSION"; mkdir -p "$out"
  kdir="$(moddir "k8s.io/kubernetes@$KUBERNETES_VERSION")"
  local version; version="$(sed -n 's/^TAG ?= *//p' "$kdir/build/pause/Makefile")"
  cc -Os -Wall -Werror -static -DVERSION="v$version-envbuilder" -o "$out/pause" "$kdir/build/pause/linux/pause.c"
  strip "$out/pause"
  keep pause "$KUBERNETES_VERSION" "$out/pause"
}

# ---------------------------------------------------------------- targets
run() {
  case "$1" in
    kind) step "kind $KIND_VERSION" build_kind ;;
    pulumi) step "pulumi $PULUMI_VERSION" build_pulumi ;;
    pulumi-resource-kubernetes|kubernetes-plugin)
      step "pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION" build_pulumi_kubernetes ;;
    shim) step "pulumi-resource-pulumi-python shim" install_python_shim ;;
    engine) run kind; run pulumi; run pulumi-resource-kubernetes; run shim ;;
    kube|kubernetes) step "kubernetes $KUBERNETES_VERSION (control plane and node binaries)" build_kube ;;
    etcd) step "etcd" build_etcd ;;
    kwok) step "kwok $KWOK_VERSION" build_kwok ;;
    controlplane) run etcd; run kwok; run kube ;;
    coredns) step "coredns for kubernetes $KUBERNETES_VERSION" build_coredns ;;
    kube-router) step "kube-router $KUBE_ROUTER_VERSION" build_kube_router ;;
    pause) step "pause" build_pause ;;
    crictl) step "crictl $CRICTL_VERSION" build_crictl ;;
    node) run kube; run etcd; run coredns; run kube-router; run crictl; run pause ;;
    all) run engine; run controlplane ;;
    prune)  # drop the build cache and wrapper copies (GBs); finished binaries and modules stay
      step "prune build cache" bash -c 'chmod -R u+w "$1" 2>/dev/null; rm -rf "$1" "$2"' _ "$GOCACHE" "$WORK" ;;
    *) die "unknown target '$1' (engine, controlplane, node, all, prune, kind, pulumi, pulumi-resource-kubernetes, shim, kube, etcd, kwok, coredns, kube-router, crictl, pause)" ;;
  esac
}

main() {
  [[ $# -gt 0 ]] || set -- all
  local t0=$SECONDS t
  for t in "$@"; do (run "$t"); done
  log "all requested targets done in $((SECONDS - t0))s; binaries in $BIN"
}

main "$@"; exit $?  # one line: bash has parsed it all before running, so edits mid-run are safe
