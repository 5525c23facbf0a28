#!/usr/bin/env bash
# Install the system packages of tools/host/packages.txt that are missing: apt-get as root, else through
# sudo. Where neither can be done (no root, no sudo, not Debian or Ubuntu), stop at once naming every
# missing package and the command that installs it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_PREFIX=packages
# shellcheck source=../steps.sh
source "$HERE/../steps.sh"

declare -A provides=()
packages=()
while read -r package command; do
  packages+=("$package")
  provides[$package]="$command"
done < <(sed -e 's/#.*//' "$HERE/packages.txt" | awk 'NF')
command -v dpkg-query >/dev/null && command -v apt-get >/dev/null \
  || die "not a Debian or Ubuntu machine: install the equivalents of these packages, then run make setup again: ${packages[*]}"

on_path() { [[ -n "$1" ]] && PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || on_path "${provides[$package]}" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  log "all ${#packages[@]} system packages are installed"
  exit 0
fi

as_root=()
if ((EUID != 0)); then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null \
    || die "missing system packages: ${missing[*]}; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  as_root=(sudo)
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed ${missing[*]}"
