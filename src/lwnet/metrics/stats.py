"""Single-image statistics of a fused image used as no-reference fusion metrics.

SD (standard deviation), SF (spatial frequency: Eskicioglu & Fisher, IEEE Trans. Commun. 43(12),
1995) and AG (average gradient, as in Cui et al., Optics Communications 341, 2015). Entropy
(EN) lives in :mod:`lwnet.metrics.mi`.
All take an ``(H, W)`` image on the 0..255 scale and return a scalar ≥ 0.
"""

from __future__ import annotations

import numpy as np

from lwnet.metrics._input import grey_image


def standard_deviation(f: np.ndarray) -> float:
    """SD: population standard deviation of the grey levels."""
    return float(np.std(grey_image(f, "SD")))


def spatial_frequency(f: np.ndarray) -> float:
    """SF = sqrt(RF² + CF²), RF/CF the RMS of horizontal/vertical first differences.

    Each RMS is the mean over the existing differences (H·(W−1) and (H−1)·W of them).
    """
    f = grey_image(f, "SF")
    rf2 = np.mean(np.diff(f, axis=1) ** 2)
    cf2 = np.mean(np.diff(f, axis=0) ** 2)
    return float(np.sqrt(rf2 + cf2))


def average_gradient(f: np.ndarray) -> float:
    """AG = mean over the (H−1)(W−1) pixels with both forward differences of
    sqrt((∂x² + ∂y²) / 2)."""
    f = grey_image(f, "AG")
    dx = f[:-1, 1:] - f[:-1, :-1]
    dy = f[1:, :-1] - f[:-1, :-1]
    return float(np.mean(np.sqrt((dx * dx + dy * dy) / 2.0)))
