"""The tiny offline pipelines: real tokenizer, real classes, random weights that say so."""
import json

import pytest

from t2i_bringup.tiny_models import RANDOM_WEIGHTS_MARKER, ensure_tiny_model, read_weights_label


@pytest.mark.parametrize('name, pipeline_class', [('tiny-sdxl', 'StableDiffusionXLPipeline'),
                                                  ('tiny-x4-upscaler', 'StableDiffusionUpscalePipeline')])
def test_tiny_models_are_marked_diffusers_folders(name, pipeline_class) -> None:
    folder = ensure_tiny_model(name)
    assert json.loads((folder / 'model_index.json').read_text())['_class_name'] == pipeline_class
    assert 'random weights, NOT a real model' in read_weights_label(folder)
    assert (folder / RANDOM_WEIGHTS_MARKER).read_text().count('\n') >= 2


def test_tokenizer_is_the_real_clip_bpe() -> None:
    """OpenAI CLIP ids for 'a photo of a cat'; a byte-level or wrongly merged vocabulary gives other ids."""
    from transformers import CLIPTokenizer
    tokenizer = CLIPTokenizer.from_pretrained(str(ensure_tiny_model('tiny-sdxl') / 'tokenizer'))
    assert len(tokenizer) == 49408
    assert tokenizer('a photo of a cat')['input_ids'] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer.model_max_length == 77


def test_sdxl_architecture_is_faithful() -> None:
    from diffusers import UNet2DConditionModel
    unet = UNet2DConditionModel.from_pretrained(str(ensure_tiny_model('tiny-sdxl')), subfolder='unet',
                                                local_files_only=True)
    config = unet.config
    assert config.addition_embed_type == 'text_time'
    assert config.projection_class_embeddings_input_dim == 6 * config.addition_time_embed_dim + 32
    assert config.cross_attention_dim == 64  # both text encoders' widths concatenated


def test_unknown_tiny_name_is_an_error() -> None:
    with pytest.raises(ValueError, match='tiny-sdxl'):
        ensure_tiny_model('tiny-flux')
