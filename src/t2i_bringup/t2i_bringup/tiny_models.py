"""Randomly initialised but architecturally faithful SDXL and SD-x4-upscaler pipelines, built fully offline.

No diffusion weights can be downloaded here, yet tests, the CPU demo and the profiler must run the real code
path. So we build the pipelines from their real component classes (two CLIP text encoders with the real
49,408-token BPE tokenizer, text_time micro-conditioning, 8x VAE; 7-channel x4 UNet with noise-level class
labels and a 4x VAE) and save them with `save_pretrained`, to be loaded by the same
`from_pretrained(dir, local_files_only=True)` as real weights. A marker file says they are random weights;
the loaders put its first line into every output's `weights` string.

`full_size=True` builds the same classes with the published SDXL-base / SD-x4-upscaler sizes (still random
weights): their compute equals the real models', which is what latency profiling needs.
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

RANDOM_WEIGHTS_MARKER = 'RANDOM_WEIGHTS.txt'
TINY_MODELS = {  # name -> weights label (first line of the marker file)
    'tiny-sdxl': 'tiny-random:sdxl (random weights, NOT a real model)',
    'tiny-x4-upscaler': 'tiny-random:sd-x4-upscaler (random weights, NOT a real model)',
}
CLIP_CONTEXT = 77
CLIP_BPE_MERGES = 49152 - 256 - 2  # OpenAI's CLIP tokenizer uses this many merges of the BPE file


def cache_root() -> Path:
    return Path(os.environ.get('T2I_CACHE') or Path(__file__).resolve().parents[3] / '.cache')


def write_clip_tokenizer_files(directory: Path) -> None:
    """vocab.json + merges.txt of the real CLIP tokenizer, from the BPE file in the open_clip_torch wheel
    (located without importing open_clip, which needs torchvision)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    spec = importlib.util.find_spec('open_clip')
    if spec is None:
        raise FileNotFoundError('open_clip_torch is not installed (pip install --no-deps open_clip_torch); '
                                'its wheel carries the CLIP BPE vocabulary the tokenizer is built from')
    bpe_file = Path(next(iter(spec.submodule_search_locations))) / 'bpe_simple_vocab_16e6.txt.gz'
    lines = gzip.open(bpe_file, 'rt', encoding='utf-8').read().split('\n')
    merges = [tuple(line.split()) for line in lines[1:CLIP_BPE_MERGES + 1]]
    byte_symbols = list(bytes_to_unicode().values())
    tokens = byte_symbols + [symbol + '</w>' for symbol in byte_symbols] + [''.join(m) for m in merges]
    tokens += ['<|startoftext|>', '<|endoftext|>']
    directory.mkdir(parents=True, exist_ok=True)
    (directory / 'vocab.json').write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False),
                                          encoding='utf-8')
    (directory / 'merges.txt').write_text('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges),
                                          encoding='utf-8')


def clip_tokenizer(directory: Path, pad_token: str):
    """transformers 5 silently ignores CLIPTokenizer(vocab_file=...): load from the folder instead."""
    from transformers import CLIPTokenizer
    return CLIPTokenizer.from_pretrained(str(directory), model_max_length=CLIP_CONTEXT, pad_token=pad_token)


def clip_text_config(tokenizer, hidden: int, layers: int, heads: int, activation: str, projection: int = 0):
    from transformers import CLIPTextConfig
    return CLIPTextConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                          eos_token_id=tokenizer.eos_token_id, pad_token_id=1, hidden_size=hidden,
                          intermediate_size=4 * hidden, num_attention_heads=heads, num_hidden_layers=layers,
                          max_position_embeddings=CLIP_CONTEXT, hidden_act=activation,
                          projection_dim=projection or hidden, layer_norm_eps=1e-5)


