"""The super-resolution back-end interface shared by the device (Real-ESRGAN) and the edge (diffusion SR).

Defined here, in the package without a diffusers dependency, so that both stages (and the stitcher's tests)
agree on one contract: uint8 RGB patches in, uint8 RGB patches of size round(h*scale) x round(w*scale) out,
and every back-end says which network and which weights made its output.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import cv2
import numpy as np


@runtime_checkable
class SRBackend(Protocol):
    """What the SR nodes call. `name` is the registry name, `weights` says exactly what produced the pixels."""

    name: str
    weights: str

    def upscale(self, patches: list[np.ndarray], scale: float, prompt: str = '') -> list[np.ndarray]:
        """Upscale uint8 HxWx3 RGB patches by `scale`; `prompt` is only used by text-conditioned back-ends."""
        ...


def output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(H, W) an SR back-end must return for an h x w patch, the rule the stitcher relies on."""
    if scale <= 0:
        raise ValueError(f'scale must be positive, got {scale}')
    return max(1, round(height * scale)), max(1, round(width * scale))


def resample(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to (height, width): INTER_AREA when shrinking (no aliasing after a fixed x4 network),
    bicubic when enlarging."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def check_patches(patches: list[np.ndarray]) -> None:
    """Reject what would otherwise fail deep inside a network with an unhelpful message."""
    for index, patch in enumerate(patches):
        if patch.dtype != np.uint8 or patch.ndim != 3 or patch.shape[2] != 3:
            raise ValueError(f'patch {index}: expected uint8 HxWx3 RGB, got {patch.dtype} {patch.shape}')


class BicubicBackend:
    """Interpolation only: the quality baseline in tests and the last-resort fallback when no weights load."""

    name = 'bicubic'
    weights = 'none (cv2 bicubic interpolation, no learned weights)'

    def upscale(self, patches: list[np.ndarray], scale: float, prompt: str = '') -> list[np.ndarray]:
        check_patches(patches)
        return [resample(patch, *output_size(patch.shape[0], patch.shape[1], scale)) for patch in patches]


SR_BACKEND_NAMES = ('realesr-compact', 'realesrgan-x4plus', 'bicubic')
# run-time options the nodes pass to every back-end; interpolation has no use for them
OPTIONS_WITHOUT_EFFECT_ON_INTERPOLATION = frozenset({'device', 'dtype', 'tile'})


def make_sr_backend(name: str = 'realesr-compact', **options) -> SRBackend:
    """Device-side registry. Options go to the back-end (e.g. weights=path, tile=..., dtype='bfloat16')."""
    if name == 'bicubic':
        unknown = set(options) - OPTIONS_WITHOUT_EFFECT_ON_INTERPOLATION
        if unknown:
            raise TypeError(f'bicubic takes no options {sorted(unknown)}')
        return BicubicBackend()
    if name in ('realesrgan-x4plus', 'realesr-compact'):
        from device_sr.realesrgan import load_realesrgan_backend  # torch only when a network is asked for
        return load_realesrgan_backend(name, **options)
    raise ValueError(f'unknown device SR back-end {name!r}; choose one of {SR_BACKEND_NAMES}')
