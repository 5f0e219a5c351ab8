"""The device process dies mid-run: pending requests still end (edge fallback or a clear error) within their
deadlines, and new requests take the edge-only path. Its own module, so that no other graph (the e2e module's
shared one) is alive on the DDS domain while the device is gone."""
import signal
import threading
import time

import pytest
from rclpy.node import Node
from std_msgs.msg import Bool

from ros_testing import ROOT
from t2i_bringup.client import GenerationClient, make_request
from t2i_bringup.processes import GraphProcesses
from t2i_common.conversions import msg_to_image
from t2i_common.qos import LATEST, Topics
from t2i_interfaces.msg import GenerationResult

pytestmark = [pytest.mark.ros, pytest.mark.slow]
E2E_PARAMS = ROOT / 'tests' / 'config' / 'e2e.yaml'
READY_TIMEOUT_S = 300


def wait_for_device_state(node: Node, available: bool, timeout_s: float) -> bool:
    """Waits until the controller reports the device (un)available on its latched topic."""
    seen = threading.Event()
    subscription = node.create_subscription(Bool, Topics.DEVICE_AVAILABLE,
                                            lambda msg: seen.set() if msg.data == available else seen.clear(), LATEST)
    try:
        return seen.wait(timeout_s)
    finally:
        node.destroy_subscription(subscription)



def test_device_killed_mid_run_every_request_still_ends(tmp_path):
    with GraphProcesses(tmp_path / 'logs', params=[E2E_PARAMS]) as processes, \
            GenerationClient('kill_client') as client:
        assert client.wait_until_ready(READY_TIMEOUT_S)
        deadline_s = 60.0
        futures = [client.generate_async(make_request(f'pending {i}', 384, 384, 0.5, seed=i, deadline_s=deadline_s))
                   for i in range(2)]
        time.sleep(1.0)  # the requests are planned and on their way
        processes.kill('device', signal.SIGKILL)
        killed_at = time.monotonic()
        for future in futures:
            result = future.result(timeout=deadline_s + 30)
            assert result.status in (GenerationResult.STATUS_OK, GenerationResult.STATUS_NO_SR_PATH,
                                     GenerationResult.STATUS_TIMEOUT), result.message
            assert result.message
        assert time.monotonic() - killed_at < deadline_s + 10

        assert wait_for_device_state(client.node, available=False, timeout_s=30)  # liveliness lease ran out
        result = client.generate('after the device is gone', 384, 256, timeout_s=150)
        assert result.status == GenerationResult.STATUS_OK, result.message
        assert not result.config.device_available
        assert msg_to_image(result.image).shape == (256, 384, 3)
