"""SR quality of the hybrid scheme on real photos (no ROS): results/sr_quality.json (bench, not a test).

    python bench/sr_quality.py [--crop 384] [--images astronaut chelsea coffee rocket]

Each scikit-image photo is centre-cropped (crop x crop, to keep CPU time low), downscaled x4 (area), then
upscaled x4 by:
  hybrid      the top 25 % (gamma = 0.25) spatial-variance cells of a 4x4 grid by Real-ESRGAN x4plus (heavy),
              the rest by realesr-compact (light), stitched by t2i_stitcher.blend.stitch (raised-cosine
              feathering over the overlap + mean_std colour fix); cells ranked by
              latent_partitioner.partition_latent on the low-res image (stand-in latent, vae_factor 1)
  all_heavy   x4plus on the whole low-res image
  all_light   realesr-compact on the whole low-res image
  bicubic
Metrics vs the original crop: PSNR, SSIM (scikit-image), sharpness (gradient energy of the output / of the
original), BRISQUE (OpenCV quality module, LIVE model; lower = better), PIQE (pypiqe, lower = better) when
installed, seam score (t2i_stitcher.blend.seam_score over the 4x4 core boxes; ~1 = no visible seams), and the
SR compute time (also as a ratio to all_heavy), measured in this run on this CPU.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BRISQUE_DIR = Path('/usr/share/opencv4/quality')
METHODS = ('hybrid', 'all_heavy', 'all_light', 'bicubic')


def load_photo(name: str, crop: int) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = image[..., :3]
    h, w = image.shape[:2]
    side = min(crop, h, w) // 16 * 16  # divisible by grid (4) x scale (4)
    top, left = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(image[top:top + side, left:left + side])


def gradient_energy(image: np.ndarray) -> float:
    luma = image.astype(np.float64).mean(axis=2)
    return float(np.mean(np.diff(luma, axis=1) ** 2) + np.mean(np.diff(luma, axis=0) ** 2))


def brisque(image: np.ndarray) -> float | None:
    model, ranges = BRISQUE_DIR / 'brisque_model_live.yml', BRISQUE_DIR / 'brisque_range_live.yml'
    if not (hasattr(cv2, 'quality') and model.is_file() and ranges.is_file()):
        return None
    score = cv2.quality.QualityBRISQUE_compute(np.ascontiguousarray(image[..., ::-1]), str(model), str(ranges))
    return float(score[0] if isinstance(score, (tuple, list)) else score)


def piqe(image: np.ndarray) -> float | None:
    try:
        from pypiqe import piqe as piqe_fn
    except ImportError:
        return None
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return float(piqe_fn(gray)[0])


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def hybrid(lowres: np.ndarray, heavy, light, gamma: float, grid: int, overlap: int) -> tuple[np.ndarray, float, list]:
    from latent_partitioner.partition import partition_latent, pixel_boxes
    from t2i_stitcher.blend import Patch, stitch

    h, w = lowres.shape[:2]
    out_size = (w * 4, h * 4)
    stand_in = np.transpose(lowres.astype(np.float32) / 255.0, (2, 0, 1))  # C x h x w "latent"
    partition = partition_latent(stand_in, grid, gamma, 'variance')
    geometry = pixel_boxes(partition, (w, h), vae_factor=1, overlap_px=overlap, output_size=out_size)
    crops = [lowres[g.lowres_box[1]:g.lowres_box[3], g.lowres_box[0]:g.lowres_box[2]] for g in geometry]
    fg = [c.index for c in partition.cells if c.foreground]
    bg = [c.index for c in partition.cells if not c.foreground]
    seconds = 0.0
    upscaled: dict[int, np.ndarray] = {}
    for backend, indices in ((heavy, fg), (light, bg)):
        if indices:
            out, dt = timed(backend.upscale, [crops[i] for i in indices], 4.0)
            seconds += dt
            upscaled.update(zip(indices, out))
    fallback = cv2.resize(lowres, out_size, interpolation=cv2.INTER_CUBIC)
    patches = [Patch(i, geometry[i].highres_box, geometry[i].highres_margins, upscaled[i], i in fg)
               for i in range(len(geometry))]
    result = stitch(patches, out_size, range(len(geometry)), fallback, 'mean_std')
    return result.image, seconds, [g.highres_core_box for g in geometry]


def evaluate(original: np.ndarray, output: np.ndarray, boxes: list) -> dict:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    from t2i_stitcher.blend import seam_score

    return {
        'psnr': round(float(peak_signal_noise_ratio(original, output, data_range=255)), 3),
        'ssim': round(float(structural_similarity(original, output, channel_axis=2, data_range=255)), 4),
        'sharpness_ratio': round(gradient_energy(output) / gradient_energy(original), 4),
        'brisque': None if (b := brisque(output)) is None else round(b, 2),
        'piqe': None if (p := piqe(output)) is None else round(p, 2),
        'seam_score': round(seam_score(output, boxes), 4),
    }


def main(argv: list[str] | None = None) -> int:
    import torch

    from device_sr.backend import make_sr_backend

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--images', nargs='+', default=['astronaut', 'chelsea', 'coffee', 'rocket'])
    parser.add_argument('--crop', type=int, default=384, help='centre crop side of the original (px)')
    parser.add_argument('--gamma', type=float, default=0.25)
    parser.add_argument('--grid', type=int, default=4)
    parser.add_argument('--overlap', type=int, default=4, help='patch overlap in low-res pixels (= 16 output px)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (1: stable timing on a shared CPU)')
    parser.add_argument('--out', type=Path, default=ROOT / 'results' / 'sr_quality.json')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    heavy, light, cubic = (make_sr_backend(n) for n in ('realesrgan-x4plus', 'realesr-compact', 'bicubic'))
    warm = np.zeros((32, 32, 3), np.uint8)
    for backend in (heavy, light, cubic):
        backend.upscale([warm], 4.0)
    rows = []
    for name in args.images:
        original = load_photo(name, args.crop)
        h, w = original.shape[:2]
        lowres = cv2.resize(original, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        outputs, seconds = {}, {}
        outputs['hybrid'], seconds['hybrid'], boxes = hybrid(lowres, heavy, light, args.gamma, args.grid, args.overlap)
        for method, backend in (('all_heavy', heavy), ('all_light', light), ('bicubic', cubic)):
            out, seconds[method] = timed(backend.upscale, [lowres], 4.0)
            outputs[method] = out[0]
        for method in METHODS:
            row = {'image': name, 'size': [w, h], 'method': method, **evaluate(original, outputs[method], boxes),
                   'sr_seconds': round(seconds[method], 4),
                   'time_ratio_vs_heavy': round(seconds[method] / seconds['all_heavy'], 4)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = {}
    for method in METHODS:
        rs = [r for r in rows if r['method'] == method]
        summary[method] = {key: (round(statistics.fmean(r[key] for r in rs), 4)
                                 if all(r[key] is not None for r in rs) else None)
                           for key in ('psnr', 'ssim', 'sharpness_ratio', 'brisque', 'piqe', 'seam_score',
                                       'sr_seconds', 'time_ratio_vs_heavy')}
    doc = {'meta': {'started': time.strftime('%Y-%m-%d %H:%M:%S'), 'crop': args.crop, 'gamma': args.gamma,
                    'grid': args.grid, 'overlap_lowres_px': args.overlap, 'torch_threads': args.threads,
                    'heavy': heavy.weights if hasattr(heavy, 'weights') else 'realesrgan-x4plus',
                    'light': light.weights if hasattr(light, 'weights') else 'realesr-compact',
                    'downscale': 'cv2.INTER_AREA x1/4', 'colour_fix': 'mean_std'},
           'rows': rows, 'summary': summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
