#!/usr/bin/env bash
# Idempotent set-up: system tools, .venv with pinned wheels (ROS 2 Kilted, torch 2.13.0 CPU, diffusers, ...),
# the fix of the ROS wheels' CMake exports, and a colcon build of the workspace (msg/ and src/).
# A rerun on a ready machine skips pip (stamp of the requirement files) and rebuilds incrementally.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"     # the ROS wheels exist for cp310-cp312, x86_64

log() { printf '[setup] %s\n' "$*"; }

# 1. system tools: compilers for the generated typesupport, iproute2 for the private network namespace,
#    opencv-data for BRISQUE's model files.
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v ip >/dev/null || need+=(iproute2)
command -v unshare >/dev/null || need+=(util-linux)
[ -f /usr/share/opencv4/quality/brisque_model_live.yml ] || need+=(opencv-data)
"$PY" -c 'import sysconfig,os,sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"],"Python.h")))' \
  || need+=(python3-dev)
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2. venv and pinned wheels, skipped when the requirement files have not changed since the last install
stamp="$VENV/.requirements.sha256"
want="$(cat requirements.txt requirements.lock | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  log "pip install (a few minutes from scratch)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt -c requirements.lock
  # the CLIP BPE vocabulary for the offline tokenizer; open_clip itself is never imported (it needs torchvision)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps open_clip_torch==3.3.0
  # opencv-python (pulled in by pypiqe) and opencv-contrib share the cv2 module: the last one installed wins.
  # BRISQUE needs contrib's cv2.quality, so make sure contrib's files are the ones in place.
  if ! "$VENV/bin/python" -c 'import cv2, sys; sys.exit(not hasattr(cv2, "quality"))' 2>/dev/null; then
    contrib="$(grep -i '^opencv-contrib-python-headless==' requirements.lock)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$contrib"
  fi
  echo "$want" > "$stamp"
fi

# 3. the wheels' CMake exports hard-code their build container's Python and numpy include dirs
PYINC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NPINC="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
{ grep -rlZ --include='*.cmake' '/opt/python/cp3' "$VENV/share" || true; } | xargs -0 -r sed -i -E \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${PYINC}#g" \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${NPINC}#g"

# 4. build the interfaces and the stage packages
log "colcon build"
(
  set +u  # colcon's setup scripts are not nounset-safe
  export T2I_SKIP_INSTALL_SETUP=1
  . "$ROOT/scripts/env.sh"
  colcon --log-base "$ROOT/log" build --base-paths msg src --build-base "$ROOT/build" --install-base "$ROOT/install" \
    --symlink-install --event-handlers console_cohesion- summary- \
    --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF -Wno-dev >/dev/null
)
log "ready: . scripts/env.sh"