def build_sdxl(tokenizer_dir: Path, full_size: bool = False, seed: int = 0):
    """SDXL base: text encoders CLIP ViT-L + OpenCLIP bigG (penultimate states concatenated = cross-attention
    width), UNet with text_time add-embeds, 8x VAE, Euler scheduler."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection
    tokenizer = clip_tokenizer(tokenizer_dir, '<|endoftext|>')
    tokenizer_2 = clip_tokenizer(tokenizer_dir, '!')  # SDXL's second tokenizer pads with "!"
    torch.manual_seed(seed)
    if full_size:
        te1 = CLIPTextModel(clip_text_config(tokenizer, 768, 12, 12, 'quick_gelu'))
        te2 = CLIPTextModelWithProjection(clip_text_config(tokenizer, 1280, 32, 20, 'gelu', projection=1280))
        channels, heads, depth, time_dim, groups = (320, 640, 1280), (5, 10, 20), (1, 2, 10), 256, 32
    else:
        te1 = CLIPTextModel(clip_text_config(tokenizer, 32, 2, 4, 'quick_gelu'))
        te2 = CLIPTextModelWithProjection(clip_text_config(tokenizer, 32, 2, 4, 'gelu', projection=32))
        channels, heads, depth, time_dim, groups = (16, 32, 64), (2, 4, 8), (1, 1, 2), 8, 8
    unet = UNet2DConditionModel(
        sample_size=128 if full_size else 16, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=channels, attention_head_dim=heads, transformer_layers_per_block=depth,
        down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'),
        up_block_types=('CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'),
        cross_attention_dim=te1.config.hidden_size + te2.config.hidden_size, use_linear_projection=True,
        norm_num_groups=groups, addition_embed_type='text_time', addition_time_embed_dim=time_dim,
        # 6 micro-conditioning numbers (original size, crop, target size) + pooled text projection
        projection_class_embeddings_input_dim=6 * time_dim + te2.config.projection_dim)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
        block_out_channels=(128, 256, 512, 512) if full_size else (8, 16, 32, 32),
        norm_num_groups=32 if full_size else 8, sample_size=1024 if full_size else 64,
        down_block_types=('DownEncoderBlock2D',) * 4, up_block_types=('UpDecoderBlock2D',) * 4,
        scaling_factor=0.13025, force_upcast=True)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear',
                                       steps_offset=1, timestep_spacing='leading', prediction_type='epsilon')
    return StableDiffusionXLPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tokenizer,
                                     tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler,
                                     force_zeros_for_empty_prompt=True, add_watermarker=False)


def build_x4_upscaler(tokenizer_dir: Path, full_size: bool = False, seed: int = 0):
    """SD x4 upscaler: UNet input = 4 latent + 3 low-res RGB channels at the patch's pixel size, noise level
    as class label, 4x VAE (scaling 0.08333), DDPM noise for the low-res image, DDIM v-prediction."""
    import torch
    from diffusers import (AutoencoderKL, DDIMScheduler, DDPMScheduler, StableDiffusionUpscalePipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextModel
    tokenizer = clip_tokenizer(tokenizer_dir, '<|endoftext|>')
    torch.manual_seed(seed)
    if full_size:
        text_encoder = CLIPTextModel(clip_text_config(tokenizer, 1024, 23, 16, 'gelu'))
        channels, vae_channels, groups = (256, 512, 512, 1024), (128, 256, 512), 32
    else:
        text_encoder = CLIPTextModel(clip_text_config(tokenizer, 32, 2, 4, 'gelu'))
        channels, vae_channels, groups = (16, 32, 32, 64), (8, 16, 32), 8
    unet = UNet2DConditionModel(
        sample_size=128 if full_size else 32, in_channels=7, out_channels=4, layers_per_block=2,
        block_out_channels=channels, attention_head_dim=8, norm_num_groups=groups,
        down_block_types=('DownBlock2D',) + ('CrossAttnDownBlock2D',) * 3,
        up_block_types=('CrossAttnUpBlock2D',) * 3 + ('UpBlock2D',),
        only_cross_attention=(True, True, True, False), cross_attention_dim=text_encoder.config.hidden_size,
        use_linear_projection=True, num_class_embeds=1000)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=vae_channels,
        norm_num_groups=groups, down_block_types=('DownEncoderBlock2D',) * 3,
        up_block_types=('UpDecoderBlock2D',) * 3, scaling_factor=0.08333)
    low_res_scheduler = DDPMScheduler(beta_schedule='linear', beta_start=0.0001, beta_end=0.02)
    scheduler = DDIMScheduler(beta_schedule='scaled_linear', beta_start=0.00085, beta_end=0.012,
                              prediction_type='v_prediction', clip_sample=False, set_alpha_to_one=False,
                              steps_offset=1)
    return StableDiffusionUpscalePipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                          low_res_scheduler=low_res_scheduler, scheduler=scheduler,
                                          max_noise_level=350)


BUILDERS = {'tiny-sdxl': build_sdxl, 'tiny-x4-upscaler': build_x4_upscaler}


def tiny_model_dir(name: str) -> Path:
    return cache_root() / 'models' / name


def read_weights_label(model_dir: Path) -> str | None:
    """The random-weights label of a folder built here, None for any other (real) model folder."""
    marker = Path(model_dir) / RANDOM_WEIGHTS_MARKER
    return marker.read_text(encoding='utf-8').splitlines()[0] if marker.is_file() else None


def ensure_tiny_model(name: str, rebuild: bool = False) -> Path:
    """Folder of the tiny pipeline `name`, built (a few seconds) if missing. Built in a temporary folder and
    renamed into place, so concurrent test processes never load a half-written model."""
    if name not in BUILDERS:
        raise ValueError(f'unknown tiny model {name!r}; choose one of {sorted(BUILDERS)}')
    target = tiny_model_dir(name)
    if not rebuild and (target / RANDOM_WEIGHTS_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f'.{name}-', dir=target.parent))
    staging.chmod(0o755)
    try:
        write_clip_tokenizer_files(staging / 'clip-bpe')
        BUILDERS[name](staging / 'clip-bpe').save_pretrained(str(staging))
        shutil.rmtree(staging / 'clip-bpe')
        (staging / RANDOM_WEIGHTS_MARKER).write_text(
            f'{TINY_MODELS[name]}\nBuilt by t2i_bringup.tiny_models: real architecture and tokenizer, tiny sizes, '
            'randomly initialised (seed 0). Its images are noise; use it to test code paths, never quality.\n',
            encoding='utf-8')
        if rebuild and target.exists():
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:  # another process finished first: keep theirs
            if not (target / RANDOM_WEIGHTS_MARKER).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


FULL_SIZE_LABELS = {
    'sdxl': 'full-size-random:sdxl-base-1.0 architecture (random weights, NOT a real model; compute as real)',
    'x4-upscaler': 'full-size-random:sd-x4-upscaler architecture (random weights, NOT a real model; '
                   'compute as real)',
}


def build_full_size_random(kind: str, dtype: str = 'bfloat16'):
    """In-memory full-size pipeline with random weights (too big to cache: 5+ GB) for latency profiling.
    Parameters are created directly in `dtype`, so fp32 copies never need to fit in memory."""
    import torch
    builder = {'sdxl': build_sdxl, 'x4-upscaler': build_x4_upscaler}[kind]
    previous = torch.get_default_dtype()
    with tempfile.TemporaryDirectory() as tokenizer_dir:
        write_clip_tokenizer_files(Path(tokenizer_dir))
        torch.set_default_dtype(getattr(torch, dtype))
        try:
            pipeline = builder(Path(tokenizer_dir), full_size=True)
        finally:
            torch.set_default_dtype(previous)
    return pipeline, f'{FULL_SIZE_LABELS[kind]}, {dtype}'


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description='Build the tiny random-weight pipelines into $T2I_CACHE/models/.')
    parser.add_argument('names', nargs='*', default=sorted(BUILDERS), help='default: %(default)s')
    parser.add_argument('--rebuild', action='store_true')
    args = parser.parse_args(argv)
    for name in args.names:
        print(f'{name}: {ensure_tiny_model(name, rebuild=args.rebuild)}')


if __name__ == '__main__':
    main()
