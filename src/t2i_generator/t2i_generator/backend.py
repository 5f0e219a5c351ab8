"""Low-resolution text-to-image generation with diffusers, returning the latent instead of an image.

The edge generates a latent at the reduced resolution; the partitioner decides on it which patches get which
SR, so decoding is a separate, optional step (`LatentDecoder`, loadable without the UNet via `load_decoder`).

Latent convention: `GeneratedLatent.latent` is UNSCALED, i.e. what `vae.decode` takes: the pipeline's latent
divided by `vae.config.scaling_factor` (and de-normalised with latents_mean/std for VAEs that have them).
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from t2i_generator.model_source import pick_device, pick_dtype, resolve_model

DEFAULT_DECODE_TILE_PX = 512  # VAE decode above this side length goes tile by tile (bounded memory)


@dataclass
class GeneratedLatent:
    latent: np.ndarray  # float32 (C, h, w), unscaled (see module docstring)
    seed: int
    seconds: float
    weights: str


def _latent_to_vae_space(latent: torch.Tensor, vae) -> torch.Tensor:
    """Undo the pipeline's latent scaling so the result is what `vae.decode` expects."""
    config = vae.config
    if getattr(config, 'latents_mean', None) is not None and getattr(config, 'latents_std', None) is not None:
        mean = torch.tensor(config.latents_mean).view(1, -1, 1, 1).to(latent)
        std = torch.tensor(config.latents_std).view(1, -1, 1, 1).to(latent)
        return latent * std / config.scaling_factor + mean
    return latent / config.scaling_factor


class LatentDecoder:
    """VAE decoder of unscaled latents into uint8 RGB, tiled for large images."""

    def __init__(self, vae, weights: str, tile_px: int = DEFAULT_DECODE_TILE_PX) -> None:
        if vae.dtype == torch.float16 and getattr(vae.config, 'force_upcast', False):
            vae = vae.to(torch.float32)  # the SDXL VAE overflows in fp16
        self.vae = vae.eval()
        self.weights = weights
        self.scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        vae.enable_tiling()
        vae.tile_sample_min_size = tile_px
        vae.tile_latent_min_size = tile_px // self.scale_factor

    @torch.inference_mode()
    def decode(self, latent: np.ndarray) -> np.ndarray:
        """(C, h, w) unscaled latent -> uint8 (h*f, w*f, 3) RGB."""
        if latent.ndim != 3 or latent.shape[0] != self.vae.config.latent_channels:
            raise ValueError(f'expected a ({self.vae.config.latent_channels}, h, w) latent, got {latent.shape}')
        z = torch.from_numpy(np.ascontiguousarray(latent))[None].to(self.vae.device, self.vae.dtype)
        image = self.vae.decode(z).sample[0].float()
        return (image / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class Generator:
    """A loaded text-to-image pipeline that produces latents."""

    def __init__(self, pipeline, weights: str) -> None:
        self.pipeline = pipeline
        self.weights = weights
        self.decoder = LatentDecoder(pipeline.vae, weights)
        pipeline.set_progress_bar_config(disable=True)

    def generate(self, prompt: str, width: int, height: int, steps: int, seed: int | None = None,
                 guidance_scale: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> GeneratedLatent:
        """Run `steps` denoising steps at width x height pixels (multiples of the VAE factor, 8) and return the
        latent. The same seed gives the same latent on CPU (noise is drawn from a CPU torch.Generator)."""
        factor = self.decoder.scale_factor
        if width % factor or height % factor or width <= 0 or height <= 0:
            raise ValueError(f'width and height must be positive multiples of {factor}, got {width}x{height} '
                             '(round them with t2i_common.sizing.generation_size)')
        if steps < 1:
            raise ValueError(f'steps must be >= 1, got {steps}')
        seed = secrets.randbits(31) if seed is None else int(seed)
        options: dict = {}
        if guidance_scale is not None:
            options['guidance_scale'] = guidance_scale
        if progress is not None:
            def on_step_end(pipeline, step: int, timestep, tensors: dict) -> dict:
                progress(step + 1, steps)
                return tensors
            options['callback_on_step_end'] = on_step_end
        start = time.perf_counter()
        with torch.inference_mode():
            output = self.pipeline(prompt=prompt, width=width, height=height, num_inference_steps=steps,
                                   generator=torch.Generator('cpu').manual_seed(seed), output_type='latent',
                                   **options)
            latent = _latent_to_vae_space(output.images, self.pipeline.vae)
        return GeneratedLatent(latent=latent[0].float().cpu().numpy(), seed=seed,
                               seconds=time.perf_counter() - start, weights=self.weights)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        return self.decoder.decode(latent)


def _pipeline_class(model_dir):
    """SDXL (the default and the paper's model) by its own class; any other text-to-image pipeline
    (SD 1.5, SD 2.x, ...) through AutoPipelineForText2Image, which reads model_index.json."""
    from diffusers import AutoPipelineForText2Image, StableDiffusionXLPipeline
    class_name = json.loads((model_dir / 'model_index.json').read_text())['_class_name']
    return StableDiffusionXLPipeline if class_name == 'StableDiffusionXLPipeline' else AutoPipelineForText2Image


def load_generator(model: str, device: str | None = None, dtype: str | None = None) -> Generator:
    """`model`: a diffusers folder, an HF repo id in the local cache, or 'tiny-sdxl' (random weights)."""
    source = resolve_model(model)
    device = pick_device(device)
    torch_dtype = pick_dtype(dtype, device, random_tiny=source.is_tiny_random)
    pipeline = _pipeline_class(source.path).from_pretrained(str(source.path), dtype=torch_dtype,
                                                            local_files_only=True)
    return Generator(pipeline.to(device), source.weights)


def load_decoder(model: str, device: str | None = None, dtype: str | None = None,
                 tile_px: int = DEFAULT_DECODE_TILE_PX) -> LatentDecoder:
    """Only the VAE of `model`, for a process that decodes latents without running the UNet."""
    from diffusers import AutoencoderKL
    source = resolve_model(model)
    device = pick_device(device)
    torch_dtype = pick_dtype(dtype, device, random_tiny=source.is_tiny_random)
    vae = AutoencoderKL.from_pretrained(str(source.path), subfolder='vae', dtype=torch_dtype,
                                        local_files_only=True)
    return LatentDecoder(vae.to(device), source.weights, tile_px)
