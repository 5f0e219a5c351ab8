"""Quality model Q = g(D, R) * m(gamma) from the profile's tables.

g is the quality of generating with D steps at R = w*h pixels; m multiplies by the share of cells that get
diffusion SR. Without SR (S = 1) no patch is upscaled, so m does not apply (factor 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .latency import generation_pixels
from .problem import Config, PipelineSettings
from .profile import Profile


def quality_table(configs: Sequence[Config], target_size: tuple[int, int], profile: Profile,
                  settings: PipelineSettings) -> np.ndarray:
    width, height = generation_pixels(configs, target_size, settings)
    steps = np.array([c.steps for c in configs], float)
    ratios = np.array([c.foreground_ratio for c in configs], float)
    sr = np.array([c.scale > 1 for c in configs])
    factor = np.where(sr, profile.quality_foreground(ratios), 1.0)
    return profile.quality_generation(steps, width * height) * factor
