"""Where diffusion weights come from: a local folder, the Hugging Face cache, or a tiny random-weight build.

This machine has no model hub, and a hub lookup that waits on the network would hang a ROS node at start-up,
so everything is resolved offline and a missing model fails at once with a message that says how to supply it.
Shared by the generator and the edge diffusion-SR back-end.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class ModelNotAvailableError(FileNotFoundError):
    """The requested weights are not on this machine."""


@dataclass(frozen=True)
class ModelSource:
    path: Path
    weights: str  # what the outputs will say made them

    @property
    def is_tiny_random(self) -> bool:
        return self.weights.startswith('tiny-random:')


def resolve_model(model: str) -> ModelSource:
    """`model`: 'tiny-sdxl' / 'tiny-x4-upscaler' (built on demand), a diffusers folder, or an HF repo id that is
    already in the local cache."""
    if not model:
        raise ModelNotAvailableError('no model given: pass a diffusers folder, a cached HF repo id or a tiny-* name')
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    from t2i_bringup.tiny_models import TINY_MODELS, ensure_tiny_model, read_weights_label
    if model in TINY_MODELS:
        path = ensure_tiny_model(model)
        return ModelSource(path, read_weights_label(path) or model)
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / 'model_index.json').is_file():
            raise ModelNotAvailableError(f'{path} is not a diffusers pipeline folder (no model_index.json)')
        return ModelSource(path.resolve(), read_weights_label(path) or str(path.resolve()))
    if model.count('/') == 1 and not model.startswith(('.', '/', '~')):
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
        try:
            snapshot = Path(snapshot_download(model, local_files_only=True))
        except LocalEntryNotFoundError:
            pass
        else:
            return ModelSource(snapshot, f'{model} (HF cache snapshot {snapshot.name})')
    raise ModelNotAvailableError(
        f'model {model!r} is not on this machine: it is neither a local diffusers folder nor in the Hugging Face '
        f'cache ({os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"}). '
        f'Supply it by copying a `save_pretrained` folder here and passing its path, or by running '
        f'`huggingface-cli download {model}` on a connected machine and copying its HF cache; for code-path '
        f'tests use a tiny random-weight model (tiny-sdxl, tiny-x4-upscaler).')


def pick_device(device: str | None) -> str:
    import torch
    return device or ('cuda' if torch.cuda.is_available() else 'cpu')


def pick_dtype(dtype: str | None, device: str, random_tiny: bool):
    """fp16 on CUDA; on CPU bf16 for full-size models (1.5-2.5x faster here) and fp32 for tiny ones, where
    the speed gain is nil and fp32 keeps the tests exactly reproducible."""
    import torch
    if dtype is None:
        dtype = 'float16' if device.startswith('cuda') else ('float32' if random_tiny else 'bfloat16')
    if dtype not in ('float32', 'float16', 'bfloat16'):
        raise ValueError(f'dtype must be float32, float16 or bfloat16, got {dtype!r}')
    return getattr(torch, dtype)
