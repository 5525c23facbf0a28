#!/usr/bin/env bash
# timed.sh NAME CMD...: run one step of the Makefile as a timed step (tools/steps.sh), so `.ci/run`'s
# summary names what each part of `make setup` and `make test` took.
set -euo pipefail
LOG_PREFIX=make
# shellcheck source=steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"
step "$@"
