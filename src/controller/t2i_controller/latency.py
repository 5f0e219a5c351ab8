"""Latency model T = T1 + max(T2 + T4, T3 + T5), evaluated for many configs at once.

  T1 = (xi1(D, R) + decode(R)) / C1   generate the latent at R = R~/S and decode it on the edge
  T2 = xi2(R, gamma) / C1             n_fg foreground patches of diffusion SR on the edge
  T3 = xi3(R, gamma) / C2             n_bg background patches of learning-based SR on the device
  T4 = eta(R~, gamma) / B             edge -> device: the foreground patches at OUTPUT resolution
  T5 = eta(R, gamma) / B              edge -> device: the background patches at low resolution
  T6 = max(T2 + T4, T3 + T5)          the two SR paths run in parallel
n_fg = ceil(gamma * G^2), n_bg = G^2 - n_fg. A patch is the mean cell plus its overlap: the G - 1 inner
borders of a row add 2 * overlap pixels each, i.e. 2 * overlap * (G - 1) / G per cell side on average. Bytes
are pixels x bytes/pixel of the configured encoding + a per-message overhead, one message per patch.
S = 1 means no SR: T2 = T3 = T4 = 0 and T5 sends the whole image in one message.
Edge and device seconds at full availability are kept too: they are what concurrent requests share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from t2i_common.sizing import foreground_cell_count, generation_size

from .problem import Config, PipelineSettings, Resources
from .profile import Profile


@dataclass(frozen=True)
class LatencyBreakdown:
    t1: float
    t2: float
    t3: float
    t4: float
    t5: float
    t6: float
    total: float
    edge_seconds: float  # edge compute at full availability (generation, decode, diffusion SR)
    device_seconds: float  # device compute at full availability (learning-based SR)


@dataclass(frozen=True)
class LatencyTable:
    """The breakdown as arrays, one entry per config (same order as the configs given)."""

    t1: np.ndarray
    t2: np.ndarray
    t3: np.ndarray
    t4: np.ndarray
    t5: np.ndarray
    edge_seconds: np.ndarray
    device_seconds: np.ndarray

    @property
    def t6(self) -> np.ndarray:
        return np.maximum(self.t2 + self.t4, self.t3 + self.t5)

    @property
    def total(self) -> np.ndarray:
        return self.t1 + self.t6

    def breakdown(self, index: int) -> LatencyBreakdown:
        parts = [float(getattr(self, name)[index]) for name in ('t1', 't2', 't3', 't4', 't5')]
        t6 = max(parts[1] + parts[3], parts[2] + parts[4])
        return LatencyBreakdown(*parts, t6, parts[0] + t6, float(self.edge_seconds[index]),
                                float(self.device_seconds[index]))


def generation_pixels(configs: Sequence[Config], target_size: tuple[int, int], settings: PipelineSettings
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per config the generation width and height (t2i_common.sizing rule), as float arrays."""
    sizes = {scale: generation_size(*target_size, scale, settings.size_multiple)
             for scale in {config.scale for config in configs}}
    return (np.array([sizes[c.scale][0] for c in configs], float),
            np.array([sizes[c.scale][1] for c in configs], float))


def latency_table(configs: Sequence[Config], target_size: tuple[int, int], profile: Profile,
                  resources: Resources, settings: PipelineSettings) -> LatencyTable:
    width, height = generation_pixels(configs, target_size, settings)
    steps = np.array([c.steps for c in configs], float)
    grid = settings.grid
    counts = {ratio: foreground_cell_count(grid, ratio) for ratio in {c.foreground_ratio for c in configs}}
    sr = np.array([c.scale > 1 for c in configs])
    n_fg = np.where(sr, [counts[c.foreground_ratio] for c in configs], 0)
    n_bg = np.where(sr, grid * grid - n_fg, 0)

    overlap = 2.0 * settings.overlap_px * (grid - 1) / grid
    patch_px = (width / grid + overlap) * (height / grid + overlap)
    out_w, out_h = target_size
    out_patch_px = (out_w / grid + overlap * out_w / width) * (out_h / grid + overlap * out_h / height)

    generate = profile.generation(steps, width * height) + profile.decode(width * height)
    edge_sr = profile.edge_sr.seconds(patch_px, n_fg)
    device_sr = profile.device_sr.seconds(patch_px, n_bg)
    per_pixel = profile.transfer.encoded_bytes_per_pixel
    overhead = profile.transfer.per_message_overhead_bytes
    bits = 8.0 / resources.bandwidth_bps
    whole_image = (out_w * out_h * per_pixel + overhead) * bits
    return LatencyTable(
        t1=generate / resources.edge_availability,
        t2=edge_sr / resources.edge_availability,
        t3=device_sr / resources.device_availability,
        t4=n_fg * (out_patch_px * per_pixel + overhead) * bits,
        t5=np.where(sr, n_bg * (patch_px * per_pixel + overhead) * bits, whole_image),
        edge_seconds=generate + edge_sr,
        device_seconds=device_sr,
    )
