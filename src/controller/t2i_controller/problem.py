"""The decision problem's vocabulary: what a request asks, what the controller picks, what it can pick from."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Config:
    """One choice for a request: SR scale S, denoising steps D, foreground ratio gamma."""

    scale: float
    steps: int
    foreground_ratio: float = 0.25


@dataclass(frozen=True)
class Request:
    target_size: tuple[int, int]  # (W, H) of the final image, R~
    deadline_s: float | None = None  # per-request latency limit on top of the model's bound L0
    request_id: str = ''


@dataclass(frozen=True)
class Resources:
    """What the stages can use now: C1, C2 are availability fractions in (0, 1], B in bit/s."""

    edge_availability: float = 1.0
    device_availability: float = 1.0
    bandwidth_bps: float = 100e6

    def __post_init__(self) -> None:
        for name in ('edge_availability', 'device_availability'):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f'{name} must be in (0, 1], got {value}')
        if not self.bandwidth_bps > 0:
            raise ValueError(f'bandwidth_bps must be > 0, got {self.bandwidth_bps}')


@dataclass(frozen=True)
class PipelineSettings:
    """Graph settings the cost model must mirror (grid, overlap and rounding used by the stages)."""

    grid: int = 4
    overlap_px: int = 16  # low-res pixels added on inner cell edges
    size_multiple: int = 64  # generation sides are multiples of this (t2i_common.sizing)
    foreground_ratio: float = 0.25  # gamma when it is not a decision variable; also the reference's gamma


@dataclass(frozen=True)
class CandidateSpace:
    """Values each decision variable may take; gamma is a decision variable when `ratios` has several values."""

    scales: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0)
    steps: tuple[int, ...] = field(default_factory=lambda: tuple(range(4, 51)))
    ratios: tuple[float, ...] = (0.25,)

    def __post_init__(self) -> None:
        for name in ('scales', 'steps', 'ratios'):
            values = getattr(self, name)
            if not values or list(values) != sorted(set(values)):
                raise ValueError(f'{name} must be non-empty, sorted and without repeats, got {values}')
        if self.scales[0] < 1 or self.steps[0] < 1 or not (0 <= self.ratios[0] and self.ratios[-1] <= 1):
            raise ValueError('need scales >= 1, steps >= 1 and ratios in [0, 1]')

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.scales), len(self.steps), len(self.ratios)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def config(self, index: int) -> Config:
        """Configs are numbered scale-major, then steps, then ratio (numpy C order over `shape`)."""
        i, j, k = (int(v) for v in np.unravel_index(index, self.shape))
        return Config(self.scales[i], self.steps[j], self.ratios[k])
