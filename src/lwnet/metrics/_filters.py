"""Small filtering building blocks shared by the metrics (NumPy, float64).

Filters are *correlations* with separable windows, 'valid' (no padding: the output shrinks by
``n - 1`` per axis), computed directly (no FFT) so that flat regions stay exactly flat.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def gaussian_window1d(size: int, sigma: float, normalised: bool = True) -> np.ndarray:
    """1-D Gaussian of ``size`` taps as float64 ``(size,)``.

    Normalised to sum 1, or, with ``normalised=False``, the factor of the 2-D continuous density
    ``exp(-x²/2σ²) / sqrt(2πσ²)`` so that its outer product is ``exp(-r²/2σ²) / (2πσ²)``.
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum() if normalised else g / np.sqrt(2 * np.pi * sigma**2)


def filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of ``(..., H, W)`` with the 1-D window ``g`` on both axes.

    Returns ``(..., H - n + 1, W - n + 1)``; each output is a dot product over the window.
    """
    n = g.size
    x = sliding_window_view(x, n, axis=-1) @ g
    return np.swapaxes(sliding_window_view(np.swapaxes(x, -1, -2), n, axis=-1) @ g, -1, -2)


def box_sum_valid(x: np.ndarray, size: int) -> np.ndarray:
    """Sum over every ``size``×``size`` window ('valid'): ``(H, W)`` → ``(H-size+1, W-size+1)``.

    Integral image (cumulative sums) in float64: exact for integer-valued images (sums stay far
    below 2**53), so flat windows give exactly zero variance, unlike an FFT box filter.
    """
    s = np.zeros((x.shape[0] + 1, x.shape[1] + 1), dtype=np.float64)
    np.cumsum(np.cumsum(x, axis=0, dtype=np.float64), axis=1, out=s[1:, 1:])
    return s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]
