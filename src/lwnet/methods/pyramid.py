"""Laplacian pyramids for any H×W (Burt and Adelson, IEEE Trans. Commun. 31(4), 1983).

Two variants share the 5-tap binomial generating kernel ``[1, 4, 6, 4, 1] / 16``:

* :func:`laplacian_pyramid` — the classical subsampled pyramid (REDUCE / EXPAND);
* :func:`nonsubsampled_pyramid` — the shift-invariant "à trous" pyramid without subsampling,
  the multi-scale stage of the non-subsampled contourlet/shearlet transforms.

Both reconstruct exactly (up to float rounding) with their ``*_reconstruct`` partner.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
#: Coarsest level keeps at least this many pixels on its shorter side.
_MIN_COARSE_SIDE = 8


def _blur(x: np.ndarray, kernel: np.ndarray = _KERNEL) -> np.ndarray:
    x = correlate1d(x, kernel, axis=0, mode="reflect")
    return correlate1d(x, kernel, axis=1, mode="reflect")


def max_levels(shape: tuple[int, ...]) -> int:
    """Most detail levels a pyramid of ``shape`` can hold with an 8-pixel coarsest side."""
    return max(0, int(np.floor(np.log2(min(shape[:2]) / _MIN_COARSE_SIDE))))


def _reduce(x: np.ndarray) -> np.ndarray:
    return _blur(x)[::2, ::2]


def _expand(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    # Normalised interpolation: dividing by the blurred sample mask (4 inside, less at the
    # borders) keeps a constant image constant up to the edges, so flat regions create no
    # spurious detail there.
    up, mask = np.zeros(shape), np.zeros(shape)
    up[::2, ::2] = x
    mask[::2, ::2] = 1.0
    return _blur(up) / _blur(mask)


def laplacian_pyramid(x: np.ndarray, levels: int) -> list[np.ndarray]:
    """Decompose ``x`` ``(H, W)`` into ``levels`` detail bands plus the low-pass residual.

    Returns ``[L0, L1, ..., L_{n-1}, G_n]``, finest first; ``levels`` is capped by
    :func:`max_levels`.
    """
    levels = min(levels, max_levels(x.shape))
    pyr, g = [], np.asarray(x, dtype=np.float64)
    for _ in range(levels):
        small = _reduce(g)
        pyr.append(g - _expand(small, g.shape))
        g = small
    pyr.append(g)
    return pyr


def laplacian_reconstruct(pyr: list[np.ndarray]) -> np.ndarray:
    """Inverse of :func:`laplacian_pyramid`."""
    g = pyr[-1]
    for band in reversed(pyr[:-1]):
        g = band + _expand(g, band.shape)
    return g


def nonsubsampled_pyramid(x: np.ndarray, levels: int) -> list[np.ndarray]:
    """Shift-invariant pyramid: ``[H1, ..., Hn, Ln]`` with ``x = Ln + Σ Hk``.

    Level k low-passes the previous level with the generating kernel dilated by ``2**k``
    (à trous), so every band keeps the full ``(H, W)`` size.
    """
    levels = min(levels, max_levels(x.shape))
    bands, low = [], np.asarray(x, dtype=np.float64)
    for k in range(levels):
        kernel = np.zeros(4 * 2**k + 1)
        kernel[:: 2**k] = _KERNEL
        smooth = _blur(low, kernel)
        bands.append(low - smooth)
        low = smooth
    bands.append(low)
    return bands


def nonsubsampled_reconstruct(bands: list[np.ndarray]) -> np.ndarray:
    """Inverse of :func:`nonsubsampled_pyramid` (the sum of all bands)."""
    return np.sum(bands, axis=0)
