"""Feathered overlap-add of upscaled patches into one image, colour matching between SR models, seam metric.

Patches come from two SR models (diffusion SR on the edge, Real-ESRGAN on the device) and arrive in any
order; some may never arrive. Each patch covers its core cell plus an overlap margin on inner edges. Inside
the overlap, weights follow a raised-cosine ramp (sin^2 up, cos^2 down, so two symmetric neighbours sum to
exactly 1); the canvas divides by the accumulated weight, so weights sum to 1 everywhere even where rounding
made neighbouring margins differ by a pixel. Pixels no patch covered come from a fallback image.
All pixel values are in the 0..255 range (float inside, uint8 out).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

Box = tuple[int, int, int, int]
Margins = tuple[int, int, int, int]
COLOUR_FIXES = ('mean_std', 'wavelet')


@dataclass(frozen=True)
class Patch:
    index: int
    box: Box  # (x0, y0, x1, y1) in the output, half-open, overlap included
    margins: Margins  # (left, top, right, bottom) overlap inside `box`
    pixels: np.ndarray  # H x W x 3, any numeric dtype, values 0..255
    foreground: bool = False  # made by diffusion SR: colour-matched to the background model when enabled


@dataclass(frozen=True)
class StitchResult:
    image: np.ndarray  # H x W x 3 uint8
    missing: list[int]  # expected patch indices that never arrived
    filled_pixels: int  # pixels taken from the fallback (or left black without one)


def _ramp_profile(length: int, lead: int, trail: int) -> np.ndarray:
    """1-D weights: rise over 2*lead pixels, fall over 2*trail pixels (sampled at pixel centres, never 0)."""
    profile = np.ones(length)
    for margin, reverse in ((lead, False), (trail, True)):
        if margin <= 0:
            continue
        span = min(2 * margin, length)
        rise = np.sin(0.5 * np.pi * (np.arange(span) + 0.5) / (2 * margin)) ** 2
        if reverse:
            profile[length - span :] *= rise[::-1]
        else:
            profile[:span] *= rise
    return profile


def feather_weights(height: int, width: int, margins: Margins) -> np.ndarray:
    """H x W weights of a patch: a ramp spanning the overlap (margin out, margin in) on each inner edge."""
    left, top, right, bottom = margins
    return np.outer(_ramp_profile(height, top, bottom), _ramp_profile(width, left, right))


def _fit(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Float copy of a patch at the box size; SR output may be a pixel off where the scale was rounded."""
    data = np.asarray(pixels, dtype=np.float64)
    if data.ndim != 3 or data.shape[2] != 3:
        raise ValueError(f'patch must be H x W x 3, got shape {data.shape}')
    if data.shape[:2] != (height, width):
        data = cv2.resize(data, (width, height), interpolation=cv2.INTER_CUBIC)
    return data


