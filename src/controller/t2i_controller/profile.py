"""Load and validate latency/quality profiles (docs/profile-format.md) and interpolate their tables.

Measured points, never constants in code: every cost and quality number the controller uses comes from a
profile file. Interpolation is piecewise linear (in log(pixels) for pixel axes, linearly in steps and in
gamma); outside the measured range it extrapolates linearly from the nearest two points, and never goes
below 0. All lookups accept numpy arrays so that a whole candidate set is evaluated at once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

PROFILE_VERSION = 1
PROFILES_DIR = Path(__file__).resolve().parents[1] / 'profiles'
DEFAULT_PROFILE = PROFILES_DIR / 'default-cpu.yaml'


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the offending key."""


def _segment_lookup(x: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per x: the segment it falls in (the nearest one outside the knots), its end, and the position t."""
    if len(knots) == 1:
        zero = np.zeros(x.shape, dtype=int)
        return zero, zero, np.zeros(x.shape)
    start = np.clip(np.searchsorted(knots, x, side='right') - 1, 0, len(knots) - 2)
    return start, start + 1, (x - knots[start]) / (knots[start + 1] - knots[start])


def _axis(values: Any, log: bool) -> np.ndarray:
    data = np.asarray(values, float)
    return np.log(data) if log else data


@dataclass(frozen=True)
class Curve:
    """y(x) from measured points; `log_x` for pixel counts (costs grow roughly like powers of the area)."""

    x: np.ndarray
    y: np.ndarray
    log_x: bool = True

    def __call__(self, x: Any) -> np.ndarray:
        start, end, t = _segment_lookup(_axis(x, self.log_x), _axis(self.x, self.log_x))
        return np.maximum(self.y[start] + t * (self.y[end] - self.y[start]), 0.0)


@dataclass(frozen=True)
class Surface:
    """z(steps, pixels): bilinear in (steps, log pixels); rows of z are steps, columns pixels."""

    steps: np.ndarray
    pixels: np.ndarray
    z: np.ndarray

    def __call__(self, steps: Any, pixels: Any) -> np.ndarray:
        steps, pixels = np.broadcast_arrays(np.asarray(steps, float), np.asarray(pixels, float))
        r0, r1, tr = _segment_lookup(steps, self.steps)
        c0, c1, tc = _segment_lookup(np.log(pixels), np.log(self.pixels))
        near = self.z[r0, c0] + tc * (self.z[r0, c1] - self.z[r0, c0])
        far = self.z[r1, c0] + tc * (self.z[r1, c1] - self.z[r1, c0])
        return np.maximum(near + tr * (far - near), 0.0)


@dataclass(frozen=True)
class PatchCost:
    """Seconds per SR patch vs its low-res pixel count; n patches take n * t * batch_efficiency."""

    per_patch: Curve
    batch_efficiency: float = 1.0

    def seconds(self, patch_pixels: Any, patches: Any) -> np.ndarray:
        return np.asarray(patches, float) * self.per_patch(patch_pixels) * self.batch_efficiency


@dataclass(frozen=True)
class Transfer:
    encoding: str
    bytes_per_pixel: Mapping[str, float]
    per_message_overhead_bytes: float

    @property
    def encoded_bytes_per_pixel(self) -> float:
        return self.bytes_per_pixel[self.encoding]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    weights: Mapping[str, str]
    generation: Surface  # xi1: seconds for D steps at R pixels
    decode: Curve  # VAE decode of the whole low-res image
    edge_sr: PatchCost  # xi2 per foreground patch
    device_sr: PatchCost  # xi3 per background patch
    transfer: Transfer
    quality_generation: Surface  # g(D, R)
    quality_foreground: Curve  # m(gamma), linear in gamma
    quality_source: str
    source: str  # where it was loaded from

    def with_encoding(self, encoding: str) -> Profile:
        """The same measurements with another patch encoding on the wire (must be listed in the profile)."""
        if encoding not in self.transfer.bytes_per_pixel:
            raise ProfileError(f'{self.source}: no bytes_per_pixel for encoding {encoding!r}')
        transfer = Transfer(encoding, self.transfer.bytes_per_pixel, self.transfer.per_message_overhead_bytes)
        return dataclasses.replace(self, transfer=transfer)


class _Reader:
    """Typed access to the parsed mapping; every error names the file and the dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(f'{self.source}: {key}: {problem}')

    def section(self, data: Any, key: str) -> Mapping[str, Any]:
        value = data.get(key.rsplit('.', 1)[-1]) if isinstance(data, Mapping) else None
        if not isinstance(value, Mapping):
            raise self.fail(key, 'missing or not a mapping')
        return value

    def number(self, data: Mapping[str, Any], key: str, default: float | None = None, low: float = 0.0) -> float:
        value = data.get(key.rsplit('.', 1)[-1], default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < low:
            raise self.fail(key, f'expected a finite number >= {low}, got {value!r}')
        return float(value)

    def vector(self, data: Mapping[str, Any], key: str, positive: bool = False, increasing: bool = False) -> np.ndarray:
        value = data.get(key.rsplit('.', 1)[-1])
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise self.fail(key, f'expected a list of numbers, got {value!r}') from None
        if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
            raise self.fail(key, f'expected a non-empty list of finite numbers, got {value!r}')
        if (array <= 0).any() if positive else (array < 0).any():
            raise self.fail(key, 'values must be ' + ('> 0' if positive else '>= 0'))
        if increasing and (np.diff(array) <= 0).any():
            raise self.fail(key, 'values must be strictly increasing')
        return array

    def table(self, data: Mapping[str, Any], key: str, rows: int, cols: int) -> np.ndarray:
        value = data.get(key.rsplit('.', 1)[-1])
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise self.fail(key, f'expected {rows} rows of {cols} numbers (ragged or not numbers)') from None
        if array.shape != (rows, cols):
            raise self.fail(key, f'expected {rows} rows of {cols} numbers, got shape {array.shape}')
        if not np.isfinite(array).all() or (array < 0).any():
            raise self.fail(key, 'values must be finite and >= 0')
        return array

    def curve(self, data: Mapping[str, Any], prefix: str, x_key: str, y_key: str, log_x: bool = True) -> Curve:
        x = self.vector(data, f'{prefix}.{x_key}', positive=log_x, increasing=True)
        y = self.vector(data, f'{prefix}.{y_key}')
        if len(y) != len(x):
            raise self.fail(f'{prefix}.{y_key}', f'expected {len(x)} values (one per {x_key}), got {len(y)}')
        return Curve(x, y, log_x)

    def surface(self, data: Mapping[str, Any], prefix: str, z_key: str) -> Surface:
        steps = self.vector(data, f'{prefix}.steps', positive=True, increasing=True)
        pixels = self.vector(data, f'{prefix}.pixels', positive=True, increasing=True)
        return Surface(steps, pixels, self.table(data, f'{prefix}.{z_key}', len(steps), len(pixels)))

    def patch_cost(self, data: Mapping[str, Any], key: str) -> PatchCost:
        section = self.section(data, key)
        efficiency = self.number(section, f'{key}.batch_efficiency', default=1.0)
        if not 0 < efficiency <= 1:
            raise self.fail(f'{key}.batch_efficiency', f'must be in (0, 1], got {efficiency}')
        return PatchCost(self.curve(section, key, 'patch_pixels', 'seconds_per_patch'), efficiency)


def parse_profile(data: Any, source: str = '<mapping>') -> Profile:
    """Validate a parsed profile (YAML/JSON mapping) and build its interpolating tables."""
    read = _Reader(source)
    if not isinstance(data, Mapping):
        raise ProfileError(f'{source}: a profile must be a mapping, got {type(data).__name__}')
    if data.get('version') != PROFILE_VERSION:
        raise read.fail('version', f'expected {PROFILE_VERSION}, got {data.get("version")!r}')
    weights = data.get('weights', {})
    if not isinstance(weights, Mapping):
        raise read.fail('weights', 'must be a mapping of stage -> weights id')

    transfer_data = read.section(data, 'transfer')
    per_pixel = transfer_data.get('bytes_per_pixel')
    if not isinstance(per_pixel, Mapping) or not per_pixel:
        raise read.fail('transfer.bytes_per_pixel', 'expected a mapping encoding -> bytes per pixel')
    bytes_per_pixel = {str(k): read.number(per_pixel, f'transfer.bytes_per_pixel.{k}') for k in per_pixel}
    encoding = transfer_data.get('encoding')
    if encoding not in bytes_per_pixel:
        raise read.fail('transfer.encoding', f'{encoding!r} has no entry in bytes_per_pixel {sorted(bytes_per_pixel)}')
    transfer = Transfer(encoding, bytes_per_pixel,
                        read.number(transfer_data, 'transfer.per_message_overhead_bytes', default=0.0))

    quality = read.section(data, 'quality')
    return Profile(
        name=str(data.get('name', Path(source).stem)),
        description=str(data.get('description', '')),
        weights={str(k): str(v) for k, v in weights.items()},
        generation=read.surface(read.section(data, 'generation'), 'generation', 'seconds'),
        decode=read.curve(read.section(data, 'decode'), 'decode', 'pixels', 'seconds'),
        edge_sr=read.patch_cost(data, 'edge_sr'),
        device_sr=read.patch_cost(data, 'device_sr'),
        transfer=transfer,
        quality_generation=read.surface(read.section(quality, 'quality.generation'), 'quality.generation', 'score'),
        quality_foreground=read.curve(read.section(quality, 'quality.foreground_ratio'), 'quality.foreground_ratio',
                                      'gamma', 'factor', log_x=False),
        quality_source=str(quality.get('source', '')),
        source=source,
    )


def load_profile(path: str | Path = DEFAULT_PROFILE) -> Profile:
    """Read a .yaml/.yml/.json profile file; ProfileError (naming the file) on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as error:
        raise ProfileError(f'{path}: cannot read profile: {error.strerror or error}') from None
    try:
        data = json.loads(text) if path.suffix.lower() == '.json' else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ProfileError(f'{path}: not valid {"JSON" if path.suffix.lower() == ".json" else "YAML"}: {error}') from None
    return parse_profile(data, str(path))
