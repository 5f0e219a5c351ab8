import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from latent_partitioner.partition import (
    SCORERS,
    Cell,
    cell_edges,
    partition_latent,
    pixel_boxes,
    register_scorer,
    render_partition,
    variance_score,
)

latents = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**31 - 1))


def _latent(grid, extra_h, extra_w, seed, channels=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(channels, grid * 2 + extra_h, grid * 3 + extra_w)).astype(np.float32)


def test_cell_edges_like_array_split():
    for length, parts in [(10, 4), (64, 4), (7, 7), (9, 2)]:
        expected = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(length), parts)])
        assert cell_edges(length, parts) == expected.tolist()
    with pytest.raises(ValueError):
        cell_edges(3, 4)


def test_variance_is_per_channel_then_mean():
    cell = np.stack([np.zeros((2, 2)), np.full((2, 2), 100.0), np.array([[0.0, 2.0], [0.0, 2.0]])])
    assert variance_score(cell) == pytest.approx(1.0 / 3.0)  # the channel offset of 100 does not count


@given(latents, st.floats(0, 1), st.sampled_from(sorted(SCORERS)))
@settings(max_examples=60, deadline=None)
def test_partition_counts_cover_and_determinism(shape, ratio, scorer):
    grid, extra_h, extra_w, seed = shape
    latent = _latent(grid, extra_h, extra_w, seed)
    part = partition_latent(latent, grid, ratio, scorer)
    assert len(part.cells) == grid * grid
    assert len(part.foreground) == int(np.ceil(ratio * grid * grid - 1e-9))
    assert sorted(cell.rank for cell in part.cells) == list(range(grid * grid))
    covered = np.zeros(latent.shape[1:], dtype=int)
    for cell in part.cells:
        x0, y0, x1, y1 = cell.latent_box
        assert x1 > x0 and y1 > y0 and cell.index == cell.row * grid + cell.col
        covered[y0:y1, x0:x1] += 1
    assert (covered == 1).all()
    worst_foreground = min((c.score for c in part.foreground), default=np.inf)
    best_background = max((c.score for c in part.background), default=-np.inf)
    assert worst_foreground >= best_background
    assert partition_latent(latent.copy(), grid, ratio, scorer) == part


def test_ties_go_to_lower_index():
    part = partition_latent(np.zeros((4, 16, 16)), grid=4, foreground_ratio=0.25)
    assert [cell.index for cell in part.foreground] == [0, 1, 2, 3]


def test_highest_variance_cell_is_foreground():
    latent = np.zeros((4, 32, 32), dtype=np.float32)
    latent[:, 24:32, 8:16] = np.random.default_rng(0).normal(size=(4, 8, 8))
    part = partition_latent(latent, grid=4, foreground_ratio=0.0625)
    assert [(c.row, c.col) for c in part.foreground] == [(3, 1)]


@pytest.mark.parametrize('kwargs', [{'foreground_ratio': 1.1}, {'foreground_ratio': -0.1}, {'grid': 0},
                                    {'scorer': 'nope'}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        partition_latent(np.zeros((4, 16, 16)), **kwargs)


def test_register_scorer_selectable_and_unique():
    name = 'test-max-abs'
    if name not in SCORERS:
        register_scorer(name)(lambda cell: float(np.abs(cell).max()))
    latent = np.zeros((1, 8, 8))
    latent[0, 0, 7] = 5.0
    assert partition_latent(latent, 2, 0.25, name).foreground[0].index == 1
    with pytest.raises(ValueError):
        register_scorer(name)(lambda cell: 0.0)


@given(latents, st.integers(0, 40), st.sampled_from([1, 1.5, 2, 3, 4, 2.37]))
@settings(max_examples=60, deadline=None)
def test_pixel_boxes_tile_both_images(shape, overlap, scale):
    grid, extra_h, extra_w, seed = shape
    latent = _latent(grid, extra_h, extra_w, seed, channels=1)
    part = partition_latent(latent, grid)
    size = (latent.shape[2] * 8, latent.shape[1] * 8)
    out_size = (int(round(size[0] * scale)), int(round(size[1] * scale * 1.01)))
    geoms = pixel_boxes(part, size, 8, overlap, out_size)
    for frame, box_of in ((size, lambda g: g.core_box), (out_size, lambda g: g.highres_core_box)):
        covered = np.zeros((frame[1], frame[0]), dtype=int)
        for geom in geoms:
            x0, y0, x1, y1 = box_of(geom)
            covered[y0:y1, x0:x1] += 1
        assert (covered == 1).all()
    for cell, geom in zip(part.cells, geoms):
        lx0, ly0, lx1, ly1 = geom.lowres_box
        assert 0 <= lx0 and 0 <= ly0 and lx1 <= size[0] and ly1 <= size[1]
        left, top, right, bottom = geom.margins
        assert left == (min(overlap, geom.core_box[0]) if cell.col > 0 else 0)
        assert top == (min(overlap, geom.core_box[1]) if cell.row > 0 else 0)
        assert right == (min(overlap, size[0] - geom.core_box[2]) if cell.col < grid - 1 else 0)
        assert bottom == (min(overlap, size[1] - geom.core_box[3]) if cell.row < grid - 1 else 0)
        hx0, hy0, hx1, hy1 = geom.highres_box
        assert 0 <= hx0 and 0 <= hy0 and hx1 <= out_size[0] and hy1 <= out_size[1]
        assert all(m >= 0 for m in geom.highres_margins)
        assert (hx1 - hx0) == pytest.approx((lx1 - lx0) * out_size[0] / size[0], abs=1)


def test_single_cell_and_size_mismatch():
    part = partition_latent(np.zeros((4, 16, 16)), grid=4)
    cell = part.cells[5]
    geom = pixel_boxes(cell, (128, 128), overlap_px=8, output_size=(256, 256))
    assert geom.core_box == (32, 32, 64, 64)
    assert geom.lowres_box == (24, 24, 72, 72)
    assert geom.highres_box == (48, 48, 144, 144) and geom.highres_core_box == (64, 64, 128, 128)
    assert geom.highres_margins == (16, 16, 16, 16)
    with pytest.raises(ValueError):
        pixel_boxes(part, (120, 128))
    with pytest.raises(ValueError):
        pixel_boxes(Cell(0, 0, 0, (0, 0, 20, 20), 0.0, True, 0), (128, 128))


def test_render_partition_marks_cells():
    latent = np.zeros((4, 16, 16))
    latent[:, :4, :4] = np.random.default_rng(1).normal(size=(4, 4, 4))
    part = partition_latent(latent, grid=4)
    image = np.full((128, 128, 3), 128, dtype=np.uint8)
    out = render_partition(image, part)
    assert out.shape == image.shape and out.dtype == np.uint8
    foreground_px = out[20, 16].astype(int)  # inside cell 0 away from text and lines
    background_px = out[100, 100].astype(int)
    assert foreground_px[0] > foreground_px[2] and background_px[2] > background_px[0]
    assert (out[64, 5:120] >= 250).all()  # a grid line
    assert not np.array_equal(out[5:20, 3:30], np.broadcast_to(out[20, 16], (15, 27, 3)))  # label drawn