def match_colour(
    patch: np.ndarray, reference: np.ndarray, method: str = 'mean_std', mask: np.ndarray | None = None
) -> np.ndarray:
    """Give `patch` the colour of `reference` (same H x W: the other model's output over the same pixels).

    'mean_std': per channel, match mean and standard deviation computed over `mask` (default: all pixels),
    applied to the whole patch (AdaIN-style). 'wavelet': keep the patch's detail and take the low
    frequencies (Gaussian, sigma ~ 1/8 of the patch side) from the reference, as StableSR's colour fix does;
    it needs a full reference and ignores `mask`.
    """
    data = np.asarray(patch, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if data.shape != ref.shape:
        raise ValueError(f'patch {data.shape} and reference {ref.shape} must have the same shape')
    if method == 'mean_std':
        region = np.ones(data.shape[:2], bool) if mask is None else np.asarray(mask, bool)
        if not region.any():
            return data
        own, other = data[region], ref[region]
        scale = other.std(axis=0) / np.maximum(own.std(axis=0), 1e-3)
        return np.clip((data - own.mean(axis=0)) * scale + other.mean(axis=0), 0, 255)
    if method == 'wavelet':
        sigma = (max(data.shape[:2]) / 8.0, max(data.shape[:2]) / 8.0, 0)
        low = gaussian_filter(data, sigma, mode='reflect')
        return np.clip(data - low + gaussian_filter(ref, sigma, mode='reflect'), 0, 255)
    raise ValueError(f'unknown colour fix {method!r}; known: {COLOUR_FIXES}')


@dataclass
class Canvas:
    """Accumulates weight * pixel and weight for patches in any order; `finish` normalises and fills gaps.

    `expected`: indices that should arrive (for the missing report). `fallback`: an image of the whole
    output, any size (resized here), e.g. the low-res image; fills uncovered pixels and is the colour
    reference where a foreground patch has no background neighbour. `colour_fix`: None, 'mean_std' (match
    foreground patches to the background output over their overlap) or 'wavelet' (needs `fallback`).
    Later duplicates of an index are ignored, so a re-sent message changes nothing.
    """

    size: tuple[int, int]  # (W, H) of the output
    expected: Iterable[int] = ()
    fallback: np.ndarray | None = None
    colour_fix: str | None = None
    _sum: np.ndarray = field(init=False, repr=False)
    _weight: np.ndarray = field(init=False, repr=False)
    _deferred: list[Patch] = field(init=False, repr=False, default_factory=list)
    _received: set[int] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        width, height = self.size
        if width <= 0 or height <= 0:
            raise ValueError(f'canvas size must be positive, got {self.size}')
        if self.colour_fix not in (None, *COLOUR_FIXES):
            raise ValueError(f'unknown colour fix {self.colour_fix!r}; known: {COLOUR_FIXES}')
        if self.colour_fix == 'wavelet' and self.fallback is None:
            raise ValueError('the wavelet colour fix takes its low frequencies from `fallback`; pass one')
        self.expected = sorted(set(self.expected))
        if self.fallback is not None:
            self.fallback = _fit(self.fallback, width, height)
        self._sum = np.zeros((height, width, 3))
        self._weight = np.zeros((height, width))

    @property
    def missing(self) -> list[int]:
        return [index for index in self.expected if index not in self._received]

    def add(self, patch: Patch) -> None:
        x0, y0, x1, y1 = patch.box
        width, height = self.size
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise ValueError(f'patch {patch.index} box {patch.box} is not inside the {width}x{height} canvas')
        if min(patch.margins) < 0 or patch.margins[0] + patch.margins[2] > x1 - x0 or (
            patch.margins[1] + patch.margins[3] > y1 - y0
        ):
            raise ValueError(f'patch {patch.index} margins {patch.margins} do not fit its box {patch.box}')
        if patch.index in self._received:
            return
        self._received.add(patch.index)
        fitted = Patch(patch.index, patch.box, patch.margins, _fit(patch.pixels, x1 - x0, y1 - y0), patch.foreground)
        if patch.foreground and self.colour_fix is not None:
            self._deferred.append(fitted)  # needs the background, which may not have arrived yet
        else:
            self._accumulate(fitted, self._sum, self._weight)

    @staticmethod
    def _accumulate(patch: Patch, total: np.ndarray, weight: np.ndarray) -> None:
        x0, y0, x1, y1 = patch.box
        weights = feather_weights(y1 - y0, x1 - x0, patch.margins)
        total[y0:y1, x0:x1] += weights[..., None] * patch.pixels
        weight[y0:y1, x0:x1] += weights

    def _colour_fixed(self, patch: Patch, background: np.ndarray, coverage: np.ndarray) -> Patch:
        x0, y0, x1, y1 = patch.box
        if self.colour_fix == 'wavelet':
            reference, mask = self.fallback[y0:y1, x0:x1], None
        else:
            mask = coverage[y0:y1, x0:x1] > 0
            reference = background[y0:y1, x0:x1]
            if mask.sum() < 16:  # no background neighbour: compare with the fallback, or leave it as it is
                if self.fallback is None:
                    return patch
                reference, mask = self.fallback[y0:y1, x0:x1], None
        fixed = match_colour(patch.pixels, reference, self.colour_fix, mask)
        return Patch(patch.index, patch.box, patch.margins, fixed, patch.foreground)

    def composite(self) -> tuple[np.ndarray, int]:
        """The blended float image and the number of pixels filled from the fallback (or left 0)."""
        total, weight = self._sum.copy(), self._weight.copy()
        if self._deferred:
            covered = np.maximum(self._weight, 1e-12)[..., None]
            background = self._sum / covered
            for patch in sorted(self._deferred, key=lambda p: p.index):
                self._accumulate(self._colour_fixed(patch, background, self._weight), total, weight)
        uncovered = weight <= 0
        image = total / np.where(uncovered, 1.0, weight)[..., None]
        if self.fallback is not None:
            image[uncovered] = self.fallback[uncovered]
        return image, int(uncovered.sum())

    def finish(self) -> StitchResult:
        image, filled = self.composite()
        return StitchResult(np.clip(np.rint(image), 0, 255).astype(np.uint8), self.missing, filled)


def stitch(
    patches: Iterable[Patch],
    size: tuple[int, int],
    expected: Iterable[int] = (),
    fallback: np.ndarray | None = None,
    colour_fix: str | None = None,
) -> StitchResult:
    """One-shot form of `Canvas` for when all patches are at hand."""
    canvas = Canvas(size, expected, fallback, colour_fix)
    for patch in patches:
        canvas.add(patch)
    return canvas.finish()


def seam_score(image: np.ndarray, boxes: Sequence[Box]) -> float:
    """Mean |gradient| across patch borders divided by mean |gradient| everywhere else (luma, 1-px steps).

    `boxes` are the core boxes that tile the image; only their inner edges count. About 1 means the borders
    look like the rest of the image; a visible seam (a step in colour or sharpness) pushes it well above 1.
    """
    luma = np.asarray(image, dtype=np.float64)
    luma = luma.mean(axis=2) if luma.ndim == 3 else luma
    height, width = luma.shape
    grad_x, grad_y = np.abs(np.diff(luma, axis=1)), np.abs(np.diff(luma, axis=0))
    seam_x, seam_y = np.zeros(grad_x.shape, bool), np.zeros(grad_y.shape, bool)
    for x0, y0, x1, y1 in boxes:
        for x in (x0, x1):
            if 0 < x < width:
                seam_x[y0:y1, x - 1] = True
        for y in (y0, y1):
            if 0 < y < height:
                seam_y[y - 1, x0:x1] = True
    on_seam = np.concatenate([grad_x[seam_x], grad_y[seam_y]])
    off_seam = np.concatenate([grad_x[~seam_x], grad_y[~seam_y]])
    if on_seam.size == 0 or off_seam.size == 0:
        return 1.0
    return float(on_seam.mean() / max(off_seam.mean(), 1e-9))
