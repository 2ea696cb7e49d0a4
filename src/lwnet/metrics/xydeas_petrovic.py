"""Gradient-based edge-preservation metric Q^{AB/F} (Qabf).

Xydeas, Petrović, "Objective image fusion performance measure", Electronics Letters 36(4), 2000.
Sobel gradients (zero-padded 'same') give edge strength g and orientation α = atan(sy / sx) for
A, B and F. Relative strength G_XF = min(g_X, g_F) / max(g_X, g_F) (0 where either is 0) and
orientation agreement A_XF = 1 − |α_X − α_F| / (π/2) pass through sigmoids
Q = Γ / (1 + exp(κ (· − σ))) with (Γ, κ, σ) = (0.9994, −15, 0.5) for strength and
(0.9879, −22, 0.8) for orientation; Q_XF = Q_g·Q_α, and
Qabf = Σ (Q_AF g_A + Q_BF g_B) / Σ (g_A + g_B)  (weights g^L with L = 1).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve

from lwnet.metrics._input import same_shape

GAMMA_G, KAPPA_G, SIGMA_G = 0.9994, -15.0, 0.5
GAMMA_A, KAPPA_A, SIGMA_A = 0.9879, -22.0, 0.8
# The Sobel kernels of the widely used reference code, applied as convolutions (flipped), as its
# conv2 does: the sign of sx decides α's sign, which matters wherever one image has sx = 0.
_SOBEL_Y = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
_SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_strength_orientation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel edge strength ``(H, W)`` ≥ 0 and orientation in [−π/2, π/2] (π/2 where sx = 0)."""
    x = np.asarray(x, dtype=np.float64)
    sy = convolve(x, _SOBEL_Y, mode="constant")
    sx = convolve(x, _SOBEL_X, mode="constant")
    strength = np.hypot(sx, sy)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(sx == 0, np.pi / 2, np.arctan(sy / np.where(sx == 0, 1.0, sx)))
    return strength, alpha


def _edge_preservation(gx: np.ndarray, ax: np.ndarray, gf: np.ndarray, af: np.ndarray
                       ) -> np.ndarray:
    lo, hi = np.minimum(gx, gf), np.maximum(gx, gf)
    rel = np.divide(lo, hi, out=np.zeros_like(hi), where=lo > 0)
    agree = 1.0 - np.abs(ax - af) / (np.pi / 2)
    q_g = GAMMA_G / (1.0 + np.exp(KAPPA_G * (rel - SIGMA_G)))
    q_a = GAMMA_A / (1.0 + np.exp(KAPPA_A * (agree - SIGMA_A)))
    return q_g * q_a


def qabf(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Qabf of fused ``f`` from ``a`` and ``b``: ``(H, W)`` images → [0, 1).

    Sources without any edge give 0 (no edge information to transfer).
    """
    same_shape("Qabf", a, b, f)
    (ga, aa), (gb, ab), (gf, af) = (sobel_strength_orientation(x) for x in (a, b, f))
    weight = ga.sum() + gb.sum()
    if weight == 0:
        return 0.0
    num = (_edge_preservation(ga, aa, gf, af) * ga + _edge_preservation(gb, ab, gf, af) * gb).sum()
    return float(num / weight)
