"""Measure this machine's latencies with the configured models and write a profile (docs/profile-format.md).

The controller's cost model must come from measurements, not constants, so this times exactly the back-ends
the nodes run: `Generator.generate` over a (steps D, pixels R) grid, `LatentDecoder.decode` vs pixels, and
`SRBackend.upscale` per patch size for the edge and the device back-end. Times are the best of `--repeats`
runs after one warm-up call.

Denoising cost is linear in the number of steps: generation is timed step by step (progress callbacks) and
the grid is overhead + D x step; slow diffusion-SR models can be timed at a few step counts (`--sr-fit-steps`,
e.g. 1,2) and extended along the least-squares line a + b*steps. The profile's description says what was done.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

PROFILE_VERSION = 1
# Quality: no quality model (CLIP, aesthetic or IQA weights) exists offline, so the profile carries this
# documented default table. g rises with steps and saturates (diffusion samplers converge after ~30 steps) and
# rises with resolution up to the model's native 1024^2; m is the gain from giving more patches diffusion SR.
QUALITY_SOURCE = ('default table, not measured (no CLIP/aesthetic/IQA weights offline): '
                  'g(D,R) = (1 - 0.6*exp(-D/8)) * (0.75 + 0.25*min(1, R/1048576)); '
                  'm(gamma) = 0.9 + 0.1*sqrt(gamma)')
QUALITY_STEPS = [4, 8, 16, 32, 50]
QUALITY_PIXELS = [65536, 262144, 1048576]
QUALITY_GAMMA = [0.0, 0.25, 0.5, 1.0]
TRANSFER_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket')


def rounded(value: float, digits: int = 4) -> float:
    """Plain float for YAML (numpy scalars do not serialise), `digits` significant digits (timing noise)."""
    return float(f'{float(value):.{digits}g}')


class _PlainDumper(yaml.SafeDumper):
    """No &id anchors for lists used twice: the file is read and edited by people."""

    def ignore_aliases(self, data) -> bool:
        return True


def report(stage: str) -> None:
    """Progress on stderr: a full-size run takes minutes per stage."""
    print(f'[t2i_profile {time.strftime("%H:%M:%S")}] {stage}', file=sys.stderr, flush=True)


def best_seconds(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def fill_steps(measure: Callable[[int], float], steps: list[int], fit_steps: list[int] | None) -> list[float]:
    """Seconds for each step count: measured, or from the line through measurements at `fit_steps`."""
    if not fit_steps:
        return [measure(d) for d in steps]
    measured = [measure(d) for d in fit_steps]
    if len(fit_steps) == 1:
        slope, intercept = measured[0] / fit_steps[0], 0.0
    else:
        slope, intercept = np.polyfit(fit_steps, measured, 1)
        slope = max(slope, 0.0)
    return [max(float(intercept + slope * d), 0.0) for d in steps]


def square_side(pixels: int, multiple: int = 8) -> int:
    return max(multiple, round(pixels ** 0.5 / multiple) * multiple)


def step_timing(generator, side: int, steps: int, guidance_scale: float | None) -> tuple[float, float]:
    """(fixed overhead, seconds per denoising step) of one generate call, from the progress callbacks'
    timestamps: the step intervals after the first are pure UNet+scheduler work; the rest is overhead."""
    stamps: list[float] = []
    start = time.perf_counter()
    generator.generate('a photo of a red fox in the snow', side, side, steps, seed=0, guidance_scale=guidance_scale,
                       progress=lambda step, total: stamps.append(time.perf_counter()))
    end = time.perf_counter()
    intervals = np.diff(stamps)
    per_step = float(intervals.min()) if len(intervals) else (end - start) / steps
    return max(end - start - steps * per_step, 0.0), per_step


def profile_generation(generator, steps: list[int], pixels: list[int], sample_steps: int, repeats: int,
                       guidance_scale: float | None) -> list[list[float]]:
    """xi1 grid. Steps are identical work, so seconds(D) = overhead + D * step, with the fastest step and
    the smallest overhead over `repeats` runs of `sample_steps` steps: a step slowed by other processes
    on a shared machine does not distort the grid, and large D need not be run."""
    columns = []
    for count in pixels:
        report(f'generation at {count} pixels')
        timings = [step_timing(generator, square_side(count), sample_steps, guidance_scale) for _ in range(repeats)]
        overhead, per_step = min(t[0] for t in timings), min(t[1] for t in timings)
        columns.append([overhead + d * per_step for d in steps])
    return [[rounded(columns[c][r]) for c in range(len(pixels))] for r in range(len(steps))]


def profile_decode(decoder, pixels: list[int], repeats: int) -> list[float]:
    rng = np.random.default_rng(0)
    seconds = []
    for count in pixels:
        report(f'decode at {count} pixels')
        side = square_side(count, decoder.scale_factor) // decoder.scale_factor
        latent = rng.standard_normal((decoder.vae.config.latent_channels, side, side)).astype(np.float32)
        seconds.append(rounded(best_seconds(lambda: decoder.decode(latent), repeats), 4))
    return seconds


def profile_sr(backend, patch_pixels: list[int], scale: float, repeats: int,
               fit_steps: list[int] | None) -> tuple[list[float], float]:
    """Seconds per patch for each low-res patch size, and the batch efficiency t(2 patches) / (2 t(1))
    at the smallest size. Diffusion back-ends with `steps` are fitted over steps like generation."""
    from skimage import data
    photo = data.astronaut()
    patches = {count: photo[:square_side(count), :square_side(count)].copy() for count in patch_pixels}
    backend.upscale([patches[patch_pixels[0]]], scale, 'warm-up')

    def seconds_for(count: int, batch: int) -> float:
        def measure(steps: int | None) -> float:
            if steps is not None:
                backend.steps = steps
            return best_seconds(lambda: backend.upscale([patches[count]] * batch, scale, 'a red fox'), repeats)
        if fit_steps and hasattr(backend, 'steps'):
            configured = backend.steps
            try:
                return fill_steps(measure, [configured], fit_steps)[0]
            finally:
                backend.steps = configured
        return measure(None)

    report(f'{backend.name} per patch at {patch_pixels} pixels')
    per_patch = [rounded(seconds_for(count, 1), 4) for count in patch_pixels]
    efficiency = seconds_for(patch_pixels[0], 2) / (2 * max(per_patch[0], 1e-9))
    return per_patch, rounded(min(1.0, efficiency), 3)


def transfer_bytes_per_pixel() -> dict[str, float]:
    """Encoded size of 64x64 real-photo patches (skimage.data); raw is 3 bytes (RGB8)."""
    import cv2
    from skimage import data
    totals = {'png': 0, 'jpeg': 0}
    pixels = 0
    for name in TRANSFER_PHOTOS:
        image = cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR)
        for top in range(0, image.shape[0] - 63, 128):
            for left in range(0, image.shape[1] - 63, 128):
                patch = image[top:top + 64, left:left + 64]
                totals['png'] += len(cv2.imencode('.png', patch)[1])
                totals['jpeg'] += len(cv2.imencode('.jpg', patch, [cv2.IMWRITE_JPEG_QUALITY, 90])[1])
                pixels += 64 * 64
    return {'raw': 3.0, **{k: rounded(v / pixels, 3) for k, v in totals.items()}}


def default_quality() -> dict:
    score = [[rounded((1 - 0.6 * np.exp(-d / 8)) * (0.75 + 0.25 * min(1.0, r / 1048576)), 4)
              for r in QUALITY_PIXELS] for d in QUALITY_STEPS]
    return {'source': QUALITY_SOURCE,
            'generation': {'steps': QUALITY_STEPS, 'pixels': QUALITY_PIXELS, 'score': score},
            'foreground_ratio': {'gamma': QUALITY_GAMMA,
                                 'factor': [rounded(0.9 + 0.1 * g ** 0.5, 4) for g in QUALITY_GAMMA]}}


def load_models(args: argparse.Namespace):
    """(generator, edge back-end, device back-end) as named on the command line."""
    from device_sr.backend import make_sr_backend as make_device_backend
    from edge_sr.backends import DiffusionUpscaleBackend, make_sr_backend as make_edge_backend
    from t2i_generator.backend import Generator, load_generator
    sr_options = {'steps': args.edge_sr_steps, 'guidance_scale': args.edge_sr_guidance}
    if args.generator == 'full-size-random':
        from t2i_bringup.tiny_models import build_full_size_random
        generator = Generator(*build_full_size_random('sdxl', args.dtype or 'bfloat16'))
    else:
        generator = load_generator(args.generator, dtype=args.dtype)
    if args.edge_sr == 'full-size-random':
        from t2i_bringup.tiny_models import build_full_size_random
        edge = DiffusionUpscaleBackend(*build_full_size_random('x4-upscaler', args.dtype or 'bfloat16'),
                                       **sr_options)
    elif args.edge_sr in ('bicubic', 'realesrgan'):
        edge = make_edge_backend(args.edge_sr)
    else:
        edge = make_edge_backend('diffusion-x4', model=args.edge_sr, dtype=args.dtype, **sr_options)
    device = make_device_backend(args.device_sr)
    return generator, edge, device


def build_profile(args: argparse.Namespace) -> dict:
    load_before = os.getloadavg()[0]
    report('loading models')
    generator, edge, device = load_models(args)
    generator.generate('warm-up', 64, 64, 1, seed=0)
    sr_fit = f'fitted as a + b*steps through steps {args.sr_fit_steps}' if args.sr_fit_steps else 'measured'
    description = (f'{args.description} | measured by t2i_profile on {time.strftime("%Y-%m-%d")}: best of '
                   f'{args.repeats}; generation = overhead + D x fastest step of {args.sample_steps}-step runs'
                   f'; guidance_scale {args.guidance_scale or "pipeline default"}'
                   f'; edge SR {getattr(edge, "steps", "-")} steps ({sr_fit}), guidance {getattr(edge, "guidance_scale", "-")}'
                   f'; SR timed at scale {args.scale}; transfer sizes from skimage photos')
    generation = profile_generation(generator, args.steps, args.pixels, args.sample_steps, args.repeats,
                                    args.guidance_scale)
    decode = profile_decode(generator.decoder, args.decode_pixels or args.pixels, args.repeats)
    edge_seconds, edge_efficiency = profile_sr(edge, args.patch_pixels, args.scale, args.repeats, args.sr_fit_steps)
    device_seconds, device_efficiency = profile_sr(device, args.patch_pixels, args.scale, args.repeats, None)
    description += (f'; load average before/after {load_before:.1f}/{os.getloadavg()[0]:.1f} on '
                    f'{os.cpu_count()} CPUs (above the CPU count, other work slowed the measurements)')
    return {
        'version': PROFILE_VERSION,
        'name': args.name,
        'description': description,
        'weights': {'generator': generator.weights, 'edge_sr': f'{edge.name}: {edge.weights}',
                    'device_sr': f'{device.name}: {device.weights}'},
        'generation': {'steps': args.steps, 'pixels': args.pixels, 'seconds': generation},
        'decode': {'pixels': args.decode_pixels or args.pixels, 'seconds': decode},
        'edge_sr': {'patch_pixels': args.patch_pixels, 'seconds_per_patch': edge_seconds,
                    'batch_efficiency': edge_efficiency},
        'device_sr': {'patch_pixels': args.patch_pixels, 'seconds_per_patch': device_seconds,
                      'batch_efficiency': device_efficiency},
        'transfer': {'encoding': args.encoding, 'bytes_per_pixel': transfer_bytes_per_pixel(),
                     'per_message_overhead_bytes': args.message_overhead_bytes},
        'quality': default_quality(),
    }


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(',') if v]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--name', default='cpu-tiny')
    parser.add_argument('--description', default='this machine')
    parser.add_argument('--out', type=Path, required=True, help='profile YAML to write')
    parser.add_argument('--generator', default='tiny-sdxl',
                        help="model for load_generator, or 'full-size-random' (SDXL architecture, random weights)")
    parser.add_argument('--edge-sr', default='tiny-x4-upscaler',
                        help="x4-upscaler model, 'full-size-random', 'realesrgan' or 'bicubic'")
    parser.add_argument('--device-sr', default='realesr-compact')
    parser.add_argument('--dtype', default=None, help='float32 | bfloat16 | float16 (default: per model)')
    parser.add_argument('--steps', type=_ints, default=[4, 8, 16, 32])
    parser.add_argument('--pixels', type=_ints, default=[65536, 262144, 1048576])
    parser.add_argument('--decode-pixels', type=_ints, default=None, help='default: --pixels')
    parser.add_argument('--sample-steps', type=int, default=6, help='steps per timed generation run')
    parser.add_argument('--sr-fit-steps', type=_ints, default=None,
                        help='time diffusion SR only at these step counts and fit a line (slow models)')
    parser.add_argument('--patch-pixels', type=_ints, default=[1024, 4096, 16384])
    parser.add_argument('--scale', type=float, default=4.0)
    parser.add_argument('--guidance-scale', type=float, default=None, help='generation CFG (default: pipeline)')
    parser.add_argument('--edge-sr-steps', type=int, default=20)
    parser.add_argument('--edge-sr-guidance', type=float, default=7.5)
    parser.add_argument('--encoding', default='raw', choices=['raw', 'png', 'jpeg'])
    parser.add_argument('--message-overhead-bytes', type=int, default=600)
    parser.add_argument('--repeats', type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    profile = build_profile(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(yaml.dump(profile, Dumper=_PlainDumper, sort_keys=False, width=120))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
