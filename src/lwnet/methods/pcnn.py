"""PA-PCNN fusion in a non-subsampled pyramid, after NSST-PAPCNN (Yin, Liu, Liu, Chen, IEEE
Trans. Instrum. Meas. 68(1), 2019).

Substitution, stated plainly: the paper decomposes with the non-subsampled shearlet transform
(NSST). NSST is a non-subsampled Laplacian pyramid followed by shearing (directional) filters;
this module keeps the first stage — a shift-invariant à trous pyramid with the binomial kernel
(:func:`lwnet.methods.pyramid.nonsubsampled_pyramid`) — and omits the directional filtering.
Call it "NSP-PAPCNN". The two fusion rules are the paper's:

* high-frequency bands: the parameter-adaptive pulse-coupled neural network (PA-PCNN, parameter
  setting of Chen, Park, Ma, Ala, IEEE TNN 22(6), 2011) is run on ``|H|`` of each source; the
  coefficient whose neuron fired more often in ``iterations`` steps is kept;
* low-frequency band: the source with the larger product of weighted local energy (WLE) and
  weighted sum of eight-neighbourhood modified Laplacian (WSEML) is kept.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate

from lwnet.methods._common import as_pair, finish
from lwnet.methods.pyramid import nonsubsampled_pyramid, nonsubsampled_reconstruct

# PCNN linking weights (Yin et al. 2019, eq. 6).
_LINK = np.array([[0.5, 1.0, 0.5], [1.0, 0.0, 1.0], [0.5, 1.0, 0.5]])
# 3×3 weighting of WLE and WSEML (r = 1), normalised to sum 1.
_LOCAL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0


def pcnn(a: np.ndarray, b: np.ndarray, *, levels: int = 4, iterations: int = 110) -> np.ndarray:
    """NSP-PAPCNN fusion (see module docstring for the transform substitution).

    Args:
        a, b: float images ``(H, W)`` in [0, 1].
        levels: pyramid levels (capped by the image size).
        iterations: PA-PCNN iterations N (paper: 110).
    Returns:
        float32 ``(H, W)`` in [0, 1].
    """
    a, b = as_pair(a, b)
    bands_a, bands_b = nonsubsampled_pyramid(a, levels), nonsubsampled_pyramid(b, levels)
    fused = []
    for ha, hb in zip(bands_a[:-1], bands_b[:-1]):
        fires = papcnn_firing_times(np.stack([np.abs(ha), np.abs(hb)]), iterations)
        fused.append(np.where(fires[0] >= fires[1], ha, hb))
    la, lb = bands_a[-1], bands_b[-1]
    act_a, act_b = _wle(la) * _wseml(la), _wle(lb) * _wseml(lb)
    fused.append(np.where(act_a >= act_b, la, lb))
    return finish(nonsubsampled_reconstruct(fused), a, b)


def papcnn_firing_times(stimulus: np.ndarray, iterations: int) -> np.ndarray:
    """Firing counts of a PA-PCNN per pixel (Yin et al. 2019, eqs. 1–5 and 7–10).

    Args:
        stimulus: non-negative ``(K, H, W)``: K independent networks, each with its own
            adaptive parameters (computed from its own stimulus).
        iterations: number of steps N.
    Returns:
        ``(K, H, W)`` counts ``T = Σ_n Y[n]`` in ``[0, N]``.
    """
    k = stimulus.shape[0]
    alpha_f, lam, v_e, alpha_e = (np.empty((k, 1, 1)) for _ in range(4))
    for i, s in enumerate(stimulus):
        alpha_f[i], lam[i], v_e[i], alpha_e[i] = _adaptive_parameters(s)
    decay_f, decay_e = np.exp(-alpha_f), np.exp(-alpha_e)
    u = np.zeros_like(stimulus)
    e = np.zeros_like(stimulus)
    y = np.zeros_like(stimulus)
    fires = np.zeros_like(stimulus)
    for _ in range(iterations):
        link = _link_sum(y)
        u = decay_f * u + stimulus * (1.0 + lam * link)
        # E[n−1] is used in the firing test, then updated with the new output (eq. 4–5).
        y = (u > e).astype(stimulus.dtype)
        e = decay_e * e + v_e * y
        fires += y
    return fires


def _adaptive_parameters(s: np.ndarray) -> tuple[float, float, float, float]:
    """α_f, λ = β·V_L, V_E and α_e from the stimulus statistics (Yin et al. eqs. 7–10)."""
    sigma, s_max = float(s.std()), float(s.max())
    s_otsu = _otsu_threshold(s)
    if sigma <= 0.0 or s_otsu <= 0.0:
        # A flat band holds no detail: no linking (λ = 0) and a threshold that never decays
        # (α_e = 0), so all its pixels fire alike: at the first step, and seldom after.
        return 1.0, 0.0, 1.0, 0.0
    alpha_f = np.log(1.0 / sigma)
    lam = (s_max / s_otsu - 1.0) / 6.0
    v_e = np.exp(-alpha_f) + 1.0 + 6.0 * lam
    geometric = (1.0 - np.exp(-3.0 * alpha_f)) / (1.0 - np.exp(-alpha_f))
    alpha_e = np.log(v_e / (s_otsu * geometric + 6.0 * lam * np.exp(-alpha_f)))
    return float(alpha_f), float(lam), float(v_e), float(alpha_e)


def _otsu_threshold(s: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (IEEE TSMC 9(1), 1979): maximises the between-class variance."""
    hist, edges = np.histogram(s, bins=bins)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def _link_sum(y: np.ndarray) -> np.ndarray:
    """Σ_kl W_kl Y_kl over the 8 neighbours, zero outside the image."""
    p = np.pad(y, ((0, 0), (1, 1), (1, 1)))
    h, w = y.shape[1:]
    out = np.zeros_like(y)
    for dy in range(3):
        for dx in range(3):
            if _LINK[dy, dx]:
                out += _LINK[dy, dx] * p[:, dy : dy + h, dx : dx + w]
    return out


def _wle(low: np.ndarray) -> np.ndarray:
    """Weighted local energy over 3×3 (Yin et al. eq. 11)."""
    return correlate(low * low, _LOCAL, mode="reflect")


def _wseml(low: np.ndarray) -> np.ndarray:
    """Weighted sum of eight-neighbourhood modified Laplacian over 3×3 (Yin et al. eqs. 12–13)."""
    p = np.pad(low, 1, mode="reflect")
    c = p[1:-1, 1:-1]

    def shifted(dy: int, dx: int) -> np.ndarray:
        return p[1 + dy : p.shape[0] - 1 + dy, 1 + dx : p.shape[1] - 1 + dx]

    eml = (
        np.abs(2 * c - shifted(-1, 0) - shifted(1, 0))
        + np.abs(2 * c - shifted(0, -1) - shifted(0, 1))
        + np.abs(2 * c - shifted(-1, -1) - shifted(1, 1)) / np.sqrt(2.0)
        + np.abs(2 * c - shifted(-1, 1) - shifted(1, -1)) / np.sqrt(2.0)
    )
    return correlate(eml, _LOCAL, mode="reflect")
