"""Generator and decoder on the tiny random-weight SDXL, loaded through the same from_pretrained path as real
weights."""
import time

import numpy as np
import pytest
import torch

from t2i_generator.backend import load_decoder, load_generator
from t2i_generator.model_source import ModelNotAvailableError, resolve_model


@pytest.fixture(scope='module')
def generator():
    return load_generator('tiny-sdxl')


def test_latent_shape_dtype_and_provenance(generator) -> None:
    result = generator.generate('a red fox in the snow', width=128, height=96, steps=2, seed=3)
    assert result.latent.shape == (4, 12, 16)
    assert result.latent.dtype == np.float32
    assert result.seed == 3 and result.seconds > 0
    assert result.weights == 'tiny-random:sdxl (random weights, NOT a real model)'


def test_same_seed_same_latent_other_seed_other_latent(generator) -> None:
    first = generator.generate('a lighthouse', 64, 64, 2, seed=11).latent
    again = generator.generate('a lighthouse', 64, 64, 2, seed=11).latent
    other = generator.generate('a lighthouse', 64, 64, 2, seed=12).latent
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_without_seed_a_seed_is_drawn_and_reported(generator) -> None:
    result = generator.generate('a lighthouse', 64, 64, 1)
    assert np.array_equal(generator.generate('a lighthouse', 64, 64, 1, seed=result.seed).latent, result.latent)


def test_progress_reports_every_step(generator) -> None:
    calls = []
    generator.generate('a lighthouse', 64, 64, 5, seed=0, progress=lambda step, total: calls.append((step, total)))
    assert calls == [(step, 5) for step in range(1, 6)]


@pytest.mark.parametrize('width, height', [(100, 64), (64, 60), (0, 64)])
def test_sizes_not_multiple_of_8_are_rejected(generator, width, height) -> None:
    with pytest.raises(ValueError, match='multiples of 8'):
        generator.generate('x', width, height, 1)


def test_latent_is_unscaled_vae_input(generator) -> None:
    """decode() must equal the pipeline's own latent -> image path (which divides by scaling_factor)."""
    pipeline = generator.pipeline
    result = generator.generate('a lighthouse', 64, 64, 2, seed=5)
    scaled = pipeline(prompt='a lighthouse', width=64, height=64, num_inference_steps=2, output_type='latent',
                      generator=torch.Generator('cpu').manual_seed(5)).images
    np.testing.assert_allclose(result.latent * pipeline.vae.config.scaling_factor, scaled[0].numpy(), rtol=1e-5,
                               atol=1e-5)
    image = pipeline(prompt='a lighthouse', width=64, height=64, num_inference_steps=2, output_type='np',
                     generator=torch.Generator('cpu').manual_seed(5)).images[0]
    decoded = generator.decode(result.latent)
    assert decoded.shape == (64, 64, 3) and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(float) - image * 255).max() <= 1.0


def test_standalone_decoder_matches_and_tiles_large_latents(generator) -> None:
    latent = generator.generate('a lighthouse', 64, 64, 1, seed=1).latent
    decoder = load_decoder('tiny-sdxl')
    assert np.array_equal(decoder.decode(latent), generator.decode(latent))
    tiled = load_decoder('tiny-sdxl', tile_px=64)
    large = np.random.default_rng(0).standard_normal((4, 24, 20)).astype(np.float32)
    assert tiled.decode(large).shape == (192, 160, 3)
    with pytest.raises(ValueError, match='latent'):
        decoder.decode(large[:3])


@pytest.mark.parametrize('model', ['/nonexistent/sdxl-folder', 'nobody/no-such-sdxl-model'])
def test_missing_weights_fail_fast_naming_the_model(model) -> None:
    start = time.monotonic()
    with pytest.raises(ModelNotAvailableError, match='no-such-sdxl-model|sdxl-folder') as error:
        load_generator(model)
    assert 'huggingface-cli download' in str(error.value)
    assert time.monotonic() - start < 30  # no hub attempt that waits on the network


def test_empty_model_name_is_refused_not_resolved_to_the_working_directory() -> None:
    with pytest.raises(ModelNotAvailableError, match='no model given'):
        resolve_model('')


def test_folder_without_model_index_is_not_a_pipeline(tmp_path) -> None:
    with pytest.raises(ModelNotAvailableError, match='model_index.json'):
        resolve_model(str(tmp_path))


def test_real_model_folders_report_their_path(tmp_path) -> None:
    (tmp_path / 'model_index.json').write_text('{}')
    assert resolve_model(str(tmp_path)).weights == str(tmp_path.resolve())


def test_dtype_defaults(generator) -> None:
    from t2i_generator.model_source import pick_dtype
    assert generator.pipeline.unet.dtype == torch.float32  # tiny random model: exact, reproducible fp32
    assert pick_dtype(None, 'cpu', random_tiny=False) == torch.bfloat16  # full-size on CPU: bf16 is faster
    assert pick_dtype(None, 'cuda', random_tiny=False) == torch.float16
    assert pick_dtype('float32', 'cpu', random_tiny=False) == torch.float32
    with pytest.raises(ValueError, match='dtype'):
        pick_dtype('int8', 'cpu', random_tiny=False)


def test_other_text_to_image_pipelines_load_through_autopipeline(tmp_path) -> None:
    """An SD-1.5-layout folder (one text encoder, no add-embeds) is served by AutoPipelineForText2Image."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    tiny_sdxl = load_generator('tiny-sdxl').pipeline
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), norm_num_groups=8, attention_head_dim=4,
                                down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D'),
                                up_block_types=('CrossAttnUpBlock2D', 'UpBlock2D'),
                                cross_attention_dim=tiny_sdxl.text_encoder.config.hidden_size)
    StableDiffusionPipeline(vae=tiny_sdxl.vae, text_encoder=tiny_sdxl.text_encoder, tokenizer=tiny_sdxl.tokenizer,
                            unet=unet, scheduler=tiny_sdxl.scheduler, safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(str(tmp_path))
    generator = load_generator(str(tmp_path), dtype='float32')
    assert type(generator.pipeline).__name__ == 'StableDiffusionPipeline'
    result = generator.generate('a lighthouse', 64, 48, 2, seed=0)
    assert result.latent.shape == (4, 6, 8) and result.weights == str(tmp_path.resolve())
