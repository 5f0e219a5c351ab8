"""Do the converted weights really super-resolve? Real photos, x4 down then x4 up, three checks that a
GAN SR model passes and interpolation or garbage weights fail:
  sharpness  gradient energy relative to the original (bicubic blurs: ~0.35; x4plus restores ~1.2),
  BRISQUE    no-reference naturalness (OpenCV's LIVE model, lower is better),
  PSNR-Y     fidelity; a GAN is allowed to be a few dB below bicubic, random weights are 20 dB below.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from device_sr.backend import make_sr_backend
from device_sr.realesrgan import RealESRGANBackend, RRDBNet

BRISQUE_DIR = Path('/usr/share/opencv4/quality')
PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket')
CROP = 128


def gradient_energy(image: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.mean(cv2.Sobel(gray, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(gray, cv2.CV_32F, 0, 1) ** 2))


def brisque(image: np.ndarray) -> float:
    return cv2.quality.QualityBRISQUE_compute(cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                              str(BRISQUE_DIR / 'brisque_model_live.yml'),
                                              str(BRISQUE_DIR / 'brisque_range_live.yml'))[0]


def psnr_y(image: np.ndarray, reference: np.ndarray) -> float:
    luma = [cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.float64) for x in (image, reference)]
    return float(10 * np.log10(255.0 ** 2 / np.mean((luma[0] - luma[1]) ** 2)))


@pytest.fixture(scope='module')
def originals() -> list[np.ndarray]:
    crops = []
    for name in PHOTOS:
        photo = getattr(data, name)()
        top, left = photo.shape[0] // 2 - CROP // 2, photo.shape[1] // 2 - CROP // 2
        crops.append(photo[top:top + CROP, left:left + CROP].copy())
    return crops


def scores(backend, originals: list[np.ndarray]) -> dict[str, float]:
    low = [cv2.resize(image, (CROP // 4, CROP // 4), interpolation=cv2.INTER_AREA) for image in originals]
    upscaled = backend.upscale(low, 4)
    return {'sharpness': np.mean([gradient_energy(u) / gradient_energy(o) for u, o in zip(upscaled, originals)]),
            'brisque': np.mean([brisque(u) for u in upscaled]),
            'psnr': np.mean([psnr_y(u, o) for u, o in zip(upscaled, originals)])}


def passes_sr_check(candidate: dict[str, float], bicubic: dict[str, float]) -> bool:
    return (candidate['sharpness'] >= 2 * bicubic['sharpness'] and 0.5 <= candidate['sharpness'] <= 2.0
            and candidate['brisque'] <= bicubic['brisque'] - 15
            and candidate['psnr'] >= bicubic['psnr'] - 4.0)


@pytest.fixture(scope='module')
def bicubic_scores(originals) -> dict[str, float]:
    return scores(make_sr_backend('bicubic'), originals)


def test_brisque_model_files_are_installed() -> None:
    assert (BRISQUE_DIR / 'brisque_model_live.yml').is_file(), 'apt-get install opencv-data'


def test_converted_x4plus_is_sharper_and_more_natural_than_bicubic(originals, bicubic_scores) -> None:
    x4plus = scores(make_sr_backend('realesrgan-x4plus'), originals)
    assert passes_sr_check(x4plus, bicubic_scores), (x4plus, bicubic_scores)


def test_random_weights_fail_the_same_check(originals, bicubic_scores) -> None:
    torch.manual_seed(0)
    random_network = RealESRGANBackend(RRDBNet(), 'random-rrdbnet', 'random init (NOT a real model)')
    random_scores = scores(random_network, originals)
    assert not passes_sr_check(random_scores, bicubic_scores), random_scores
