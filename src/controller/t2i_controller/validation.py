"""Checks a generation request before any compute is spent on it, and says exactly what is wrong."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestLimits:
    max_prompt_chars: int = 2000
    min_side: int = 64
    max_side: int = 8192
    max_pixels: int = 4096 * 4096
    max_deadline_s: float = 3600.0
    models: tuple[str, ...] = ()          # accepted model names besides '' (the default); empty: any


def request_problems(prompt: str, width: int, height: int, preference_weight: float, deadline_s: float,
                     model: str, limits: RequestLimits) -> list[str]:
    """Every problem of the request, each as a sentence a requester can act on; empty when valid."""
    problems = []
    if not prompt.strip():
        problems.append('prompt is empty')
    elif len(prompt) > limits.max_prompt_chars:
        problems.append(f'prompt has {len(prompt)} characters, at most {limits.max_prompt_chars} are accepted')
    if '\x00' in prompt:
        problems.append('prompt contains a NUL character')
    for name, side in (('target_width', width), ('target_height', height)):
        if not limits.min_side <= side <= limits.max_side:
            problems.append(f'{name} is {side} px, it must be in [{limits.min_side}, {limits.max_side}]')
    if width * height > limits.max_pixels:
        problems.append(f'target resolution {width}x{height} exceeds {limits.max_pixels} pixels')
    if not (math.isfinite(preference_weight) and 0.0 <= preference_weight <= 1.0):
        problems.append(f'preference_weight (lambda) is {preference_weight}, it must be in [0, 1]')
    if not (math.isfinite(deadline_s) and 0.0 <= deadline_s <= limits.max_deadline_s):
        problems.append(f'deadline_s is {deadline_s}, it must be in [0, {limits.max_deadline_s}] (0 = default)')
    if model and limits.models and model not in limits.models:
        problems.append(f'unknown model {model!r}; available: {", ".join(limits.models)}')
    return problems
