"""Building blocks shared by the classical fusion methods.

All helpers work on float arrays ``(H, W)`` of any H×W (odd sizes included); each says how it
treats the borders.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from lwnet.data.io import BACKGROUND_LEVEL, unit_float


def as_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two greyscale sources and return them as float64 ``(H, W)`` arrays in [0, 1].

    Floats must be finite and in [0, 1] (rounding up to ``FLOAT_SLACK`` outside is clipped);
    uint8 and uint16 are scaled by their type's range (:func:`lwnet.data.io.unit_float`, which
    raises :class:`InputError` for anything else).
    """
    a, b = (np.asarray(unit_float(x, name), dtype=np.float64) for x, name in ((a, "A"), (b, "B")))
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"expected two (H, W) images of equal shape, got {a.shape} and {b.shape}")
    return a, b


def finish(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Clip to [0, 1], zero the common background and return float32.

    SPEC §1: where both sources round to 0 at 8 bits, the fused image must round to 0 too.
    Multi-scale methods spread detail and low-pass energy a few pixels into the background
    (filter support), so the shared background is masked explicitly here.
    """
    f = np.clip(f, 0.0, 1.0)
    f[(a <= BACKGROUND_LEVEL) & (b <= BACKGROUND_LEVEL)] = 0.0
    return f.astype(np.float32)


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the ``(2r+1)×(2r+1)`` window clipped to the image, via cumulative sums.

    O(1) per pixel whatever ``r`` is (He et al. 2013's box filter); near the border the mean is
    taken over the part of the window that lies inside the image.
    """
    sums, rows = _box_sum_1d(x, r, 0)
    sums, cols = _box_sum_1d(sums, r, 1)
    # the clipped window's pixel count is separable: rows(i) · cols(j)
    return sums / np.outer(rows, cols)


def _box_sum_1d(x: np.ndarray, r: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums over ``[i − r, i + r]`` clipped to the axis, and the clipped window lengths."""
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = 1
    c = np.concatenate([np.zeros(shape), np.cumsum(x, axis=axis)], axis=axis)
    idx = np.arange(n)
    hi, lo = np.minimum(idx + r + 1, n), np.maximum(idx - r, 0)
    return np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis), (hi - lo).astype(np.float64)


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Grey-guide guided filter (He, Sun, Tang, IEEE TPAMI 35(6) 2013, Algorithm 1).

    Args:
        guide: guidance image ``(H, W)``.
        src: image to filter ``(H, W)``.
        r: window radius (window ``(2r+1)²``).
        eps: regularisation ε; larger means smoother.
    Returns:
        The filtered image ``(H, W)``, float64.
    """
    mean_i = box_mean(guide, r)
    var_i = box_mean(guide * guide, r) - mean_i * mean_i
    if src is guide:  # self-guided (edge-preserving smoothing): two box filters fewer
        mean_p, cov_ip = mean_i, var_i
    else:
        mean_p = box_mean(src, r)
        cov_ip = box_mean(guide * src, r) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, r) * guide + box_mean(b, r)


def fuse_detail(detail_a: np.ndarray, detail_b: np.ndarray, size: int = 3) -> np.ndarray:
    """Combine two detail bands: the larger magnitude, with a consistency check (Li, Manjunath,
    Mitra, GMIP 57(3) 1995).

    A coefficient keeps source A when most of its ``size×size`` neighbours chose A by magnitude
    (a majority filter of the decision map), which removes isolated decisions that come from
    noise. Both bands of one shape; returns that shape.
    """
    choose_a = np.abs(detail_a) >= np.abs(detail_b)
    majority = uniform_filter(choose_a.astype(np.float64), size=size, mode="reflect") > 0.5
    return np.where(majority, detail_a, detail_b)


def fuse_base(base_a: np.ndarray, base_b: np.ndarray, rule: str) -> np.ndarray:
    """Combine two low-pass bands: ``"mean"`` averages them, ``"max"`` keeps the larger."""
    if rule == "mean":
        return 0.5 * (base_a + base_b)
    if rule == "max":
        return np.maximum(base_a, base_b)
    raise ValueError(f"base_rule must be 'mean' or 'max', not {rule!r}")
