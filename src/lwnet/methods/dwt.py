"""Discrete-wavelet-transform fusion (Li, Manjunath, Mitra, Graph. Models Image Process. 57(3),
1995), with PyWavelets."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pywt

from lwnet.methods._common import as_pair, finish, fuse_base, fuse_detail


def dwt(
    a: np.ndarray, b: np.ndarray, *, wavelet: str = "db2", levels: int = 3,
    base_rule: Literal["mean", "max"] = "mean",
) -> np.ndarray:
    """Fuse in a 2-D DWT: max-abs detail with consistency check, averaged approximation.

    Each of the three detail sub-bands (horizontal, vertical, diagonal) of every level selects
    the coefficient of larger magnitude, majority-filtered over 3×3 (Li et al.'s consistency
    verification); the approximation band is averaged. Symmetric border extension; the inverse
    is cropped back to ``(H, W)`` for odd sizes.

    Args:
        a, b: float images ``(H, W)`` in [0, 1].
        wavelet: any PyWavelets discrete wavelet name.
        levels: decomposition levels (capped by :func:`pywt.dwt_max_level`).
        base_rule: ``"mean"`` (the classical rule) or ``"max"`` for the approximation band.
    Returns:
        float32 ``(H, W)`` in [0, 1].
    """
    a, b = as_pair(a, b)
    w = pywt.Wavelet(wavelet)
    levels = max(1, min(levels, pywt.dwt_max_level(min(a.shape), w.dec_len)))
    ca = pywt.wavedec2(a, w, mode="symmetric", level=levels)
    cb = pywt.wavedec2(b, w, mode="symmetric", level=levels)
    fused: list = [fuse_base(ca[0], cb[0], base_rule)]
    for bands_a, bands_b in zip(ca[1:], cb[1:]):
        fused.append(tuple(fuse_detail(da, db) for da, db in zip(bands_a, bands_b)))
    f = pywt.waverec2(fused, w, mode="symmetric")[: a.shape[0], : a.shape[1]]
    return finish(f, a, b)
