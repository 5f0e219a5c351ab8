import math

import pytest
from hypothesis import given, strategies as st

from t2i_common.sizing import foreground_cell_count, generation_size


def test_generation_size_examples():
    assert generation_size(1024, 1024, 2) == (512, 512)
    assert generation_size(1024, 1024, 1) == (1024, 1024)
    assert generation_size(1024, 1024, 3) == (320, 320)  # 341.3 -> 5.33 multiples -> 5 * 64
    assert generation_size(2048, 1152, 4) == (512, 320)  # 288 = 4.5 multiples rounds up
    assert generation_size(512, 512, 4, multiple=64) == (128, 128)
    assert generation_size(256, 256, 16) == (64, 64)  # never below min_side


@given(
    st.integers(64, 4096), st.integers(64, 4096), st.sampled_from([1, 1.5, 2, 3, 4]), st.sampled_from([8, 64])
)
def test_generation_size_rounding_rule(w, h, scale, multiple):
    gw, gh = generation_size(w, h, scale, multiple=multiple)
    for got, target in ((gw, w), (gh, h)):
        assert got % multiple == 0 and got >= multiple
        assert got == multiple or abs(got - target / scale) <= multiple / 2


@pytest.mark.parametrize('bad', [(0, 10, 2), (10, 10, 0.5), (10, 10, float('nan'))])
def test_generation_size_rejects(bad):
    with pytest.raises(ValueError):
        generation_size(*bad)


@given(st.integers(1, 8), st.floats(0, 1))
def test_foreground_cell_count(grid, ratio):
    count = foreground_cell_count(grid, ratio)
    assert 0 <= count <= grid * grid
    assert count >= ratio * grid * grid - 1e-6
    assert count == 0 or (count - 1) < ratio * grid * grid


def test_foreground_cell_count_float_noise():
    assert foreground_cell_count(4, 0.25) == 4
    assert foreground_cell_count(10, 0.07) == 7
    assert foreground_cell_count(4, 0.0) == 0 and foreground_cell_count(4, 1.0) == 16
    with pytest.raises(ValueError):
        foreground_cell_count(4, 1.5)
    assert math.ceil(0.07 * 100) == 8  # the float noise the tolerance guards against
