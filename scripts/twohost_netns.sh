#!/usr/bin/env bash
# Two emulated hosts on this machine, both in private network namespaces (nothing reaches a real NIC):
#   edge   namespace (198.51.100.1): runs COMMAND (the edge side and the test driver live here)
#   device namespace (198.51.100.2): reached from COMMAND with the prefix in $T2I_DEVICE_NS (an nsenter call)
# joined by a veth pair v0 <-> v1 whose both ends are shaped with `tc qdisc tbf` (netem is not available).
#
# usage: scripts/twohost_netns.sh [--rate 10mbit|none] [--burst 32kbit] [--latency 2000ms] [--] COMMAND...
#
# Inside, COMMAND gets (besides the caller's environment):
#   T2I_DEVICE_NS   "nsenter -t <pid> -n --": prefix that runs a command in the device namespace
#   T2I_EDGE_CPUS / T2I_DEVICE_CPUS   "0" / "1": cores to pin each side to (taskset -c), both overridable
#   T2I_LINK_RATE   the shaped rate (or none)
#   ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET   DDS must discover across the veth
#   FASTDDS_BUILTIN_TRANSPORTS=UDPv4       no shared memory: the shaped link is what the bytes cross
#   FASTDDS_DEFAULT_PROFILES_FILE unset    the loopback-only profile of scripts/env.sh would block the veth
# After COMMAND the per-link byte/drop counters are printed; the script exits with COMMAND's status.
#
# `tbf latency` sizes the queue (rate x latency + burst). DDS bursts multi-MB patches at once; a short queue
# drops fragments and reliable DDS then waits for heartbeats (seconds), so the default keeps a deep queue
# (2 s = 2.5 MB at 10 Mbit/s) and the link behaves like a slow, loss-free pipe.
set -euo pipefail
RATE=10mbit BURST=32kbit LATENCY=2000ms
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) RATE="$2"; shift 2 ;;
    --burst) BURST="$2"; shift 2 ;;
    --latency) LATENCY="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--rate R] [--burst B] [--latency L] [--] COMMAND..." >&2; exit 2; }

export T2I_LINK_RATE="$RATE" T2I_TBF_BURST="$BURST" T2I_TBF_LATENCY="$LATENCY"
exec unshare -n bash -c '
set -euo pipefail
ip link set lo up
# The device namespace: a second private namespace held open by a sleeping process.
unshare -n sleep infinity & DEV=$!
trap "kill $DEV 2>/dev/null || true" EXIT
for _ in $(seq 50); do [ "$(readlink /proc/$DEV/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
ip link add v0 type veth peer name v1 netns $DEV
ip addr add 198.51.100.1/24 dev v0
sysctl -qw net.ipv6.conf.v0.disable_ipv6=1 2>/dev/null || true
ip link set v0 up
ip route add 224.0.0.0/4 dev v0
nsenter -t $DEV -n bash -c "set -e; ip link set lo up; ip addr add 198.51.100.2/24 dev v1
  sysctl -qw net.ipv6.conf.v1.disable_ipv6=1 2>/dev/null || true
  ip link set v1 up; ip route add 224.0.0.0/4 dev v1"
if [ "$T2I_LINK_RATE" != none ]; then
  shape="tbf rate $T2I_LINK_RATE burst $T2I_TBF_BURST latency $T2I_TBF_LATENCY"
  tc qdisc add dev v0 root $shape
  nsenter -t $DEV -n tc qdisc add dev v1 root $shape
fi
export T2I_DEVICE_NS="nsenter -t $DEV -n --"
export T2I_EDGE_CPUS="${T2I_EDGE_CPUS:-0}" T2I_DEVICE_CPUS="${T2I_DEVICE_CPUS:-1}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET FASTDDS_BUILTIN_TRANSPORTS=UDPv4
unset FASTDDS_DEFAULT_PROFILES_FILE ROS_STATIC_PEERS
set +e; "$@"; status=$?; set -e
echo "twohost: link $T2I_LINK_RATE; edge->device (v0): $(tc -s qdisc show dev v0 | tr -s " \n" " " | grep -o "Sent [0-9]* bytes [0-9]* pkt (dropped [0-9]*")" >&2
echo "twohost: device->edge (v1): $(nsenter -t $DEV -n tc -s qdisc show dev v1 | tr -s " \n" " " | grep -o "Sent [0-9]* bytes [0-9]* pkt (dropped [0-9]*")" >&2
exit $status' _ "$@"
