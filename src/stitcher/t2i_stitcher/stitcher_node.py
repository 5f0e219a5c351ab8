"""stitcher node (device): collects the upscaled patches of each request, colour-matches the diffusion
patches to the Real-ESRGAN ones, blends them into the target image and sends the request's one result."""
from __future__ import annotations

from dataclasses import dataclass, field

from rclpy.node import Node
from sensor_msgs.msg import Image
from t2i_common.conversions import image_to_msg, msg_to_image
from t2i_common.node_tools import (
    Param,
    RecentIds,
    declare_parameters,
    error_result,
    expired,
    progress_message,
    report_failure,
    run_nodes,
    seconds_since,
)
from t2i_common.qos import DATA, PROGRESS, Topics
from t2i_interfaces.msg import GenerationConfig, GenerationResult, ImagePatch, LatencyBreakdown, Progress

from t2i_stitcher.blend import Canvas, Patch

PARAMETERS = {
    'serves': Param('all', 'Which patches this stitcher takes: device (t2i/patches/upscaled, the device path), '
                           'edge_fallback (t2i/patches/upscaled_on_edge: runs on the edge for requests planned '
                           'while the device was gone), or all (both).'),
    'colour_fix': Param('mean_std', 'Colour match of diffusion patches to the background model: mean_std, '
                                    'wavelet or none.'),
    'deadline_check_period_s': Param(0.2, 'How often requests past their deadline are ended.'),
}


SERVED_TOPICS = {'device': [Topics.UPSCALED_PATCHES], 'edge_fallback': [Topics.EDGE_UPSCALED_PATCHES],
                 'all': [Topics.UPSCALED_PATCHES, Topics.EDGE_UPSCALED_PATCHES]}


@dataclass
class PendingImage:
    config: GenerationConfig
    canvas: Canvas
    measured: LatencyBreakdown = field(default_factory=LatencyBreakdown)
    weights: set[str] = field(default_factory=set)


class StitcherNode(Node):
    def __init__(self, name: str = 'stitcher'):
        super().__init__(name)
        self.params = declare_parameters(self, PARAMETERS)
        if self.params['serves'] not in SERVED_TOPICS:
            raise ValueError(f'serves must be one of {sorted(SERVED_TOPICS)}, not {self.params["serves"]!r}')
        self._pending: dict[str, PendingImage] = {}
        self._finished = RecentIds()
        self._images = self.create_publisher(Image, Topics.IMAGES, DATA)
        self._results = self.create_publisher(GenerationResult, Topics.RESULTS, DATA)
        self._progress = self.create_publisher(Progress, Topics.PROGRESS, PROGRESS)
        for topic in SERVED_TOPICS[self.params['serves']]:
            self.create_subscription(ImagePatch, topic, self._on_patch, DATA)
        self.create_timer(self.params['deadline_check_period_s'], self._end_expired)

    def _on_patch(self, patch: ImagePatch) -> None:
        try:
            self._add(patch)
        except Exception as error:  # a malformed patch fails its request, never the node
            request_id = patch.config.request.request_id
            if request_id in self._pending:
                self._finish(request_id, GenerationResult.STATUS_MODEL_ERROR, f'bad patch: {error}')
            elif request_id not in self._finished:
                self._finished.add(request_id)
                report_failure(self, self._results, patch.config, f'bad patch: {error}')

    def _add(self, patch: ImagePatch) -> None:
        config = patch.config
        request_id = config.request.request_id
        if request_id in self._finished:
            return
        pending = self._pending.get(request_id)
        if pending is None:
            fix = self.params['colour_fix']
            canvas = Canvas((config.request.target_width, config.request.target_height),
                            expected=range(patch.patch_count), colour_fix=None if fix == 'none' else fix)
            pending = self._pending[request_id] = PendingImage(config, canvas)
            pending.measured.t1_generation = patch.measured.t1_generation
            pending.weights.add(f'generator: {patch.generator_weights}')
        foreground = patch.role == ImagePatch.ROLE_FOREGROUND
        measured = pending.measured
        if foreground:
            measured.t2_edge_sr += patch.measured.t2_edge_sr
            measured.t4_edge_sr_transfer = max(measured.t4_edge_sr_transfer, seconds_since(patch.header.stamp))
        else:
            measured.t2_edge_sr += patch.measured.t2_edge_sr  # background upscaled on the edge (device gone)
            measured.t3_device_sr += patch.measured.t3_device_sr
            measured.t5_background_transfer = max(measured.t5_background_transfer,
                                                  patch.measured.t5_background_transfer)
        pending.weights.add(f'{"foreground" if foreground else "background"} SR: {patch.sr_backend}')
        pending.canvas.add(Patch(patch.patch_index, tuple(patch.highres_box), tuple(patch.highres_overlap),
                                 msg_to_image(patch.image), foreground))
        self._progress.publish(progress_message(
            self, request_id, 'stitcher', 1 - len(pending.canvas.missing) / patch.patch_count,
            f'{patch.patch_count - len(pending.canvas.missing)}/{patch.patch_count} patches'))
        if not pending.canvas.missing:
            self._finish(request_id, GenerationResult.STATUS_OK, 'ok')

    def _end_expired(self) -> None:
        for request_id, pending in list(self._pending.items()):
            if expired(pending.config):
                missing = pending.canvas.missing
                self._finish(request_id, GenerationResult.STATUS_TIMEOUT,
                             f'deadline of {pending.config.request.deadline_s:.1f} s passed with patches '
                             f'{missing} missing; the image has holes there')

    def _finish(self, request_id: str, status: int, message: str) -> None:
        pending = self._pending.pop(request_id)
        self._finished.add(request_id)
        stitched = pending.canvas.finish()
        result = error_result(pending.config, status, message)
        result.image = image_to_msg(stitched.image, frame_id=request_id)
        result.image.header.stamp = self.get_clock().now().to_msg()
        result.missing_patches = len(stitched.missing)
        result.weights = sorted(pending.weights)
        result.measured = self._latency(pending)
        result.header.stamp = result.image.header.stamp
        if status == GenerationResult.STATUS_OK:
            self._images.publish(result.image)
        self._results.publish(result)

    @staticmethod
    def _latency(pending: PendingImage) -> LatencyBreakdown:
        measured = pending.measured
        measured.t6_sr_stage = max(measured.t2_edge_sr + measured.t4_edge_sr_transfer,
                                   measured.t3_device_sr + measured.t5_background_transfer)
        # from the controller's decision: client clocks (and replayed bags' stamps) are not trusted
        measured.total = seconds_since(pending.config.header.stamp)
        measured.other = max(0.0, measured.total - measured.t1_generation - measured.t6_sr_stage)
        return measured


def main(args=None) -> None:
    run_nodes([StitcherNode], args)
