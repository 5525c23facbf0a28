#!/usr/bin/env bash
# Remove everything `make setup` and the product made on this machine, saying what: the virtualenv, the
# tools and build outputs in the repository, the toolchain and node-image caches, and the images
# envbuilder built (node image, base and broker images, every service and component image). An image a
# container still uses is kept and named. The system packages stay: other programs may use them.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${ENVBUILDER_CACHE:-$HOME/.cache/envbuilder}"

for path in "$REPO/.venv" "$REPO/.tools" "$REPO/build" "$REPO/.pytest_cache" "$CACHE"; do
  [[ -e "$path" ]] || continue
  chmod -R u+w "$path" 2>/dev/null  # Go's module cache is read-only
  rm -rf "$path" && echo "removed $path"
done

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  while read -r image; do
    if output="$(docker image rm "$image" 2>&1)"; then
      echo "removed image $image"
    else
      echo "kept image $image: ${output##*: }"
    fi
  done < <(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^envbuilder(-test)?/' | grep -v ':<none>$')
else
  echo "Docker is not running: images left as they are"
fi
