"""device_sr node (device): Real-ESRGAN on background patches. It also measures the edge -> device link from
the background bursts it receives (receiver clock only) and publishes LinkStats, which doubles as the
device's heartbeat: the controller's liveliness lease on it tells when the device is gone."""
from __future__ import annotations

import time

from t2i_common.bandwidth import BandwidthEstimator
from t2i_common.node_tools import Param, run_nodes, seconds_since
from t2i_common.qos import Topics, heartbeat
from t2i_common.sizing import foreground_cell_count
from t2i_interfaces.msg import ImagePatch, LinkStats

from device_sr.upscale_node import UpscaleNode

PARAMETERS = {
    'backend': Param('realesr-compact', 'Background SR back-end: realesr-compact (SRVGGNet, fast), '
                                        'realesrgan-x4plus (RRDBNet, heavy) or bicubic.'),
    'link_stats_period_s': Param(0.5, 'Period of LinkStats (also the heartbeat the controller watches).'),
    'liveliness_lease_s': Param(2.0, 'Liveliness lease of LinkStats: how fast the controller notices a '
                                     'vanished device.'),
    'initial_bandwidth_bps': Param(100e6, 'Bandwidth reported before any burst was measured.'),
}


class DeviceSRNode(UpscaleNode):
    stage = 'device_sr'

    def __init__(self):
        super().__init__('device_sr', Topics.BACKGROUND_PATCHES, PARAMETERS)
        self._link = BandwidthEstimator()
        self._burst_counts: dict[str, int] = {}
        self._link_stats = self.create_publisher(LinkStats, Topics.LINK_STATS,
                                                  heartbeat(self.params['liveliness_lease_s']))
        self.create_timer(self.params['link_stats_period_s'], self._publish_link_stats)
        self.backend(ImagePatch.ROLE_BACKGROUND)

    def on_patch(self, patch: ImagePatch) -> None:
        request_id = patch.config.request.request_id
        self._link.observe(request_id, len(patch.image.data) + len(patch.compressed_image.data), time.monotonic())
        received = self._burst_counts[request_id] = self._burst_counts.get(request_id, 0) + 1
        config = patch.config
        edge_patches = 0 if config.sr_scale <= 1.0 else foreground_cell_count(config.grid_size,
                                                                                config.foreground_ratio)
        if received == patch.patch_count - edge_patches:
            self._link.end_burst(request_id)  # the request's whole background burst is in
            del self._burst_counts[request_id]
        patch.measured.t5_background_transfer = seconds_since(patch.header.stamp)
        super().on_patch(patch)

    def _publish_link_stats(self) -> None:
        estimate = self._link.estimate(time.monotonic())
        measured = estimate.bits_per_second is not None
        msg = LinkStats(bandwidth_bps=float(estimate.bits_per_second if measured
                                            else self.params['initial_bandwidth_bps']),
                        confidence=float(estimate.confidence), samples=int(estimate.samples))
        msg.header.stamp = self.get_clock().now().to_msg()
        self._link_stats.publish(msg)

    def backend_for(self, role: int) -> tuple[str, dict]:
        return self.params['backend'], {'device': self.params['device'] or None,
                                        'dtype': self.params['dtype'] or None, 'tile': self.params['tile']}

    def make_backend(self, name: str, options: dict):
        from device_sr.backend import make_sr_backend
        return make_sr_backend(name, **options)

    def record_compute(self, patch: ImagePatch, seconds: float) -> None:
        patch.measured.t3_device_sr = seconds


def main(args=None) -> None:
    run_nodes([DeviceSRNode], args)
