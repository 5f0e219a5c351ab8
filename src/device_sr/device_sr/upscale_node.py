"""The part of an SR stage node that edge_sr and device_sr share: receive low-res patches, upscale each
request's batch with the right back-end, send the result to the stitcher with measured compute time."""
from __future__ import annotations

import time

from rclpy.node import Node
from t2i_common.conversions import compressed_to_image, image_to_msg, msg_to_image
from t2i_common.node_tools import (
    MODEL_LOAD_LOCK,
    Param,
    SerialWorker,
    declare_parameters,
    expired,
    progress_message,
    report_failure,
)
from t2i_common.qos import DATA, PROGRESS, Topics
from t2i_interfaces.msg import GenerationResult, ImagePatch, Progress

COMMON_PARAMETERS = {
    'device': Param('', 'torch device of the SR model; empty picks cuda when present.'),
    'dtype': Param('', 'float32 or bfloat16 (about 2x faster on recent CPUs); empty uses the back-end default.'),
    'tile': Param(192, 'Inputs with a side above this many pixels run tile by tile (bounds memory).'),
}


class _ResampleOnly:
    """S = 1 (generation at the target size): patches only need the few pixels of rounding fixed."""
    name = weights = 'none (S=1: resample to the box only)'

    @staticmethod
    def upscale(patches: list, scale: float, prompt: str = '') -> list:
        return patches


NO_SR = _ResampleOnly()
NATIVE_SCALE_LIMIT = 4.0  # every SR back-end here is an x4 network


def patch_pixels(patch: ImagePatch):
    return msg_to_image(patch.image) if patch.image.width else compressed_to_image(patch.compressed_image)


class UpscaleNode(Node):
    """Subclasses name the input topic, the stage, and which back-end serves which patch role."""

    stage = ''

    def __init__(self, name: str, input_topic: str, parameters: dict[str, Param]):
        super().__init__(name)
        self.params = declare_parameters(self, {**COMMON_PARAMETERS, **parameters})
        self._backends = {}
        # two topics, so that a stitcher only receives what it finishes: patches never cross the link for nothing
        self._to_device = self.create_publisher(ImagePatch, Topics.UPSCALED_PATCHES, DATA)
        self._to_edge = self.create_publisher(ImagePatch, Topics.EDGE_UPSCALED_PATCHES, DATA)
        self._progress = self.create_publisher(Progress, Topics.PROGRESS, PROGRESS)
        self._results = self.create_publisher(GenerationResult, Topics.RESULTS, DATA)
        self._worker = SerialWorker(self, self.stage, self._upscale,
                                    batch_key=lambda patch: (patch.config.request.request_id, patch.role))
        self.create_subscription(ImagePatch, input_topic, self.on_patch, DATA)

    # -- what subclasses decide
    def backend_for(self, role: int) -> tuple[str, dict]:
        raise NotImplementedError

    def make_backend(self, name: str, options: dict):
        raise NotImplementedError

    def record_compute(self, patch: ImagePatch, seconds: float) -> None:
        raise NotImplementedError

    # -- shared behaviour
    def on_patch(self, patch: ImagePatch) -> None:
        self._worker.submit(patch)

    def backend(self, role: int):
        name, options = self.backend_for(role)
        # unset parameters ('' / None) fall back to the back-end's defaults; bicubic takes no options
        options = {} if name == 'bicubic' else {k: v for k, v in options.items() if v not in (None, '')}
        key = (name, tuple(sorted(options.items())))
        with MODEL_LOAD_LOCK:
            if key not in self._backends:
                self._backends[key] = self.make_backend(name, options)
                self.get_logger().info(f'{self.stage}: back-end {name} ready ({self._backends[key].weights})')
            return self._backends[key]

    def _upscale(self, patches: list[ImagePatch]) -> None:
        config = patches[0].config
        if expired(config):
            return
        try:
            backend = self.backend(patches[0].role) if config.sr_scale > 1.0 else NO_SR
            started = time.perf_counter()
            outputs = self._upscale_batch(backend, patches, config.request.prompt)
            per_patch = (time.perf_counter() - started) / len(patches)
        except Exception as error:
            report_failure(self, self._results, config, f'{self.stage} failed on {len(patches)} patches: {error}')
            return
        for patch, pixels in zip(patches, outputs):
            patch.image = image_to_msg(pixels, frame_id=config.request.request_id)
            patch.compressed_image.data = b''
            patch.upscaled = True
            patch.sr_backend = backend.weights
            self.record_compute(patch, per_patch)
            patch.header.stamp = self.get_clock().now().to_msg()
            (self._to_device if config.device_available else self._to_edge).publish(patch)
        self.get_logger().info(f'{config.request.request_id[:12]}: {len(patches)} patches upscaled in '
                               f'{per_patch * len(patches):.2f} s by {backend.name}')
        self._progress.publish(progress_message(self, config.request.request_id, self.stage, 1.0,
                                                f'{len(patches)} patches upscaled'))

    @staticmethod
    def _upscale_batch(backend, patches: list[ImagePatch], prompt: str) -> list:
        """Patches of equal size go to the back-end together (diffusion SR batches them); each output is then
        resampled to its exact high-res box, whatever the back-end's rounding."""
        from device_sr.backend import resample

        pixels = [patch_pixels(patch) for patch in patches]
        by_shape: dict[tuple, list[int]] = {}
        for index, image in enumerate(pixels):
            by_shape.setdefault(image.shape, []).append(index)
        outputs = [None] * len(patches)
        for indices in by_shape.values():
            # size rounding can make a patch's scale exceed the x4 networks' (e.g. 64 -> 320 px is 5x): the
            # network does x4 and the resample below covers the rest
            scale = min(patches[indices[0]].scale, NATIVE_SCALE_LIMIT)
            upscaled = backend.upscale([pixels[i] for i in indices], scale, prompt)
            for index, image in zip(indices, upscaled):
                x0, y0, x1, y1 = patches[index].highres_box
                outputs[index] = resample(image, y1 - y0, x1 - x0)
        return outputs
