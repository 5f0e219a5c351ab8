"""Utility U = Q - lambda * T and the latency bound: what every policy maximises.

Forms:
  'raw'         U = Q - lambda * T, as in the paper (lambda in quality units per second: its meaning changes
                with the target size, since T spans seconds at 512 px and many minutes at 2K on a CPU).
  'normalised'  U = Q / Q_ref - lambda * T / T_ref (default), with Q_ref = the best Q over the model's
                candidate space for that target, and T_ref = the latency of direct generation at the target
                without SR (S = 1, the most steps in the space). Both terms are then about 1, so lambda in
                [0, 1] weighs quality against latency the same way at any resolution.
A config is feasible when its T <= min(L0, request deadline).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .latency import LatencyBreakdown, LatencyTable, latency_table
from .problem import CandidateSpace, Config, PipelineSettings, Request, Resources
from .profile import Profile
from .quality import quality_table

UTILITY_FORMS = ('normalised', 'raw')


@dataclass(frozen=True)
class Decision:
    config: Config
    utility: float
    quality: float
    latency: LatencyBreakdown
    policy: str
    feasible: bool
    message: str = ''


@dataclass(frozen=True)
class CandidateTable:
    """Quality, latency and utility of a list of configs for one request (index = position in `configs`)."""

    configs: Sequence[Config]
    quality: np.ndarray
    latency: LatencyTable
    utility: np.ndarray
    feasible: np.ndarray
    latency_limit_s: float

    def decision(self, index: int, policy: str, message: str = '') -> Decision:
        index = int(index)
        feasible = bool(self.feasible[index])
        if not feasible and not message:
            message = (f'latency {float(self.latency.total[index]):.3g} s exceeds the limit '
                       f'{self.latency_limit_s:.3g} s')
        return Decision(self.configs[index], float(self.utility[index]), float(self.quality[index]),
                        self.latency.breakdown(index), policy, feasible, message)


class UtilityModel:
    """Everything a policy needs to score configs: profile, resources, graph settings, space, lambda, L0.

    Tables are cached per (target size, configs); make a new model when resources change.
    """

    def __init__(self, profile: Profile, resources: Resources = Resources(),
                 settings: PipelineSettings = PipelineSettings(), space: CandidateSpace = CandidateSpace(),
                 weight: float = 0.5, form: str = 'normalised', latency_bound_s: float = math.inf) -> None:
        if form not in UTILITY_FORMS:
            raise ValueError(f'unknown utility form {form!r}; known: {UTILITY_FORMS}')
        if not weight >= 0:
            raise ValueError(f'lambda must be >= 0, got {weight}')
        if not latency_bound_s > 0:
            raise ValueError(f'latency bound L0 must be > 0, got {latency_bound_s}')
        self.profile, self.resources, self.settings, self.space = profile, resources, settings, space
        self.weight, self.form, self.latency_bound_s = weight, form, latency_bound_s
        self._raw: dict[tuple, tuple[np.ndarray, LatencyTable]] = {}
        self._space_configs: dict[CandidateSpace, list[Config]] = {}

    def configs(self, space: CandidateSpace | None = None) -> list[Config]:
        space = space or self.space
        if space not in self._space_configs:
            self._space_configs[space] = [space.config(i) for i in range(space.size)]
        return self._space_configs[space]

    def _quality_latency(self, target_size: tuple[int, int], configs: Sequence[Config]
                         ) -> tuple[np.ndarray, LatencyTable]:
        key = (tuple(target_size), tuple(configs))
        if key not in self._raw:
            self._raw[key] = (quality_table(configs, target_size, self.profile, self.settings),
                              latency_table(configs, target_size, self.profile, self.resources, self.settings))
        return self._raw[key]

    def references(self, target_size: tuple[int, int]) -> tuple[float, float]:
        """(Q_ref, T_ref) of the normalised form (module docstring)."""
        quality, _ = self._quality_latency(target_size, self.configs())
        direct = Config(1.0, max(self.space.steps), self.settings.foreground_ratio)
        _, latency = self._quality_latency(target_size, [direct])
        return float(quality.max()), float(latency.total[0])

    def latency_limit(self, request: Request) -> float:
        return min(self.latency_bound_s, math.inf if request.deadline_s is None else request.deadline_s)

    def table(self, request: Request, configs: Sequence[Config] | CandidateSpace | None = None) -> CandidateTable:
        """Score the model's space, another space, or an explicit list of configs for a request."""
        if configs is None or isinstance(configs, CandidateSpace):
            configs = self.configs(configs)
        quality, latency = self._quality_latency(request.target_size, configs)
        total = latency.total
        if self.form == 'raw':
            utility = quality - self.weight * total
        else:
            q_ref, t_ref = self.references(request.target_size)
            utility = quality / q_ref - self.weight * total / t_ref
        limit = self.latency_limit(request)
        return CandidateTable(configs, quality, latency, utility, total <= limit, limit)

    def evaluate(self, config: Config, request: Request, policy: str = 'manual') -> Decision:
        return self.table(request, [config]).decision(0, policy)
