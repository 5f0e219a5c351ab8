"""Policies selectable by name: the comparison baselines and the two solvers, behind one call.

  random    S and D uniformly from the model's space (gamma: the pipeline default); may be infeasible
  no_sr     S = 1: generate at the target size, best D
  one_type  S fixed at 2, best D (one SR setting for every request)
  cogview3  S = 2 with every cell by diffusion SR (gamma = 1), best D: CogView3-style relay SR
  sa        simulated annealing (the paper's Algorithm 1) over the model's space
  exact     exhaustive search over the model's space
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .problem import CandidateSpace, Config, Request
from .solvers import exact_search, simulated_annealing
from .utility import Decision, UtilityModel

Policy = Callable[[Request, UtilityModel, np.random.Generator], Decision]
POLICIES: dict[str, Policy] = {}


def register_policy(name: str) -> Callable[[Policy], Policy]:
    def add(policy: Policy) -> Policy:
        if name in POLICIES:
            raise ValueError(f'policy {name!r} is already registered')
        POLICIES[name] = policy
        return policy

    return add


def _tune_steps(request: Request, model: UtilityModel, scale: float, ratio: float, policy: str) -> Decision:
    space = CandidateSpace(scales=(scale,), steps=model.space.steps, ratios=(ratio,))
    return exact_search(request, model, space, policy)


@register_policy('random')
def random_policy(request: Request, model: UtilityModel, rng: np.random.Generator) -> Decision:
    config = Config(model.space.scales[rng.integers(len(model.space.scales))],
                    model.space.steps[rng.integers(len(model.space.steps))], model.settings.foreground_ratio)
    return model.evaluate(config, request, 'random')


@register_policy('no_sr')
def no_sr_policy(request: Request, model: UtilityModel, rng: np.random.Generator) -> Decision:
    return _tune_steps(request, model, 1.0, model.settings.foreground_ratio, 'no_sr')


@register_policy('one_type')
def one_type_policy(request: Request, model: UtilityModel, rng: np.random.Generator) -> Decision:
    return _tune_steps(request, model, 2.0, model.settings.foreground_ratio, 'one_type')


@register_policy('cogview3')
def cogview3_policy(request: Request, model: UtilityModel, rng: np.random.Generator) -> Decision:
    return _tune_steps(request, model, 2.0, 1.0, 'cogview3')


@register_policy('sa')
def annealing_policy(request: Request, model: UtilityModel, rng: np.random.Generator) -> Decision:
    return simulated_annealing(request, model, rng).decision


@register_policy('exact')
def exact_policy(request: Request, model: UtilityModel, rng: np.random.Generator) -> Decision:
    return exact_search(request, model)


def choose_config(policy_name: str, request: Request, model: UtilityModel,
                  rng: np.random.Generator | None = None) -> Decision:
    """The one entry point for the controller node: a Decision from the named policy."""
    if policy_name not in POLICIES:
        raise ValueError(f'unknown policy {policy_name!r}; known: {sorted(POLICIES)}')
    return POLICIES[policy_name](request, model, rng if rng is not None else np.random.default_rng())
