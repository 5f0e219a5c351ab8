"""Two OS processes exchange a GenerationRequest and a 4 MB ImagePatch over DDS (RELIABLE), and nothing of it
reaches a network interface."""
import json
import re
import subprocess
import sys

import pytest

from ros_testing import ROOT, ros_env

PEER = str(ROOT / 'tests/exchange_peer.py')


def exchange(env: dict, wrapper: list[str] = ()) -> tuple[dict, str]:
    """Runs subscriber and publisher as separate processes; returns the subscriber's report and all output."""
    script = f'{sys.executable} {PEER} sub & {sys.executable} {PEER} pub >/dev/null; wait $!'
    done = subprocess.run([*wrapper, 'bash', '-c', script], env=env, capture_output=True, text=True, timeout=90)
    lines = [line for line in done.stdout.splitlines() if line.startswith('{')]
    assert done.returncode == 0 and lines, f'exchange failed: {done.stdout}\n{done.stderr}'
    return json.loads(lines[-1]), done.stdout


def tx_packets(output: str) -> int:
    return int(re.search(r't2i0_tx_packets=(\d+)', output).group(1))


@pytest.mark.ros
def test_request_and_4mb_patch_arrive_intact():
    report, _ = exchange(ros_env())
    assert report['ok'] and report['sha256_match']
    assert report['bytes'] == 1182 * 1182 * 3
    assert report['request'] == ['req-1', 'a red robot arm stacking blue cubes, studio light', 1920, 1080, 0.5, 42]
    assert report['patch_meta'] == [6, 1, 2, [10, 20, 300, 310], [40, 80, 1200, 1240], [8, 8, 0, 8], 'req-1']
    print('4 MB patch latency ms:', report['patch_latency_ms'])


@pytest.mark.ros
def test_nothing_leaves_loopback(private_netns_available):
    """Inside a private namespace with a fake NIC: our settings send 0 packets on it, while DDS defaults do
    send there (which proves the counter sees DDS traffic)."""
    netns = ['bash', str(ROOT / 'scripts/netns_private.sh')]
    report, output = exchange(ros_env(), netns)
    assert report['sha256_match']
    assert tx_packets(output) == 0

    _, control = exchange(ros_env(ROS_AUTOMATIC_DISCOVERY_RANGE='SUBNET', FASTDDS_DEFAULT_PROFILES_FILE=None),
                          netns)
    assert tx_packets(control) > 0
