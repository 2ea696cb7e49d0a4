"""Building blocks shared by the classical fusion methods.

All helpers work on float arrays ``(H, W)``; borders are handled by symmetric reflection so any
H×W (odd sizes included) is accepted.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

#: A pixel counts as background when it rounds to grey level 0 at 8 bits.
_ZERO_LEVEL = 0.5 / 255.0


def as_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two greyscale sources and return them as float64 ``(H, W)`` arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
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
    f[(a < _ZERO_LEVEL) & (b < _ZERO_LEVEL)] = 0.0
    return f.astype(np.float32)


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the ``(2r+1)×(2r+1)`` window clipped to the image, via cumulative sums.

    O(1) per pixel whatever ``r`` is (He et al. 2013's box filter); near the border the mean is
    taken over the part of the window that lies inside the image.
    """
    def _box_sum(v: np.ndarray) -> np.ndarray:
        h, w = v.shape
        c = np.zeros((h + 1, w + 1))
        c[1:, 1:] = np.cumsum(np.cumsum(v, axis=0), axis=1)
        rows = np.arange(h)
        cols = np.arange(w)
        r0, r1 = np.clip(rows - r, 0, h), np.clip(rows + r + 1, 0, h)
        c0, c1 = np.clip(cols - r, 0, w), np.clip(cols + r + 1, 0, w)
        return c[r1][:, c1] - c[r0][:, c1] - c[r1][:, c0] + c[r0][:, c0]

    count = _box_sum(np.ones_like(x))
    return _box_sum(x) / count


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
    mean_p = box_mean(src, r)
    var_i = box_mean(guide * guide, r) - mean_i * mean_i
    cov_ip = box_mean(guide * src, r) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, r) * guide + box_mean(b, r)


def consistency_check(choose_a: np.ndarray, size: int = 3) -> np.ndarray:
    """Majority filter of a binary decision map (Li, Manjunath, Mitra, GMIP 57(3) 1995).

    A coefficient keeps source A when most of its ``size×size`` neighbours chose A, which removes
    isolated decisions that come from noise.
    """
    return uniform_filter(choose_a.astype(np.float64), size=size, mode="reflect") > 0.5
