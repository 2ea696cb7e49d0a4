"""Mutual information of grey levels, in bits.

MI(X; Y) = Σ p(x, y) log2(p(x, y) / (p(x) p(y))) from the 256×256 joint histogram of two 8-bit
images (Qu, Zhang, Yan, "Information measure for performance of image fusion", Electronics
Letters 38(7), 2002, use MI(A, F) + MI(B, F) as the fusion metric).
"""

from __future__ import annotations

import numpy as np

from lwnet.metrics._input import grey_image, same_shape

LEVELS = 256


def grey_levels(x: np.ndarray, metric: str) -> np.ndarray:
    """Whole grey levels 0..255 of an ``(H, W)`` image, flattened to int64
    (:func:`lwnet.metrics._input.grey_image` with ``integers``)."""
    return grey_image(x, metric, integers=True).astype(np.int64).ravel()


def mutual_information(x: np.ndarray, y: np.ndarray) -> float:
    """MI in bits of two ``(H, W)`` 8-bit images (integer levels 0..255) → scalar ≥ 0."""
    same_shape("MI", x, y)
    gx, gy = grey_levels(x, "MI"), grey_levels(y, "MI")
    joint = np.bincount(gx * LEVELS + gy, minlength=LEVELS * LEVELS)
    p_xy = joint.reshape(LEVELS, LEVELS) / joint.sum()
    p_x = p_xy.sum(axis=1, keepdims=True)
    p_y = p_xy.sum(axis=0, keepdims=True)
    nz = p_xy > 0
    return float(np.sum(p_xy[nz] * np.log2(p_xy[nz] / (p_x * p_y)[nz])))


def entropy(x: np.ndarray) -> float:
    """Shannon entropy (EN) in bits of the grey-level histogram of an 8-bit ``(H, W)`` image →
    [0, 8] (as a fusion metric: Roberts, van Aardt & Ahmed, J. Appl. Remote Sens. 2, 2008)."""
    p = np.bincount(grey_levels(x, "EN"), minlength=LEVELS) / np.asarray(x).size
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p))) + 0.0  # + 0.0: a flat image's -0.0 reads 0.0
