# Shared by the build scripts under tools/: log lines with a prefix and the time, timed steps,
# and where a Go module lies in the module cache. Set LOG_PREFIX before sourcing.

log() { printf '[%s %s] %s\n' "$LOG_PREFIX" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# step NAME CMD... : run a step and print its wall time (recorded, see below).
step() {
  local name="$1"; shift
  local t0=$SECONDS
  log "start $name"
  "$@"
  log "done  $name in $((SECONDS - t0))s"
  record_step "$name" "$((SECONDS - t0))"
}

# record_step NAME SECONDS: with ENVBUILDER_STEP_TIMES set (.ci/run sets it), append
# "prefix<TAB>name<TAB>seconds" to that file, for the summary at the end of a CI run.
record_step() {
  [[ -z "${ENVBUILDER_STEP_TIMES:-}" ]] || printf '%s\t%s\t%s\n' "$LOG_PREFIX" "$1" "$2" >> "$ENVBUILDER_STEP_TIMES"
}

# moddir MOD@VER: download a module and print its directory.
moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

# require COMMAND:PACKAGE ...: stop at once, naming every missing command and the line that installs it.
require() {
  local pair missing=() packages=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || { missing+=("${pair%%:*}"); packages+=("${pair#*:}"); }
  done
  ((${#missing[@]} == 0)) || die "missing ${missing[*]}: install with apt-get install -y ${packages[*]} (tools/host/packages.txt lists them for make setup)"
}
