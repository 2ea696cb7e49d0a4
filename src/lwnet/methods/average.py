"""Weighted average: the simplest pixel-level fusion rule."""

from __future__ import annotations

import numpy as np

from lwnet.methods._common import as_pair, finish


def average(a: np.ndarray, b: np.ndarray, *, weight: float = 0.5) -> np.ndarray:
    """Fuse by ``f = weight · a + (1 − weight) · b``.

    The plain mean (``weight = 0.5``) minimises MSE(A, F) + MSE(B, F), so it maximises the
    fusion PSNR by construction (SPEC §5); it keeps zero background exactly.

    Args:
        a, b: float images ``(H, W)`` in [0, 1].
        weight: weight of ``a`` in [0, 1].
    Returns:
        float32 ``(H, W)`` in [0, 1].
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight}")
    a, b = as_pair(a, b)
    return finish(weight * a + (1.0 - weight) * b, a, b)
