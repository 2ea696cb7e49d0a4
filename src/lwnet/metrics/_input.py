"""The inputs of the per-metric functions: ``(H, W)`` images of grey levels on 0..255."""

from __future__ import annotations

from typing import Any

import numpy as np


def grey_image(x: Any, metric: str, integers: bool = False) -> np.ndarray:
    """``x`` as a float64 ``(H, W)`` image of grey levels on 0..255, for ``metric``.

    Raises ``ValueError`` naming the metric for another shape, an empty image, NaN or infinity,
    values outside 0..255, a float image that looks like [0, 1] (fractional values, none above
    1: the metrics' constants and noise variances assume 0..255; a genuine 0..255 image that
    dark, or a one-pixel test of 0.5, is refused alike; :func:`lwnet.metrics.compute_metrics`
    converts any image itself), and, with ``integers``, levels that are not whole numbers (a
    histogram, or window sums that must cancel exactly). uint8 passes unchecked.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{metric}: expected an (H, W) grey image, got shape {arr.shape} "
                         "(colour: score its luma, lwnet.data.luma8)")
    if arr.dtype == np.uint8:
        return arr.astype(np.float64)
    arr = arr.astype(np.float64)
    if not arr.size:
        raise ValueError(f"{metric}: the image is empty, shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{metric}: the image holds NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 255:
        raise ValueError(f"{metric}: grey levels run from {lo:g} to {hi:g}; expected 0..255")
    whole = bool(np.all(arr == np.rint(arr)))
    if not whole and hi <= 1:
        raise ValueError(f"{metric}: values within [0, 1] with fractions look like a [0, 1] "
                         "image; the metric functions take 0..255 (multiply by 255, or use "
                         "compute_metrics, which converts)")
    if integers and not whole:
        raise ValueError(f"{metric}: needs whole grey levels 0..255 (round the image, or use "
                         "compute_metrics, which scores 8-bit luma)")
    return arr


def same_shape(metric: str, *images: np.ndarray, min_side: int = 1) -> None:
    """Raise ``ValueError`` naming ``metric`` unless ``images`` are ``(H, W)`` arrays of one
    shape with sides of at least ``min_side`` (a window's, say)."""
    shapes = [np.shape(x) for x in images]
    if len(set(shapes)) != 1 or len(shapes[0]) != 2 or min(shapes[0]) < min_side:
        least = f", at least {min_side} pixels a side" if min_side > 1 else ""
        raise ValueError(f"{metric}: {len(images)} (H, W) images of one shape{least} needed; "
                         f"got {', '.join(map(str, shapes))}")
