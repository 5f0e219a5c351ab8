"""The SRBackend contract (sizes, validation, registry) and device_sr's import hygiene."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from device_sr.backend import BicubicBackend, SRBackend, make_sr_backend, output_size


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 48), width=st.integers(1, 48), scale=st.sampled_from([1.0, 1.5, 2.0, 3.0, 4.0, 5.0]))
def test_bicubic_returns_the_contract_size(height: int, width: int, scale: float) -> None:
    patch = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    (out,) = BicubicBackend().upscale([patch], scale)
    assert out.shape == (*output_size(height, width, scale), 3)
    assert out.dtype == np.uint8


def test_output_size_rounds_and_rejects_nonpositive_scale() -> None:
    assert output_size(10, 6, 1.5) == (15, 9)
    assert output_size(3, 3, 0.1) == (1, 1)  # never an empty patch
    with pytest.raises(ValueError):
        output_size(8, 8, 0)


def test_patches_that_are_not_uint8_rgb_are_rejected() -> None:
    with pytest.raises(ValueError, match='patch 1'):
        BicubicBackend().upscale([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)], 2)
    with pytest.raises(ValueError, match='uint8'):
        BicubicBackend().upscale([np.zeros((4, 4, 3), np.float32)], 2)


def test_registry_names_and_errors() -> None:
    backend = make_sr_backend('bicubic')
    assert isinstance(backend, SRBackend)
    assert 'no learned weights' in backend.weights
    with pytest.raises(ValueError, match='realesr-compact'):
        make_sr_backend('esrgan-of-my-dreams')


def test_node_runtime_options_are_accepted_by_every_backend() -> None:
    """The SR nodes pass device/dtype/tile to whichever back-end is configured (None = default)."""
    options = {'device': None, 'dtype': None, 'tile': 192}
    for name in ('bicubic', 'realesr-compact'):
        (out,) = make_sr_backend(name, **options).upscale([np.zeros((8, 8, 3), np.uint8)], 2)
        assert out.shape == (16, 16, 3)
    with pytest.raises(TypeError, match='steps'):
        make_sr_backend('bicubic', steps=20)


def test_device_package_imports_neither_diffusers_nor_torch() -> None:
    """The device (a Jetson) imports device_sr; torch only when a network is built, diffusers never."""
    code = ('import sys, device_sr, device_sr.backend; '
            'device_sr.backend.make_sr_backend("bicubic"); '
            'print(sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == '[]'
