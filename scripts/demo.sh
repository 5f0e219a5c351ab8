#!/usr/bin/env bash
# The main job on this machine: edge and device as two processes (localhost-only DDS), a few prompts,
# outputs under output/. Arguments go to t2i_bringup.demo (e.g. "a lighthouse at dusk" --size 768x512).
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/env.sh
exec python -m t2i_bringup.demo "$@"
