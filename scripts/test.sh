#!/usr/bin/env bash
# Runs every unit and integration test of the workspace with the workspace environment (localhost-only DDS).
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/env.sh
exec python -m pytest "$@"
