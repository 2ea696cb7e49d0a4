"""Guided-filtering fusion, GFF (Li, Kang, Hu, IEEE Trans. Image Process. 22(7), 2013)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, laplace

from lwnet.methods._common import as_pair, box_mean, finish, guided_filter


def gff(
    a: np.ndarray,
    b: np.ndarray,
    *,
    r1: int = 45,
    eps1: float = 0.3,
    r2: int = 7,
    eps2: float = 1e-6,
    base_radius: int = 15,
    saliency_radius: int = 5,
    saliency_sigma: float = 5.0,
) -> np.ndarray:
    """Two-scale fusion with guided-filter-refined weight maps (paper §II–III).

    1. Two-scale split: base ``B = I * Z`` (31×31 average filter, ``base_radius = 15``),
       detail ``D = I − B``.
    2. Saliency ``S = |I * L| * g``: absolute 3×3 Laplacian, then a Gaussian of radius 5, σ 5.
    3. Binary weight maps ``P``: 1 for the source with the larger saliency (ties go to ``a``).
    4. ``W_B = G_{r1,ε1}(P, I)`` and ``W_D = G_{r2,ε2}(P, I)`` with each source as its own guide,
       clipped to [0, 1] and normalised to sum to one per pixel.
    5. ``F = Σ W_B · B + Σ W_D · D``.

    Args:
        a, b: float images ``(H, W)`` in [0, 1].
        r1, eps1: guided filter for the base weights (paper: 45, 0.3).
        r2, eps2: guided filter for the detail weights (paper: 7, 1e-6).
        base_radius: radius of the average filter of the two-scale split.
        saliency_radius, saliency_sigma: Gaussian smoothing of the Laplacian magnitude.
    Returns:
        float32 ``(H, W)`` in [0, 1].
    """
    a, b = as_pair(a, b)
    truncate = saliency_radius / saliency_sigma
    sal_a = gaussian_filter(np.abs(laplace(a, mode="reflect")), saliency_sigma, truncate=truncate)
    sal_b = gaussian_filter(np.abs(laplace(b, mode="reflect")), saliency_sigma, truncate=truncate)
    p_a = (sal_a >= sal_b).astype(np.float64)
    p_b = 1.0 - p_a

    base_a, base_b = box_mean(a, base_radius), box_mean(b, base_radius)
    wb_a, wb_b = guided_filter(a, p_a, r1, eps1), guided_filter(b, p_b, r1, eps1)
    wd_a, wd_b = guided_filter(a, p_a, r2, eps2), guided_filter(b, p_b, r2, eps2)
    fused_base = _normalised_blend(wb_a, wb_b, base_a, base_b)
    fused_detail = _normalised_blend(wd_a, wd_b, a - base_a, b - base_b)
    return finish(fused_base + fused_detail, a, b)


def _normalised_blend(w_a: np.ndarray, w_b: np.ndarray, x_a: np.ndarray, x_b: np.ndarray
                      ) -> np.ndarray:
    # Guided filtering can push weights slightly outside [0, 1]; clip before normalising so a
    # near-zero sum cannot blow up the blend.
    w_a, w_b = np.clip(w_a, 0.0, 1.0), np.clip(w_b, 0.0, 1.0)
    total = w_a + w_b
    safe = total > 1e-12
    w = np.where(safe, w_a / np.where(safe, total, 1.0), 0.5)
    return w * x_a + (1.0 - w) * x_b
