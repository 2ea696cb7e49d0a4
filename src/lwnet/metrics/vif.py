"""Visual information fidelity: pixel-domain VIF and its fusion form VIFF.

* Sheikh & Bovik, "Image information and visual quality", IEEE TIP 15(2), 2006 — pixel-domain
  VIF (VIFp): a local Gaussian-scale-mixture model ``dist = g·ref + v`` on 4 scales (Gaussian
  windows N with σ = N/5, 'valid' filtering, filter-then-keep-every-other-pixel between scales),
  visual noise σn² = 2, and the ratio of the information kept in ``dist`` to that in ``ref``,
  summed over all scales and locations. Default windows N = 17, 9, 5, 3 as in the authors'
  ``vifp_mscale`` code.
* Han, Cai, Cao, Xu, "A new image fusion performance metric based on visual information
  fidelity", Information Fusion 14(2), 2013 — VIFF: the same model with σn² = 0.005·255²; at
  each location the source with the smaller gain g is the one the fused image is judged against;
  per scale, (Σ VID + C) / (Σ VIND + C) with C = 1e-7 added per location; the four ratios are
  weighted by [1, 0, 0.15, 1] / 2.15. Windows N = 33, 17, 9, 5 (SPEC §5; note that the
  authors' public MATLAB code computes N = 2^(5−scale) + 1, i.e. 17, 9, 5, 3 — pass
  ``windows=VIFP_WINDOWS`` to get that reading).

Images are ``(H, W)`` on the 0..255 scale (the noise variances assume it). Every scale needs at
least one 'valid' location: the smallest side is :func:`min_side` of the windows (81 for VIFF's
defaults, 41 for VIFp's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from lwnet.metrics._filters import filter_valid, gaussian_window1d
from lwnet.metrics._input import grey_image, same_shape

#: VIFF windows (SPEC §5) and the pixel-domain VIF windows of Sheikh & Bovik's code.
VIFF_WINDOWS = (33, 17, 9, 5)
VIFP_WINDOWS = (17, 9, 5, 3)
#: VIFF visual-noise variance and per-location constant (Han et al. 2013).
VIFF_NOISE_VAR = 0.005 * 255.0**2
VIFF_C = 1e-7
VIFF_SCALE_WEIGHTS = (1.0 / 2.15, 0.0, 0.15 / 2.15, 1.0 / 2.15)
#: Pixel-domain VIF visual-noise variance (Sheikh & Bovik 2006).
VIFP_NOISE_VAR = 2.0
#: Variance threshold below which a window counts as flat (both reference codes).
FLAT_EPS = 1e-10


class ScaleInfo(NamedTuple):
    """Per-location maps at one scale: information kept in the distorted image (``vid``), in the
    reference (``vind``), and the gain ``g`` of the model ``dist = g·ref + v``."""

    vid: np.ndarray
    vind: np.ndarray
    gain: np.ndarray


def min_side(windows: Sequence[int]) -> int:
    """Smallest image side for which every scale of the pyramid has a 'valid' location."""
    side = 1
    while True:
        n = side
        for scale, w in enumerate(windows):
            if scale > 0:
                n = (n - w + 2) // 2  # 'valid' filtering, then every other pixel (ceil)
            if n < w:
                break
        else:
            return side
        side += 1


#: Smallest side for the default (VIFF) windows.
VIF_MIN_SIDE = min_side(VIFF_WINDOWS)


def _gain_residual(var1: np.ndarray, var2: np.ndarray, cov: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gain ``g = σ12 / (σ1² + ε)`` and residual variance ``σv² = σ2² − g·σ12``, with the
    degenerate cases of the reference codes: flat reference (g = 0, σv² = σ2², σ1² = 0), flat
    distorted window (g = 0, σv² = 0), negative gain (g = 0, σv² = σ2²), σv² floored at ε.
    Returns ``(σ1², g, σv²)``."""
    gain = cov / (var1 + FLAT_EPS)
    sv = var2 - gain * cov
    flat_ref = var1 < FLAT_EPS
    gain[flat_ref] = 0.0
    sv[flat_ref] = var2[flat_ref]
    var1 = np.where(flat_ref, 0.0, var1)
    flat_dist = var2 < FLAT_EPS
    gain[flat_dist] = 0.0
    sv[flat_dist] = 0.0
    negative = gain < 0
    sv[negative] = var2[negative]
    gain[negative] = 0.0
    return var1, gain, np.maximum(sv, FLAT_EPS)


