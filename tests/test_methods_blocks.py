"""Building blocks of the classical methods, against brute force and scikit-image."""

from __future__ import annotations

import numpy as np
import pytest

from lwnet.methods._common import box_mean, fuse_detail, guided_filter
from lwnet.methods.edge import visual_saliency
from lwnet.methods.pcnn import _otsu_threshold, papcnn_firing_times
from lwnet.methods.pyramid import (
    _expand,
    _reduce,
    laplacian_pyramid,
    laplacian_reconstruct,
    nonsubsampled_pyramid,
    nonsubsampled_reconstruct,
)


def test_box_mean_matches_brute_force() -> None:
    x = np.random.default_rng(0).random((13, 17))
    r = 3
    expected = np.empty_like(x)
    for i in range(13):
        for j in range(17):
            expected[i, j] = x[max(0, i - r): i + r + 1, max(0, j - r): j + r + 1].mean()
    np.testing.assert_allclose(box_mean(x, r), expected, rtol=1e-10)


def test_box_mean_radius_larger_than_image() -> None:
    x = np.random.default_rng(1).random((9, 11))
    np.testing.assert_allclose(box_mean(x, 45), x.mean(), rtol=1e-10)


def test_guided_filter_preserves_a_step_and_smooths_noise() -> None:
    rng = np.random.default_rng(2)
    step = np.zeros((40, 40))
    step[:, 20:] = 1.0
    noisy = step + 0.02 * rng.standard_normal(step.shape)
    out = guided_filter(noisy, noisy, 4, 1e-2)
    # the edge survives (edge-preserving) and the flat noise shrinks
    assert out[:, 25:].mean() - out[:, :15].mean() > 0.95
    assert out[:, 25:35].std() < 0.5 * noisy[:, 25:35].std()
    # a constant input is returned unchanged
    np.testing.assert_allclose(guided_filter(noisy, np.full((40, 40), 0.3), 5, 0.1), 0.3)


def test_fuse_detail_keeps_the_larger_and_removes_isolated_choices() -> None:
    a = np.zeros((9, 9))
    b = np.full((9, 9), -0.5)
    a[4, 4] = 1.0  # one isolated larger coefficient of A: the majority of B's overrules it
    a[:, 7:] = -2.0  # a band where A is larger in magnitude: kept with its sign
    out = fuse_detail(a, b)
    assert out[4, 4] == -0.5 and (out[:, 8] == -2.0).all() and (out[:, :3] == -0.5).all()


@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (16, 23)])
def test_pyramids_reconstruct_exactly(shape: tuple[int, int]) -> None:
    x = np.random.default_rng(3).random(shape)
    pyr = laplacian_pyramid(x, 4)
    assert pyr[-1].shape[0] < shape[0]
    np.testing.assert_allclose(laplacian_reconstruct(pyr), x, atol=1e-12)
    bands = nonsubsampled_pyramid(x, 4)
    assert all(b.shape == shape for b in bands)
    np.testing.assert_allclose(nonsubsampled_reconstruct(bands), x, atol=1e-12)


def test_flat_image_has_no_detail_up_to_the_border() -> None:
    for bands in (laplacian_pyramid(np.full((37, 53), 0.7), 4),
                  nonsubsampled_pyramid(np.full((37, 53), 0.7), 4)):
        for band in bands[:-1]:
            np.testing.assert_allclose(band, 0.0, atol=1e-12)
        np.testing.assert_allclose(bands[-1], 0.7, atol=1e-12)


def test_visual_saliency_matches_brute_force() -> None:
    x = np.random.default_rng(4).integers(0, 256, (12, 14)) / 255.0
    levels = np.rint(x * 255).astype(int).ravel()
    v = np.array([np.abs(levels - p).sum() for p in levels], float).reshape(x.shape)
    np.testing.assert_allclose(visual_saliency(x), v / v.max(), rtol=1e-10)


def test_otsu_matches_scikit_image() -> None:
    skimage_filters = pytest.importorskip("skimage.filters")
    rng = np.random.default_rng(5)
    s = np.concatenate([rng.normal(0.2, 0.05, 3000), rng.normal(0.7, 0.08, 2000)]).clip(0, 1)
    bin_width = (s.max() - s.min()) / 256
    assert abs(_otsu_threshold(s) - skimage_filters.threshold_otsu(s, nbins=256)) <= bin_width


