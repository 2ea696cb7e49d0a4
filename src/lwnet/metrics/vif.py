"""Visual information fidelity: pixel-domain VIF and its fusion form VIFF.

* Sheikh & Bovik, "Image information and visual quality", IEEE TIP 15(2), 2006 — the
  pixel-domain VIF (VIFp): 4 scales, Gaussian windows N = 33, 17, 9, 5 with σ = N/5, 'valid'
  filtering, filter-then-decimate by 2 between scales, σn² = 2, ratio of the information sums.
* Han, Cai, Cao, Xu, "A new image fusion performance metric based on visual information
  fidelity", Information Fusion 14(2), 2013 — VIFF: the same local Gaussian-scale-mixture model
  with σn² = 0.005·255², at each location the source with the smaller gain g is the one the fused
  image is judged against, and the per-scale ratios are weighted by [1, 0, 0.15, 1] / 2.15.

Images are ``(H, W)`` on the 0..255 scale (the noise variances assume it); the smallest side
must be at least :data:`VIF_MIN_SIDE` for the fourth scale to exist.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lwnet.metrics._filters import filter_valid, gaussian_window1d

#: Window sizes of the four scales.
SCALE_WINDOWS = (33, 17, 9, 5)
#: Smallest image side for which all four scales have at least one 'valid' location.
VIF_MIN_SIDE = 81
#: VIFF visual-noise variance (Han et al. 2013) and stabilising constant.
VIFF_NOISE_VAR = 0.005 * 255.0**2
VIFF_C = 1e-7
VIFF_SCALE_WEIGHTS = (1.0 / 2.15, 0.0, 0.15 / 2.15, 1.0 / 2.15)
#: Pixel-domain VIF visual-noise variance (Sheikh & Bovik 2006, reference code).
VIFP_NOISE_VAR = 2.0
VIFP_EPS = 1e-10


class ScaleInfo(NamedTuple):
    """Per-location maps at one scale: information kept in the distorted image (``vid``), in the
    reference (``vind``), and the gain ``g`` of the model ``dist = g·ref + v``."""

    vid: np.ndarray
    vind: np.ndarray
    gain: np.ndarray


def _check(ref: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64)
    dist = np.asarray(dist, dtype=np.float64)
    if ref.shape != dist.shape or ref.ndim != 2:
        raise ValueError(f"expected two (H, W) images of one shape, got {ref.shape}, {dist.shape}")
    if min(ref.shape) < VIF_MIN_SIDE:
        raise ValueError(f"VIF needs images of at least {VIF_MIN_SIDE} pixels per side, "
                         f"got {ref.shape[1]}x{ref.shape[0]}")
    return ref, dist


def _local_moments(ref: np.ndarray, dist: np.ndarray, g: np.ndarray):
    """Local means, variances (clipped at 0) and covariance under the window ``g``."""
    m = filter_valid(np.stack([ref, dist, ref * ref, dist * dist, ref * dist]), g)
    mu1, mu2 = m[0], m[1]
    var1 = np.maximum(m[2] - mu1 * mu1, 0.0)
    var2 = np.maximum(m[3] - mu2 * mu2, 0.0)
    return var1, var2, m[4] - mu1 * mu2


def _gain_residual(var1: np.ndarray, var2: np.ndarray, cov: np.ndarray, c: float):
    """Gain ``g = σ12 / (σ1² + c)`` and residual variance ``σv² = σ2² − g·σ12`` of the model
    ``dist = g·ref + v``, with the degenerate cases of the reference implementations: flat
    reference (g = 0, σv² = σ2², σ1² = 0), flat distorted image (g = 0, σv² = 0), negative gain
    (g = 0, σv² = σ2²), and σv² floored at ``c``. Returns ``(σ1², g, σv²)``."""
    gain = cov / (var1 + c)
    sv = var2 - gain * cov
    flat_ref = var1 < c
    gain[flat_ref] = 0.0
    sv[flat_ref] = var2[flat_ref]
    var1 = np.where(flat_ref, 0.0, var1)
    flat_dist = var2 < c
    gain[flat_dist] = 0.0
    sv[flat_dist] = 0.0
    negative = gain < 0
    sv[negative] = var2[negative]
    gain[negative] = 0.0
    return var1, gain, np.maximum(sv, c)


def _ratio(kept: float, available: float) -> float:
    """Kept over available information; a source without information (flat) loses nothing."""
    return float(kept / available) if available > 0 else 1.0


def _pyramid(ref: np.ndarray, dist: np.ndarray):
    """Yield ``(ref, dist, window)`` per scale; coarser scales are filtered then decimated."""
    for scale, n in enumerate(SCALE_WINDOWS):
        g = gaussian_window1d(n, n / 5.0)
        if scale > 0:
            low = filter_valid(np.stack([ref, dist]), g)[:, ::2, ::2]
            ref, dist = low[0], low[1]
        yield ref, dist, g


def viff_scales(ref: np.ndarray, dist: np.ndarray, noise_var: float = VIFF_NOISE_VAR,
                c: float = VIFF_C) -> list[ScaleInfo]:
    """VIFF information maps of one source ``ref`` and the fused image ``dist`` per scale.

    Local Gaussian-scale-mixture model of Han et al. 2013 (see :func:`_gain_residual`);
    returns four :class:`ScaleInfo` of shrinking ``(h, w)`` maps.
    """
    ref, dist = _check(ref, dist)
    out = []
    for r, d, g in _pyramid(ref, dist):
        var1, gain, sv = _gain_residual(*_local_moments(r, d, g), c)
        vid = np.log10(1.0 + gain**2 * var1 / (sv + noise_var))
        vind = np.log10(1.0 + var1 / noise_var)
        out.append(ScaleInfo(vid, vind, gain))
    return out


def viff(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """VIFF of a fused image ``f`` from sources ``a`` and ``b`` (Han et al. 2013).

    At each location the source with the smaller gain (the one ``f`` preserves less) supplies
    both the kept and the available information; per scale the ratio of their sums is taken and
    the four ratios are combined with weights [1, 0, 0.15, 1] / 2.15. ``(H, W)`` on 0..255 →
    scalar, 1 for ``f = a = b``, lower for noise or blur (can exceed 1 for contrast gain).
    """
    total = 0.0
    for sa, sb, w in zip(viff_scales(a, f), viff_scales(b, f), VIFF_SCALE_WEIGHTS):
        use_a = sa.gain < sb.gain
        vid = np.where(use_a, sa.vid, sb.vid).sum()
        vind = np.where(use_a, sa.vind, sb.vind).sum()
        total += w * _ratio(vid, vind)
    return float(total)


def viff_single(src: np.ndarray, f: np.ndarray) -> float:
    """VIFF of ``f`` against a single source (equals :func:`viff` with ``a = b = src``)."""
    return float(sum(w * _ratio(s.vid.sum(), s.vind.sum())
                     for s, w in zip(viff_scales(src, f), VIFF_SCALE_WEIGHTS)))


def vifp(ref: np.ndarray, dist: np.ndarray, noise_var: float = VIFP_NOISE_VAR) -> float:
    """Pixel-domain VIF of ``dist`` against ``ref`` (Sheikh & Bovik 2006).

    ``(H, W)`` on 0..255 → scalar: the information ``dist`` keeps summed over all scales and
    locations, divided by the information in ``ref``; 1 for ``dist = ref``.
    """
    ref, dist = _check(ref, dist)
    num = den = 0.0
    for r, d, g in _pyramid(ref, dist):
        var1, gain, sv = _gain_residual(*_local_moments(r, d, g), VIFP_EPS)
        num += np.log10(1.0 + gain**2 * var1 / (sv + noise_var)).sum()
        den += np.log10(1.0 + var1 / noise_var).sum()
    return _ratio(num, den)
