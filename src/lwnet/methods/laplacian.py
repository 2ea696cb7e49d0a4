"""Laplacian-pyramid fusion (Burt and Kolczynski, ICCV 1993; pyramid of Burt and Adelson 1983)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from lwnet.methods._common import as_pair, finish, fuse_base, fuse_detail
from lwnet.methods.pyramid import laplacian_pyramid, laplacian_reconstruct


def laplacian(
    a: np.ndarray, b: np.ndarray, *, levels: int = 4, base_rule: Literal["mean", "max"] = "mean"
) -> np.ndarray:
    """Fuse in a Laplacian pyramid: max-abs detail with consistency check, averaged base.

    At each detail level the coefficient of larger magnitude is selected; the binary choice map
    is then majority-filtered over 3×3 (consistency check of Li et al. 1995) so that isolated
    selections do not create speckle. The low-pass residual is the mean of both sources
    (``base_rule="max"`` takes the larger one instead: on PET-MRI, whose functional contrast
    sits mostly in the low-pass band, averaging halves it — see docs/benchmarks.md).

    Args:
        a, b: float images ``(H, W)`` in [0, 1], any size ≥ 16.
        levels: detail levels (capped so the coarsest level keeps ≥ 8 pixels a side).
        base_rule: ``"mean"`` (the classical rule) or ``"max"`` for the low-pass residual.
    Returns:
        float32 ``(H, W)`` in [0, 1].
    """
    a, b = as_pair(a, b)
    pa, pb = laplacian_pyramid(a, levels), laplacian_pyramid(b, levels)
    fused = [fuse_detail(la, lb) for la, lb in zip(pa[:-1], pb[:-1])]
    fused.append(fuse_base(pa[-1], pb[-1], base_rule))
    return finish(laplacian_reconstruct(fused), a, b)
