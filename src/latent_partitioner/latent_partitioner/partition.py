"""Latent partitioning: split a low-res latent into a G x G grid and pick the cells that get diffusion SR.

The paper scores cells by spatial variance and sends the top gamma share ("foreground") to the edge's
diffusion SR; the rest ("background") goes to the device's learning-based SR. Our own measurement found that
variance favours texture rather than objects, so the scorer is pluggable (`SCORERS`, `register_scorer`).

Geometry is kept in three frames, all boxes (x0, y0, x1, y1) half-open:
latent cells -> low-res decoded image (x vae_factor) -> high-res output (x W/w, x H/h per axis).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from t2i_common.sizing import foreground_cell_count

Box = tuple[int, int, int, int]
Margins = tuple[int, int, int, int]
CellScorer = Callable[[np.ndarray], float]

SCORERS: dict[str, CellScorer] = {}


def register_scorer(name: str) -> Callable[[CellScorer], CellScorer]:
    """Decorator: make a cell scorer (C x h x w array -> float, higher = more foreground) selectable by name."""

    def add(scorer: CellScorer) -> CellScorer:
        if name in SCORERS:
            raise ValueError(f'cell scorer {name!r} is already registered')
        SCORERS[name] = scorer
        return scorer

    return add


@register_scorer('variance')
def variance_score(cell: np.ndarray) -> float:
    """The paper's spatial variance: variance over the cell's positions, per channel, averaged over channels.

    Per channel first, so that a constant offset between latent channels does not count as detail.
    """
    flat = cell.reshape(cell.shape[0], -1).astype(np.float64)
    return float(flat.var(axis=1).mean())


@register_scorer('gradient')
def gradient_score(cell: np.ndarray) -> float:
    """Mean squared finite-difference gradient (edge energy), averaged over channels; 0 for 1-pixel cells."""
    data = cell.astype(np.float64)
    energy = 0.0
    if data.shape[2] > 1:
        energy += float(np.mean(np.diff(data, axis=2) ** 2))
    if data.shape[1] > 1:
        energy += float(np.mean(np.diff(data, axis=1) ** 2))
    return energy


@dataclass(frozen=True)
class Cell:
    row: int
    col: int
    index: int  # row * grid + col
    latent_box: Box
    score: float
    foreground: bool
    rank: int  # 0 = highest score


@dataclass(frozen=True)
class Partition:
    grid: int
    latent_size: tuple[int, int]  # (w, h) of the latent
    foreground_ratio: float
    scorer: str
    cells: list[Cell]  # in index order

    @property
    def foreground(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.foreground]

    @property
    def background(self) -> list[Cell]:
        return [cell for cell in self.cells if not cell.foreground]


@dataclass(frozen=True)
class PatchGeometry:
    core_box: Box  # the cell in the low-res image (cores tile the image)
    lowres_box: Box  # core extended by the overlap on inner edges, clamped to the image
    margins: Margins  # (left, top, right, bottom) of lowres_box beyond core_box
    highres_box: Box  # lowres_box mapped to the output
    highres_core_box: Box  # core_box mapped to the output (these tile the output exactly)

    @property
    def highres_margins(self) -> Margins:
        return _margins(self.highres_core_box, self.highres_box)


def cell_edges(length: int, parts: int) -> list[int]:
    """Edges of `parts` near-equal spans covering [0, length) (numpy.array_split: longer spans first)."""
    if parts < 1:
        raise ValueError(f'parts must be >= 1, got {parts}')
    if length < parts:
        raise ValueError(f'cannot split {length} positions into {parts} non-empty cells')
    base, extra = divmod(length, parts)
    edges = [0]
    for part in range(parts):
        edges.append(edges[-1] + base + (1 if part < extra else 0))
    return edges


def partition_latent(
    latent: np.ndarray, grid: int = 4, foreground_ratio: float = 0.25, scorer: str = 'variance'
) -> Partition:
    """Split a C x h x w latent into grid x grid cells; the top ceil(gamma * G^2) scores are foreground.

    Ties go to the lower index, so the result depends on the latent only (deterministic across runs).
    """
    if latent.ndim != 3:
        raise ValueError(f'latent must be C x h x w, got shape {latent.shape}')
    if scorer not in SCORERS:
        raise ValueError(f'unknown cell scorer {scorer!r}; known: {sorted(SCORERS)}')
    count = foreground_cell_count(grid, foreground_ratio)
    score_cell = SCORERS[scorer]
    _, height, width = latent.shape
    xs, ys = cell_edges(width, grid), cell_edges(height, grid)

    boxes: list[Box] = []
    scores: list[float] = []
    for row in range(grid):
        for col in range(grid):
            box = (xs[col], ys[row], xs[col + 1], ys[row + 1])
            boxes.append(box)
            scores.append(score_cell(latent[:, box[1] : box[3], box[0] : box[2]]))
    order = sorted(range(len(boxes)), key=lambda index: (-scores[index], index))
    rank_of = {index: rank for rank, index in enumerate(order)}
    cells = [
        Cell(
            row=index // grid,
            col=index % grid,
            index=index,
            latent_box=boxes[index],
            score=scores[index],
            foreground=rank_of[index] < count,
            rank=rank_of[index],
        )
        for index in range(len(boxes))
    ]
    return Partition(grid, (width, height), foreground_ratio, scorer, cells)


def _margins(inner: Box, outer: Box) -> Margins:
    return (inner[0] - outer[0], inner[1] - outer[1], outer[2] - inner[2], outer[3] - inner[3])


def _scale_box(box: Box, size: tuple[int, int], new_size: tuple[int, int]) -> Box:
    """Map a box by new/old per axis, rounding each edge (half up) so that tiling boxes still tile."""
    (w, h), (new_w, new_h) = size, new_size

    def edge(value: int, old: int, new: int) -> int:
        return (2 * value * new + old) // (2 * old)

    return (edge(box[0], w, new_w), edge(box[1], h, new_h), edge(box[2], w, new_w), edge(box[3], h, new_h))


def cell_geometry(
    cell: Cell,
    image_size: tuple[int, int],
    vae_factor: int = 8,
    overlap_px: int = 16,
    output_size: tuple[int, int] | None = None,
) -> PatchGeometry:
    """Boxes of one cell; an edge is inner when it does not lie on the image border."""
    width, height = image_size
    if overlap_px < 0:
        raise ValueError(f'overlap_px must be >= 0, got {overlap_px}')
    core = tuple(v * vae_factor for v in cell.latent_box)
    if core[2] > width or core[3] > height:
        raise ValueError(f'cell {cell.index} at {core} lies outside the {width}x{height} image')
    # Clamping to the image leaves border edges unextended: only inner edges get the overlap.
    lowres = (
        max(0, core[0] - overlap_px),
        max(0, core[1] - overlap_px),
        min(width, core[2] + overlap_px),
        min(height, core[3] + overlap_px),
    )
    output = image_size if output_size is None else output_size
    return PatchGeometry(
        core_box=core,
        lowres_box=lowres,
        margins=_margins(core, lowres),
        highres_box=_scale_box(lowres, image_size, output),
        highres_core_box=_scale_box(core, image_size, output),
    )


def pixel_boxes(
    partition_or_cell: Partition | Cell,
    image_size: tuple[int, int],
    vae_factor: int = 8,
    overlap_px: int = 16,
    output_size: tuple[int, int] | None = None,
) -> list[PatchGeometry] | PatchGeometry:
    """Pixel geometry of every cell of a partition (index order), or of a single cell.

    `image_size` (w, h) is the decoded low-res image, which must be the latent size x vae_factor; `output_size`
    (W, H) the high-res output (defaults to image_size). The scale W/w and H/h may differ slightly because both
    sizes are rounded; high-res core boxes still tile the output exactly.
    """
    if isinstance(partition_or_cell, Cell):
        return cell_geometry(partition_or_cell, image_size, vae_factor, overlap_px, output_size)
    latent_w, latent_h = partition_or_cell.latent_size
    if (latent_w * vae_factor, latent_h * vae_factor) != tuple(image_size):
        raise ValueError(
            f'image size {image_size} is not the latent size {latent_w}x{latent_h} x vae_factor {vae_factor}'
        )
    return [
        cell_geometry(cell, image_size, vae_factor, overlap_px, output_size) for cell in partition_or_cell.cells
    ]


FOREGROUND_TINT = np.array([255, 96, 32], dtype=np.float32)  # orange: diffusion SR on the edge
BACKGROUND_TINT = np.array([40, 120, 255], dtype=np.float32)  # blue: learning-based SR on the device


def render_partition(
    image: np.ndarray, partition: Partition, vae_factor: int = 8, tint_strength: float = 0.35
) -> np.ndarray:
    """Overlay the grid on an RGB uint8 image: tinted cells (orange = foreground), grid lines, '#rank score'."""
    import cv2  # only the overlay needs OpenCV (text rendering)

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be H x W x 3, got shape {image.shape}')
    height, width = image.shape[:2]
    out = np.array(image, dtype=np.float32, order="C")  # cv2 drawing needs a C-contiguous buffer
    line = max(1, min(width, height) // 256)
    labels = []
    for cell in partition.cells:
        x0, y0, x1, y1 = (min(v * vae_factor, limit) for v, limit in zip(cell.latent_box, (width, height) * 2))
        tint = FOREGROUND_TINT if cell.foreground else BACKGROUND_TINT
        out[y0:y1, x0:x1] = (1 - tint_strength) * out[y0:y1, x0:x1] + tint_strength * tint
        out[y0 : y0 + line, x0:x1] = out[y1 - line : y1, x0:x1] = 255
        out[y0:y1, x0 : x0 + line] = out[y0:y1, x1 - line : x1] = 255
        labels.append((cell, x0, y0, x1 - x0))
    result = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    for cell, x0, y0, cell_w in labels:
        text = f'#{cell.rank + 1} {cell.score:.3g}'
        font_scale = max(0.25, min(1.0, cell_w / 180))
        origin = (x0 + 3 * line, y0 + int(22 * font_scale) + 2 * line)
        cv2.putText(result, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(result, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
    return result
