#!/usr/bin/env bash
# timed.sh NAME CMD...: run one step of the Makefile and record its wall time (tools/steps.sh), also when
# it fails, so `.ci/run`'s summary names what each part of `make setup` and `make test` took.
set -euo pipefail
LOG_PREFIX=make
# shellcheck source=steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"
name="$1"; shift
log "start $name"
status=0
"$@" || status=$?
log "done  $name in ${SECONDS}s$( ((status == 0)) || echo ", exit $status")"
record_step "$name$( ((status == 0)) || echo " (failed, exit $status)")" "$SECONDS"
exit "$status"