def test_papcnn_stronger_stimulus_fires_more() -> None:
    rng = np.random.default_rng(6)
    s = np.abs(rng.normal(0, 0.05, (2, 32, 32)))
    s[:, 10:20, 10:20] += 0.3  # a bright square
    fires = papcnn_firing_times(s, 110)
    assert fires.min() >= 0 and fires.max() <= 110
    assert fires[0, 12:18, 12:18].mean() > fires[0, :5, :5].mean()
    # independent networks: equal stimuli give equal counts
    np.testing.assert_array_equal(papcnn_firing_times(np.stack([s[0], s[0]]), 50)[0],
                                  papcnn_firing_times(s[:1], 50)[0])


def _guided_filter_brute_force(guide: np.ndarray, src: np.ndarray, r: int,
                               eps: float) -> np.ndarray:
    """He et al. (TPAMI 2013) Algorithm 1 by its definition: per window ω_k (clipped to the
    image, box_mean's border rule) the linear model a_k = cov(I, p) / (var(I) + ε),
    b_k = mean(p) − a_k·mean(I) with population moments; q_i averages a_k·I_i + b_k over the
    windows that contain i (those centred within r of i, clipped likewise)."""
    h, w = guide.shape
    a, b = np.empty((h, w)), np.empty((h, w))
    for i in range(h):
        for j in range(w):
            win = (slice(max(0, i - r), i + r + 1), slice(max(0, j - r), j + r + 1))
            gi, pi = guide[win], src[win]
            cov = ((gi - gi.mean()) * (pi - pi.mean())).mean()
            a[i, j] = cov / (gi.var() + eps)
            b[i, j] = pi.mean() - a[i, j] * gi.mean()
    q = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            win = (slice(max(0, i - r), i + r + 1), slice(max(0, j - r), j + r + 1))
            q[i, j] = (a[win] * guide[i, j] + b[win]).mean()
    return q


def test_guided_filter_matches_algorithm_1_by_brute_force() -> None:
    rng = np.random.default_rng(7)
    guide, src = rng.random((11, 13)), rng.random((11, 13))
    for r, eps in ((2, 0.01), (3, 1e-3)):
        np.testing.assert_allclose(guided_filter(guide, src, r, eps),
                                   _guided_filter_brute_force(guide, src, r, eps),
                                   rtol=1e-10, atol=1e-12)
        # the self-guided shortcut (src is guide) is the same filter
        np.testing.assert_allclose(guided_filter(guide, guide, r, eps),
                                   _guided_filter_brute_force(guide, guide.copy(), r, eps),
                                   rtol=1e-10, atol=1e-12)


def test_gff_defaults_are_the_papers() -> None:
    """SPEC §4 fixes r1 = 45, ε1 = 0.3, r2 = 7, ε2 = 1e-6 (Li, Kang, Hu, IEEE TIP 2013); the
    same paper sets the 31×31 average filter and the saliency Gaussian r_g = σ_g = 5."""
    import inspect

    from lwnet.methods.gff import gff

    defaults = {k: p.default for k, p in inspect.signature(gff).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == {"r1": 45, "eps1": 0.3, "r2": 7, "eps2": 1e-6, "base_radius": 15,
                        "saliency_radius": 5, "saliency_sigma": 5.0}


_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16  # Burt & Adelson's w, a = 0.375


def test_reduce_and_expand_have_the_binomial_impulse_response() -> None:
    """Burt & Adelson (1983): REDUCE g(i, j) = Σ w(m) w(n) x(2i + m, 2j + n) and
    EXPAND g(i, j) = 4 Σ w(m) w(n) x((i − m)/2, (j − n)/2) over integer terms, summed here
    by hand for impulses far enough from the border that its rule does not matter."""
    for r0, c0 in ((9, 10), (10, 11)):  # both parities of the impulse
        x = np.zeros((21, 22))
        x[r0, c0] = 1.0
        reduced = np.zeros((11, 11))
        for i in range(11):
            for j in range(11):
                for m in range(-2, 3):
                    for n in range(-2, 3):
                        if (2 * i + m, 2 * j + n) == (r0, c0):
                            reduced[i, j] += _BINOMIAL[m + 2] * _BINOMIAL[n + 2]
        np.testing.assert_allclose(_reduce(x), reduced, atol=1e-15)
    small = np.zeros((10, 11))
    small[4, 5] = 1.0
    expanded = np.zeros((20, 22))
    for i in range(20):
        for j in range(22):
            for m in range(-2, 3):
                for n in range(-2, 3):
                    if (i - m) % 2 == 0 and (j - n) % 2 == 0 and \
                            ((i - m) // 2, (j - n) // 2) == (4, 5):
                        expanded[i, j] += 4 * _BINOMIAL[m + 2] * _BINOMIAL[n + 2]
    np.testing.assert_allclose(_expand(small, (20, 22)), expanded, atol=1e-15)