def information_scales(refs: Sequence[np.ndarray], dist: np.ndarray, noise_var: float,
                       windows: Sequence[int]) -> list[list[ScaleInfo]]:
    """Per reference in ``refs``, one :class:`ScaleInfo` of ``dist`` against it per scale.

    All references and ``dist`` go through one Gaussian pyramid, so the distorted (fused) image
    is filtered once for all sources. Maps shrink with the scale; values ≥ 0.
    """
    k = len(refs)
    images = [grey_image(x, "VIF") for x in (*refs, dist)]
    same_shape("VIF", *images, min_side=min_side(windows))  # the coarsest scale's window
    imgs = np.stack(images)
    out: list[list[ScaleInfo]] = [[] for _ in refs]
    for scale, n in enumerate(windows):
        g = gaussian_window1d(n, n / 5.0)
        if scale > 0:
            imgs = filter_valid(imgs, g)[:, ::2, ::2]
        m = filter_valid(np.concatenate([imgs, imgs * imgs, imgs[:k] * imgs[k]]), g)
        mu, sq, cross = m[: k + 1], m[k + 1: 2 * k + 2], m[2 * k + 2:]
        var = np.maximum(sq - mu * mu, 0.0)
        for i in range(k):
            var1, gain, sv = _gain_residual(var[i], var[k], cross[i] - mu[i] * mu[k])
            vid = np.log10(1.0 + gain**2 * var1 / (sv + noise_var))
            vind = np.log10(1.0 + var1 / noise_var)
            out[i].append(ScaleInfo(vid, vind, gain))
    return out


def viff(a: np.ndarray, b: np.ndarray, f: np.ndarray,
         windows: Sequence[int] = VIFF_WINDOWS) -> float:
    """VIFF of a fused image ``f`` from sources ``a`` and ``b`` (Han et al. 2013).

    At each location the source with the smaller gain (the one ``f`` preserves less) supplies
    both the kept (VID) and the available (VIND) information. ``(H, W)`` on 0..255 → scalar:
    1 for ``f = a = b``, lower for noise or blur (can exceed 1 for contrast enhancement).
    """
    scales_a, scales_b = information_scales([a, b], f, VIFF_NOISE_VAR, windows)
    total = 0.0
    for sa, sb, w in zip(scales_a, scales_b, VIFF_SCALE_WEIGHTS):
        use_a = sa.gain < sb.gain
        c = VIFF_C * use_a.size
        total += w * (np.where(use_a, sa.vid, sb.vid).sum() + c) / (
            np.where(use_a, sa.vind, sb.vind).sum() + c)
    return float(total)


def vifp(ref: np.ndarray, dist: np.ndarray, noise_var: float = VIFP_NOISE_VAR,
         windows: Sequence[int] = VIFP_WINDOWS) -> float:
    """Pixel-domain VIF of ``dist`` against ``ref`` (Sheikh & Bovik 2006).

    ``(H, W)`` on 0..255 → scalar ≥ 0: information kept over information available, summed
    over all scales and locations; 1 for ``dist = ref`` (and for a flat ``ref``, which holds no
    information to lose).
    """
    scales = information_scales([ref], dist, noise_var, windows)[0]
    available = sum(s.vind.sum() for s in scales)
    return float(sum(s.vid.sum() for s in scales) / available) if available > 0 else 1.0
