"""PartiPrompts (the paper's prompt set, Apache-2.0) from the shared data folder."""
from __future__ import annotations

import csv
import os
from pathlib import Path


def partiprompts_path() -> Path:
    """$T2I_PARTIPROMPTS, else ../shared/data/partiprompts/PartiPrompts.tsv beside the checkout."""
    if 'T2I_PARTIPROMPTS' in os.environ:
        return Path(os.environ['T2I_PARTIPROMPTS'])
    root = Path(os.environ.get('T2I_ROOT', Path.cwd()))
    return root.parent / 'shared' / 'data' / 'partiprompts' / 'PartiPrompts.tsv'


def load_partiprompts(count: int, path: Path | None = None) -> list[dict]:
    """`count` prompts spread evenly over the file (so every category is represented), in file order."""
    with open(path or partiprompts_path(), newline='', encoding='utf-8') as handle:
        rows = list(csv.DictReader(handle, delimiter='\t'))
    if count >= len(rows):
        return rows
    step = len(rows) / count
    return [rows[int(i * step)] for i in range(count)]
