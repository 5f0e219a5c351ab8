#!/usr/bin/env bash
# Runs "$@" in a private network namespace that has loopback plus a fake NIC (veth "t2i0", multicast routed to it)
# whose other end stays inside the namespace. Whatever DDS would send to a real network lands on t2i0 and is
# counted; nothing can leave the machine. Prints "t2i0_tx_packets=N" after the command; exits with its status.
set -euo pipefail
exec unshare -n bash -c '
set -e
ip link set lo up
ip link add t2i0 type veth peer name t2i1
ip addr add 198.51.100.1/24 dev t2i0
# no IPv6 on the fake NIC: its link-up chatter (MLD, router solicitations) would be counted as traffic
sysctl -qw net.ipv6.conf.t2i0.disable_ipv6=1 net.ipv6.conf.t2i1.disable_ipv6=1
ip link set t2i0 up; ip link set t2i1 up
ip route add 224.0.0.0/4 dev t2i0
tx() { awk -F"[: ]+" "/t2i0:/{print \$12}" /proc/net/dev; }  # per-namespace counters (/sys shows the host)
before=$(tx)
set +e; "$@"; status=$?; set -e
after=$(tx)
echo "t2i0_tx_packets=$((after - before))"
exit $status' _ "$@"
