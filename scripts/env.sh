# Source me: the venv, the ROS 2 environment of this workspace, and the mandatory network safety settings.
T2I_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export T2I_ROOT
. "$T2I_ROOT/.venv/bin/activate"
export AMENT_PREFIX_PATH="$T2I_ROOT/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$T2I_ROOT/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
# DDS never leaves this host unless the caller deliberately says otherwise (e.g. inside a private namespace).
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# Large-message profile: 64 MB shared-memory segment, loopback-only UDP.
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$T2I_ROOT/launch/fastdds_localhost.xml}"
export RMW_FASTRTPS_USE_QOS_FROM_XML=0
export T2I_CACHE="${T2I_CACHE:-$T2I_ROOT/.cache}"
if [ -z "${T2I_SKIP_INSTALL_SETUP:-}" ] && [ -f "$T2I_ROOT/install/setup.bash" ]; then
  . "$T2I_ROOT/install/setup.bash"
fi
true
