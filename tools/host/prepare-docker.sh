#!/usr/bin/env bash
# Host preparation for development and CI machines (run as root): start the Docker engine
# when it is not running, and where privileged containers cannot start (no CAP_SYS_RESOURCE
# in the host's capability bounding set, as on some VMs), make dockerd's default runtime a
# runc wrapper that leaves out that one capability. kind and envbuilder then run unmodified.
# See docs/troubleshooting.md ("privileged containers fail").
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNTIME_NAME=envbuilder-runc
WRAPPER=/usr/local/libexec/envbuilder/runc-keep-privileged
DAEMON_JSON=/etc/docker/daemon.json
CAP_SYS_RESOURCE=24

log() { printf '[prepare-docker] %s\n' "$*" >&2; }

# The default ENVBUILDER_PORT_RANGE (envbuilder/state/ports.py DEFAULT_RANGE; a test keeps them equal).
ENVBUILDER_PORTS=42000-42999

# Kernel settings kind clusters need on a busy machine:
# - every cluster's kubelet, kube-proxy and pod network take inotify instances, and the default of
#   128 per user runs out with two or three clusters ("too many open files": kind's known issue);
# - envbuilder's host ports sit inside the kernel's ephemeral range, so an outgoing connection could
#   take one between its reservation and the F5 container binding it: the kernel is told to keep them.
tune_kernel() {
  local instances watches
  instances=$(sysctl -n fs.inotify.max_user_instances)
  watches=$(sysctl -n fs.inotify.max_user_watches)
  (( instances >= 512 )) || sysctl -qw fs.inotify.max_user_instances=512 || log "could not raise fs.inotify.max_user_instances"
  (( watches >= 524288 )) || sysctl -qw fs.inotify.max_user_watches=524288 || log "could not raise fs.inotify.max_user_watches"
  local reserved
  reserved=$(sysctl -n net.ipv4.ip_local_reserved_ports)
  case ",$reserved," in
    *",$ENVBUILDER_PORTS,"*) ;;
    *) sysctl -qw net.ipv4.ip_local_reserved_ports="${reserved:+$reserved,}$ENVBUILDER_PORTS" \
         || log "could not reserve ports $ENVBUILDER_PORTS from the ephemeral range" ;;
  esac
}

if ((EUID != 0)); then
  if docker info >/dev/null 2>&1; then
    log "docker $(docker info --format '{{.ServerVersion}}') is running; not root, so it is left as it is"
    exit 0
  fi
  command -v sudo >/dev/null && sudo -n true 2>/dev/null && exec sudo bash "$0" "$@"
  log "the Docker engine is not running, and starting it needs root: sudo bash $0"
  exit 1
fi

lacks_sys_resource() {
  local bounding; bounding="$(awk '/^CapBnd:/ {print $2}' /proc/self/status)"
  (( (16#$bounding >> CAP_SYS_RESOURCE & 1) == 0 ))
}

# Register the wrapper as the default runtime; prints "changed" when daemon.json changed.
register_wrapper() {
  install -D -m 0755 "$HERE/runc-keep-privileged" "$WRAPPER"
  mkdir -p "$(dirname "$DAEMON_JSON")"
  python3 - "$DAEMON_JSON" "$RUNTIME_NAME" "$WRAPPER" <<'PY'
import json, os, sys
path, name, wrapper = sys.argv[1:]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
wanted = {**config, "runtimes": {**config.get("runtimes", {}), name: {"path": wrapper}}, "default-runtime": name}
if wanted != config:
    with open(path + ".tmp", "w") as file:
        json.dump(wanted, file, indent=2)
    os.replace(path + ".tmp", path)
    print("changed")
PY
}

tune_kernel

changed=""
if lacks_sys_resource; then
  command -v runc >/dev/null || { log "runc is not installed (apt-get install docker.io)"; exit 1; }
  changed="$(register_wrapper)"
fi

if docker info >/dev/null 2>&1; then
  if [[ -n "$changed" ]]; then
    log "reloading dockerd: default runtime $RUNTIME_NAME (privileged containers without CAP_SYS_RESOURCE)"
    pkill -HUP -x dockerd
    sleep 1
  fi
else
  command -v dockerd >/dev/null || { log "dockerd is not installed (apt-get install docker.io)"; exit 1; }
  log "starting dockerd (log: /var/log/dockerd.log)"
  (dockerd >>/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null || { log "dockerd did not start; see /var/log/dockerd.log"; exit 1; }
fi
log "docker $(docker info --format '{{.ServerVersion}}'), default runtime $(docker info --format '{{.DefaultRuntime}}')"
