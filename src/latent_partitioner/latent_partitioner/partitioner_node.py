"""latent_partitioner node (edge): ranks the latent's grid cells, decodes the latent, cuts overlapping image
patches and routes them: foreground to edge_sr, background over the link to the device (or to edge_sr
too when the controller reports the device gone)."""
from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import Image
from t2i_common.conversions import bytes_fields_to_array, image_to_compressed, image_to_msg
from t2i_common.node_tools import (
    MODEL_LOAD_LOCK,
    Param,
    SerialWorker,
    declare_parameters,
    expired,
    progress_message,
    report_failure,
    run_nodes,
)
from t2i_common.qos import DATA, LATEST, PROGRESS, Topics
from t2i_interfaces.msg import GenerationResult, ImagePatch, Latent, Progress

from latent_partitioner.partition import partition_latent, pixel_boxes, render_partition

PARAMETERS = {
    'model': Param('tiny-sdxl', 'Model whose VAE decodes the latent when the request names none '
                                '(must match the generator\'s default).'),
    'device': Param('', 'torch device of the VAE decoder; empty picks cuda when present.'),
    'scorer': Param('variance', 'Cell score that ranks foreground: variance (the paper) or gradient.'),
    'overlap_px': Param(16, 'Overlap in low-res pixels added on inner patch edges, blended by the stitcher.'),
    'vae_factor': Param(8, 'Pixels per latent cell of the VAE.'),
    'background_encoding': Param('raw', 'Encoding of background patches sent to the device: raw, png or jpeg.'),
    'publish_debug_image': Param(True, 'Publish the partition overlay (grid, foreground cells) for people.'),
}


class PartitionerNode(Node):
    def __init__(self):
        super().__init__('latent_partitioner')
        self.params = declare_parameters(self, PARAMETERS)
        if self.params['background_encoding'] not in ('raw', 'png', 'jpeg'):
            raise ValueError(f'background_encoding must be raw, png or jpeg, '
                             f'not {self.params["background_encoding"]!r}')
        self._decoders = {}
        self._foreground = self.create_publisher(ImagePatch, Topics.FOREGROUND_PATCHES, DATA)
        self._background = self.create_publisher(ImagePatch, Topics.BACKGROUND_PATCHES, DATA)
        self._debug = self.create_publisher(Image, Topics.PARTITION_DEBUG, LATEST)
        self._progress = self.create_publisher(Progress, Topics.PROGRESS, PROGRESS)
        self._results = self.create_publisher(GenerationResult, Topics.RESULTS, DATA)
        self._worker = SerialWorker(self, 'partition', self._partition)
        self.create_subscription(Latent, Topics.LATENTS, self._worker.submit, DATA)

    def _decoder(self, model: str):
        with MODEL_LOAD_LOCK:
            if model not in self._decoders:
                from t2i_generator.backend import load_decoder  # the VAE alone: no UNet, no text encoders
                self._decoders[model] = load_decoder(model, device=self.params['device'] or None)
            return self._decoders[model]

    def _partition(self, batch: list[Latent]) -> None:
        msg = batch[0]
        config = msg.config
        if expired(config):
            return
        model = config.request.model or self.params['model']
        started = time.perf_counter()
        try:
            latent = bytes_fields_to_array(msg.shape, msg.dtype, msg.data)
            image = self._decoder(model).decode(latent)
        except Exception as error:
            report_failure(self, self._results, config, f'decoding the latent failed: {error}')
            return
        decode_s = time.perf_counter() - started
        partition = partition_latent(latent, config.grid_size, config.foreground_ratio, self.params['scorer'])
        size = (image.shape[1], image.shape[0])
        geometry = pixel_boxes(partition, size, self.params['vae_factor'], self.params['overlap_px'],
                               (config.request.target_width, config.request.target_height))
        no_sr = config.sr_scale <= 1.0  # S = 1 (w/o SR): the image goes to the device as it is, in patches
        for cell, boxes in zip(partition.cells, geometry):
            patch = self._patch(msg, cell, boxes, image, decode_s)
            if no_sr:
                patch.role = ImagePatch.ROLE_BACKGROUND
            to_edge = patch.role == ImagePatch.ROLE_FOREGROUND or not config.device_available
            (self._foreground if to_edge else self._background).publish(patch)
        self.get_logger().info(f'{config.request.request_id[:12]}: decoded {size[0]}x{size[1]} in {decode_s:.2f} s, '
                               f'{len(partition.foreground)} foreground / {len(partition.background)} background')
        self._progress.publish(progress_message(self, config.request.request_id, 'partitioner', 1.0,
                                                f'{len(partition.foreground)} foreground, '
                                                f'{len(partition.background)} background patches'))
        if self.params['publish_debug_image']:
            # enlarged (nearest) to at least 512 px so that people can read the cell labels
            zoom = max(1, -(-512 // min(image.shape[:2])))
            enlarged = image.repeat(zoom, axis=0).repeat(zoom, axis=1)
            overlay = render_partition(enlarged, partition, self.params['vae_factor'] * zoom)
            self._debug.publish(image_to_msg(overlay, frame_id=config.request.request_id))

    def _patch(self, msg: Latent, cell, boxes, image, decode_s: float) -> ImagePatch:
        config = msg.config
        x0, y0, x1, y1 = boxes.lowres_box
        pixels = image[y0:y1, x0:x1]
        patch = ImagePatch(config=config, row=cell.row, col=cell.col, patch_index=cell.index,
                           patch_count=config.grid_size ** 2, spatial_variance=float(cell.score),
                           role=ImagePatch.ROLE_FOREGROUND if cell.foreground else ImagePatch.ROLE_BACKGROUND,
                           lowres_box=list(boxes.lowres_box), highres_box=list(boxes.highres_box),
                           overlap=list(boxes.margins), highres_overlap=list(boxes.highres_margins),
                           scale=(boxes.highres_box[2] - boxes.highres_box[0]) / max(1, x1 - x0))
        encoding = self.params['background_encoding']
        if cell.foreground or encoding == 'raw':
            patch.image = image_to_msg(pixels, frame_id=config.request.request_id)
        else:
            patch.compressed_image = image_to_compressed(pixels, encoding)
        patch.generator_weights = msg.weights
        patch.measured.t1_generation = msg.generation_time_s + decode_s  # T1 includes the decode, as modelled
        patch.header.stamp = self.get_clock().now().to_msg()  # send time: the receiver measures the transfer
        return patch


def main(args=None) -> None:
    run_nodes([PartitionerNode], args)
