#!/usr/bin/env bash
# The main job on this machine: starts the graph (edge and device as separate processes, localhost-only DDS),
# sends prompts, saves outputs. Until the node graph lands it runs the cross-process smoke exchange.
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/env.sh
python tests/exchange_peer.py sub & python tests/exchange_peer.py pub >/dev/null
wait $!
