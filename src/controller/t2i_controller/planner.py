"""Turns the controller's parameters and a request message into a decision, and the decision into the
GenerationConfig message. ROS-message glue over the pure models (profile, utility, policies)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from t2i_common.sizing import generation_size

from .baselines import POLICIES, choose_config
from .problem import CandidateSpace, PipelineSettings, Request, Resources
from .profile import DEFAULT_PROFILE, load_profile
from .utility import UTILITY_FORMS, Decision, UtilityModel

# When the device is gone its patches are upscaled on the edge: no link transfer, device-class SR cost.
NO_LINK_BPS = 1e15


@dataclass(frozen=True)
class PlannerSettings:
    policy: str
    profile: str
    utility_form: str
    space: CandidateSpace
    pipeline: PipelineSettings
    edge_capacity: float
    device_capacity: float
    latency_bound_s: float
    seed: int

    @classmethod
    def from_parameters(cls, p: dict) -> PlannerSettings:
        if p['policy'] not in POLICIES:
            raise ValueError(f'unknown policy {p["policy"]!r}; known: {sorted(POLICIES)}')
        if p['utility_form'] not in UTILITY_FORMS:
            raise ValueError(f'unknown utility_form {p["utility_form"]!r}; known: {UTILITY_FORMS}')
        ratios = (tuple(sorted(set(p['foreground_ratios']))) if p['optimise_foreground_ratio']
                  else (p['foreground_ratio'],))
        return cls(policy=p['policy'], profile=resolve_profile(p['profile']),
                   utility_form=p['utility_form'],
                   space=CandidateSpace(scales=tuple(sorted(set(p['scales']))), steps=tuple(sorted(set(p['steps']))),
                                        ratios=ratios),
                   pipeline=PipelineSettings(grid=p['grid_size'], overlap_px=p['overlap_px'],
                                             size_multiple=p['generation_multiple'],
                                             foreground_ratio=p['foreground_ratio']),
                   edge_capacity=p['edge_capacity'], device_capacity=p['device_capacity'],
                   latency_bound_s=p['latency_bound_s'] or math.inf, seed=p['seed'])


def resolve_profile(name_or_path: str) -> str:
    """A file path as it is; a bare name (e.g. cpu-tiny) from the installed package's profiles folder;
    empty: the default profile."""
    if name_or_path and ('/' in name_or_path or name_or_path.endswith(('.yaml', '.yml', '.json'))):
        return name_or_path
    try:
        from ament_index_python.packages import get_package_share_directory
        folder = Path(get_package_share_directory('t2i_controller')) / 'profiles'
    except (ImportError, LookupError):  # running from a source tree without an install
        folder = DEFAULT_PROFILE.parent
    return str(folder / f'{name_or_path or DEFAULT_PROFILE.stem}.yaml')


class Planner:
    def __init__(self, settings: PlannerSettings):
        self.settings = settings
        self.profile = load_profile(settings.profile)
        self.profile_name = f'{self.profile.name} ({settings.profile})'
        self._rng = np.random.default_rng(settings.seed)

    def decide(self, request, bandwidth_bps: float, device_alive: bool) -> Decision:
        """The configured policy's choice for a validated GenerationRequest message."""
        s = self.settings
        resources = Resources(s.edge_capacity, s.device_capacity, bandwidth_bps if device_alive else NO_LINK_BPS)
        model = UtilityModel(self.profile, resources, s.pipeline, s.space, weight=request.preference_weight,
                             form=s.utility_form, latency_bound_s=s.latency_bound_s)
        problem = Request((request.target_width, request.target_height), request.deadline_s or None,
                          request.request_id)
        return choose_config(s.policy, problem, model, self._rng)

    def fill_config(self, config, decision: Decision, device_alive: bool) -> None:
        """Writes the decision into a GenerationConfig message (request and header already set)."""
        chosen, latency = decision.config, decision.latency
        request = config.request
        config.sr_scale = float(chosen.scale)
        config.denoising_steps = int(chosen.steps)
        config.foreground_ratio = float(chosen.foreground_ratio)
        config.grid_size = self.settings.pipeline.grid
        config.generation_width, config.generation_height = generation_size(
            request.target_width, request.target_height, chosen.scale, self.settings.pipeline.size_multiple)
        config.policy = decision.policy
        config.predicted_quality = float(decision.quality)
        config.utility = float(decision.utility)
        config.device_available = device_alive
        predicted = config.predicted_latency
        predicted.t1_generation, predicted.t2_edge_sr, predicted.t3_device_sr = latency.t1, latency.t2, latency.t3
        predicted.t4_edge_sr_transfer, predicted.t5_background_transfer = latency.t4, latency.t5
        predicted.t6_sr_stage, predicted.total = latency.t6, latency.total
