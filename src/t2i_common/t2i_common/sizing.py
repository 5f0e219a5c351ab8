"""Sizes shared by the controller, the generator and the partitioner, so that all stages agree on them.

Rule of `generation_size`: the generation resolution R is the target resolution R~ divided by the SR scale S,
each side rounded to the nearest multiple of `multiple` (half rounds up) and never below `min_side`.
Rounding each side on its own keeps the aspect ratio within one `multiple` per side, which is as well as the
latent grid of the generator (8 px per latent cell, UNet down-sampling to 1/64) allows.
"""

from __future__ import annotations

import math


def generation_size(
    target_w: int, target_h: int, scale: float, multiple: int = 64, min_side: int | None = None
) -> tuple[int, int]:
    """Return (w, h) to generate at, so that upscaling by about `scale` reaches (target_w, target_h)."""
    if target_w <= 0 or target_h <= 0:
        raise ValueError(f'target size must be positive, got {target_w}x{target_h}')
    if not scale >= 1.0:
        raise ValueError(f'scale must be >= 1 (super-resolution only enlarges), got {scale}')
    if multiple <= 0:
        raise ValueError(f'multiple must be positive, got {multiple}')
    floor_side = multiple if min_side is None else min_side
    if floor_side <= 0:
        raise ValueError(f'min_side must be positive, got {floor_side}')

    def side(target: int) -> int:
        rounded = math.floor(target / scale / multiple + 0.5) * multiple
        return max(floor_side, rounded)

    return side(target_w), side(target_h)


def foreground_cell_count(grid: int, foreground_ratio: float) -> int:
    """ceil(gamma * G^2): how many grid cells get diffusion SR (the partitioner and the cost model must agree)."""
    if grid < 1:
        raise ValueError(f'grid must be >= 1, got {grid}')
    if not 0.0 <= foreground_ratio <= 1.0:
        raise ValueError(f'foreground_ratio must be in [0, 1], got {foreground_ratio}')
    cells = grid * grid
    # The small tolerance keeps e.g. 0.7 * 10 = 7.000000000000001 from rounding up to 8.
    return min(cells, math.ceil(foreground_ratio * cells - 1e-9))
