import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.ndimage import gaussian_filter

from t2i_stitcher.blend import Canvas, Patch, feather_weights, match_colour, seam_score, stitch


def _edges(length, parts):
    return np.linspace(0, length, parts + 1).round().astype(int).tolist()


def _grid_boxes(width, height, grid, overlap):
    """(core box, patch box, margins) of a grid with `overlap` px on inner edges, row-major."""
    xs, ys = _edges(width, grid), _edges(height, grid)
    out = []
    for row in range(grid):
        for col in range(grid):
            core = (xs[col], ys[row], xs[col + 1], ys[row + 1])
            box = (max(0, core[0] - overlap), max(0, core[1] - overlap),
                   min(width, core[2] + overlap), min(height, core[3] + overlap))
            out.append((core, box, (core[0] - box[0], core[1] - box[1], box[2] - core[2], box[3] - core[3])))
    return out


def _crops(image, layout, foreground=()):
    return [Patch(i, box, margins, image[box[1]:box[3], box[0]:box[2]], i in foreground)
            for i, (_, box, margins) in enumerate(layout)]


def _smooth_image(width, height, seed=0):
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.normal(size=(height, width, 3)), (3, 3, 0))
    ramp = np.linspace(40, 200, width)[None, :, None]
    return np.clip(ramp + 400 * noise, 0, 255)


def test_symmetric_neighbours_sum_to_one():
    left = feather_weights(4, 40, (0, 0, 8, 0))[0]
    right = feather_weights(4, 40, (8, 0, 0, 0))[0]
    # left covers [0, 40), right covers [24, 64): the overlap is [24, 40)
    assert np.allclose(left[24:40] + right[:16], 1.0)
    assert np.allclose(left[:24], 1.0) and (left > 0).all()
    assert np.allclose(feather_weights(5, 5, (0, 0, 0, 0)), 1.0)


@given(st.integers(8, 90), st.integers(8, 90), st.integers(1, 4), st.integers(0, 12), st.randoms(), st.booleans())
@settings(max_examples=50, deadline=None)
def test_stitching_crops_of_one_image_is_exact_and_order_free(width, height, grid, overlap, shuffler, colour):
    image = np.random.default_rng(width * height).integers(0, 256, size=(height, width, 3)).astype(float)
    layout = _grid_boxes(width, height, grid, overlap)
    patches = _crops(image, layout, foreground={0})
    shuffler.shuffle(patches)
    canvas = Canvas((width, height), range(len(layout)), colour_fix='mean_std' if colour else None)
    for patch in patches:
        canvas.add(patch)
    blended, filled = canvas.composite()
    assert filled == 0 and canvas.missing == []
    assert np.allclose(blended, image, atol=1e-3 if colour else 1e-9)
    assert np.array_equal(canvas.finish().image, image.astype(np.uint8))


def test_missing_patch_is_reported_and_filled_from_fallback():
    width, height = 64, 48
    image = _smooth_image(width, height)
    layout = _grid_boxes(width, height, 2, 6)
    lowres = image[::4, ::4]  # the fallback is resized to the canvas
    result = stitch(_crops(image, layout)[1:], (width, height), range(4), fallback=lowres)
    assert result.missing == [0] and result.filled_pixels > 0
    assert result.image.shape == (height, width, 3)
    assert np.abs(result.image[:10, :10].astype(float) - image[:10, :10]).mean() < 40
    blank = stitch([], (width, height), range(4))
    assert blank.missing == [0, 1, 2, 3] and blank.filled_pixels == width * height


def test_duplicates_ignored_and_odd_sized_patches_resized():
    image = _smooth_image(40, 40)
    layout = _grid_boxes(40, 40, 2, 4)
    patches = _crops(image, layout)
    odd = Patch(0, patches[0].box, patches[0].margins, np.zeros((23, 25, 3)))
    canvas = Canvas((40, 40), range(4))
    for patch in patches + [odd]:
        canvas.add(patch)
    assert np.allclose(canvas.composite()[0], image)
    resized = stitch([odd], (40, 40))
    assert resized.image[:20, :20].max() == 0


@pytest.mark.parametrize('bad', [Patch(0, (0, 0, 50, 10), (0, 0, 0, 0), np.zeros((10, 50, 3))),
                                 Patch(0, (0, 0, 10, 10), (6, 0, 6, 0), np.zeros((10, 10, 3))),
                                 Patch(0, (0, 0, 10, 10), (0, 0, 0, 0), np.zeros((10, 10)))])
def test_invalid_patches_raise(bad):
    with pytest.raises(ValueError):
        Canvas((40, 40)).add(bad)


def test_canvas_options_validated():
    with pytest.raises(ValueError):
        Canvas((10, 10), colour_fix='wavelet')
    with pytest.raises(ValueError):
        Canvas((10, 10), colour_fix='magic')


@pytest.mark.parametrize('method', ['mean_std', 'wavelet'])
def test_match_colour_removes_a_colour_cast(method):
    reference = _smooth_image(48, 48, seed=3)
    cast = np.clip(reference * [1.2, 0.9, 1.0] + [10, -5, 20], 0, 255)
    fixed = match_colour(cast, reference, method)
    assert np.abs(fixed - reference).mean() < 0.3 * np.abs(cast - reference).mean()
    with pytest.raises(ValueError):
        match_colour(cast, reference[:10], method)


def test_match_colour_mask_uses_only_the_overlap():
    reference = _smooth_image(32, 32, seed=4)
    mask = np.zeros((32, 32), bool)
    mask[:, :6] = True
    garbage = reference.copy()
    garbage[:, 6:] = 0  # only the masked strip of the reference may be trusted
    fixed = match_colour(reference + 30, garbage, 'mean_std', mask)
    assert np.abs(fixed - reference).mean() < 3


def _two_model_mosaic(overlap, colour_fix=None):
    """A 2x2 grid: diagonal patches from a colour-shifted sharp upscale, the others from a blurred one."""
    image = _smooth_image(128, 128, seed=7)
    sharp = np.clip(image * 1.1 + 12, 0, 255)
    blurred = gaussian_filter(image, (1.5, 1.5, 0))
    layout = _grid_boxes(128, 128, 2, overlap)
    patches = [Patch(i, box, margins, (sharp if i in (0, 3) else blurred)[box[1]:box[3], box[0]:box[2]], i in (0, 3))
               for i, (_, box, margins) in enumerate(layout)]
    result = stitch(patches, (128, 128), range(4), fallback=blurred, colour_fix=colour_fix)
    return seam_score(result.image, [core for core, _, _ in layout])


def test_feathering_scores_clearly_better_than_hard_cuts():
    hard = _two_model_mosaic(0)
    feathered = _two_model_mosaic(12)
    colour_fixed = _two_model_mosaic(12, 'mean_std')
    assert hard > 1.5
    assert feathered < 0.75 * hard
    assert colour_fixed <= feathered * 1.05


def test_seam_score_is_about_one_without_seams():
    image = _smooth_image(96, 96, seed=2)
    boxes = [core for core, _, _ in _grid_boxes(96, 96, 3, 0)]
    assert 0.7 < seam_score(image, boxes) < 1.3
    step = image.copy()
    step[:, 32:] += 40
    assert seam_score(step, boxes) > 2
