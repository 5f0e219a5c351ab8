"""Edge-side super-resolution of foreground patches: diffusion SR (the SD x4 upscaler) and fallbacks.

The `SRBackend` contract is the device's (`device_sr.backend`), so both stages and the stitcher agree on it.
The x4 upscaler only upscales by 4: other scales run x4 and then resample (cv2.INTER_AREA when shrinking,
e.g. x2 = x4 then area-downsample by 2, which also averages away some diffusion noise). Its UNet works at the
patch's pixel size with an 8x-downsampling U, so patch sides are reflect-padded to multiples of 8 and the
padding is cropped from the output.
"""
from __future__ import annotations

import numpy as np

from device_sr.backend import SRBackend, check_patches, output_size, resample

UPSCALER_FACTOR = 4
PATCH_MULTIPLE = 8


class DiffusionUpscaleBackend:
    """diffusers StableDiffusionUpscalePipeline on batches of equal-sized patches, all with the request prompt.

    `noise_level` is how much noise is added to the low-res conditioning (more = more invented detail);
    `guidance_scale` > 1 turns on classifier-free guidance, which doubles the UNet cost. Noise comes from a
    CPU generator seeded with `seed` per batch: a request is reproducible, but a patch's pixels depend on
    which patches share its batch."""

    name = 'diffusion-x4'

    def __init__(self, pipeline, weights: str, *, steps: int = 20, noise_level: int = 20,
                 guidance_scale: float = 7.5, batch_size: int = 4, seed: int = 0) -> None:
        self.pipeline = pipeline
        self.weights = weights
        self.steps = steps
        self.noise_level = noise_level
        self.guidance_scale = guidance_scale
        self.batch_size = batch_size
        self.seed = seed
        pipeline.set_progress_bar_config(disable=True)

    def upscale(self, patches: list[np.ndarray], scale: float, prompt: str = '') -> list[np.ndarray]:
        check_patches(patches)
        if scale > UPSCALER_FACTOR:
            raise ValueError(f'{self.name} upscales by at most {UPSCALER_FACTOR}, asked for {scale}')
        results: list[np.ndarray | None] = [None] * len(patches)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, patch in enumerate(patches):
            by_shape.setdefault(patch.shape, []).append(index)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                for index, image in zip(chunk, self._run_batch([patches[i] for i in chunk], prompt)):
                    results[index] = image
        return [resample(image, *output_size(patch.shape[0], patch.shape[1], scale))
                for image, patch in zip(results, patches)]

    def _run_batch(self, images: list[np.ndarray], prompt: str) -> list[np.ndarray]:
        """x4 outputs of equal-sized patches, padding removed."""
        import torch
        height, width = images[0].shape[:2]
        pad_h, pad_w = -height % PATCH_MULTIPLE, -width % PATCH_MULTIPLE
        batch = np.stack([np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode='reflect' if
                                 min(height, width) > max(pad_h, pad_w) else 'edge') for image in images])
        with torch.inference_mode():
            output = self.pipeline(prompt=[prompt] * len(images), image=batch.astype(np.float32) / 255.0,
                                   num_inference_steps=self.steps, noise_level=self.noise_level,
                                   guidance_scale=self.guidance_scale, output_type='np',
                                   generator=torch.Generator('cpu').manual_seed(self.seed)).images
        output = (np.clip(output, 0, 1) * 255).round().astype(np.uint8)
        return [out[:height * UPSCALER_FACTOR, :width * UPSCALER_FACTOR] for out in output]


def load_diffusion_upscaler(model: str = 'tiny-x4-upscaler', device: str | None = None, dtype: str | None = None,
                            **options) -> DiffusionUpscaleBackend:
    """`model`: a diffusers folder of an SD x4 upscaler, an HF repo id in the local cache (e.g.
    stabilityai/stable-diffusion-x4-upscaler) or 'tiny-x4-upscaler' (random weights, built on demand)."""
    from diffusers import StableDiffusionUpscalePipeline
    from t2i_generator.model_source import pick_device, pick_dtype, resolve_model
    source = resolve_model(model)
    device = pick_device(device)
    pipeline = StableDiffusionUpscalePipeline.from_pretrained(
        str(source.path), dtype=pick_dtype(dtype, device, random_tiny=source.is_tiny_random),
        local_files_only=True)
    return DiffusionUpscaleBackend(pipeline.to(device), source.weights, **options)


SR_BACKEND_NAMES = ('diffusion-x4', 'realesrgan', 'bicubic')


def make_sr_backend(name: str = 'diffusion-x4', **options) -> SRBackend:
    """Edge-side registry: 'diffusion-x4' (options: model, device, dtype, steps, noise_level, guidance_scale,
    batch_size, seed), 'realesrgan' (the heavy x4plus from device_sr; its options), 'bicubic'."""
    if name == 'diffusion-x4':
        return load_diffusion_upscaler(**options)
    if name == 'realesrgan':
        from device_sr.backend import make_sr_backend as make_device_backend
        return make_device_backend('realesrgan-x4plus', **options)
    if name == 'bicubic':
        from device_sr.backend import make_sr_backend as make_device_backend
        return make_device_backend('bicubic', **options)
    raise ValueError(f'unknown edge SR back-end {name!r}; choose one of {SR_BACKEND_NAMES}')
