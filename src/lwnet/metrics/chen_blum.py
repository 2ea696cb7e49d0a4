"""Chen–Blum human-perception fusion metric (Qcb).

Chen, Blum, "A new automated quality assessment algorithm for image fusion", Image and Vision
Computing 27(10), 2009, with the parameters of the widely used reference implementation:

1. each image is min-max normalised to 0..255 (rounded to integers);
2. contrast-sensitivity filtering in the frequency domain with the DoG
   S(r) = exp(−(r/f0)²) − a·exp(−(r/f1)²), f0 = 15.3870, f1 = 1.3456, a = 0.7622, where r is
   the radial frequency of a grid normalised to [−1, 1) and scaled by rows/30 and cols/30;
3. local contrast C = |G₂ ∗ I / G₄ ∗ I − 1| with unnormalised 31×31 Gaussians (σ = 2, 4;
   zero-padded 'same' filtering) and its masked response C' = k·C^p / (h·C^q + Z),
   k = h = 1, p = 3, q = 2, Z = 1e-4;
4. preservation Q_XF = min(C'_X, C'_F) / max(C'_X, C'_F), saliency weights
   λ_X = C'_X² / (C'_A² + C'_B²), and Qcb = mean(λ_A Q_AF + λ_B Q_BF) over the whole image.

Where the reference divides 0 by 0 this implementation takes the limit of equal responses:
Q_XF = 1 when C'_X = C'_F = 0, and λ_A = λ_B = ½ when both sources have zero response.

Numerical note: far inside a black background the σ = 4 response falls to 1e-8…1e-12 (5 % of
the pixels of a typical slice), where the contrast ratio of the reference definition is set by
round-off. Two exact-arithmetic-equivalent filterings (2-D direct vs FFT) then differ by about
1e-4 in Qcb on a whole slice, while they agree to 1e-9 where the images carry signal.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

from lwnet.metrics._filters import gaussian_window1d
from lwnet.metrics._input import same_shape

F0, F1, A_DOG = 15.3870, 1.3456, 0.7622
K, H, P, Q, Z = 1.0, 1.0, 3.0, 2.0, 1e-4
WINDOW = 31
SIGMAS = (2.0, 4.0)


def minmax_255(x: np.ndarray) -> np.ndarray:
    """Stretch an image to 0..255 and round; an all-zero image stays zero, a constant one → 0."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = x.min(), x.max()
    if hi == lo:
        return np.zeros_like(x)
    return np.rint((x - lo) / (hi - lo) * 255.0)


def _freq_grid(n: int) -> np.ndarray:
    """MATLAB ``freqspace`` axis: n samples in [−1, 1), zero at index ``n // 2``."""
    return (np.arange(n) - n // 2) * (2.0 / n)


def csf_filter(shape: tuple[int, int]) -> np.ndarray:
    """DoG contrast-sensitivity response on the FFT grid (DC at [0, 0]), shape ``(H, W)``."""
    rows, cols = shape
    v = _freq_grid(rows)[:, None] * (rows / 30.0)
    u = _freq_grid(cols)[None, :] * (cols / 30.0)
    r2 = u * u + v * v
    s = np.exp(-r2 / F0**2) - A_DOG * np.exp(-r2 / F1**2)
    return np.fft.ifftshift(s)


def _gaussian_same(x: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-padded 'same' filtering of ``(..., H, W)`` with the unnormalised 31×31 Gaussian.

    Done by FFT: the inputs are already CSF-filtered (FFT) real values, and no exact-zero test
    depends on the result, so round-off at 1e-13 is harmless here (unlike UQI's box sums).
    """
    g = gaussian_window1d(WINDOW, sigma, normalised=False)
    h, w = x.shape[-2:]
    # The full linear convolution fits without wrap-around in a fast FFT length; 'same' is its
    # centre. (scipy.signal.fftconvolve computes the same, at 0.7 s of import.)
    size = tuple(sp_fft.next_fast_len(n + WINDOW - 1, True) for n in (h, w))
    full = sp_fft.irfft2(sp_fft.rfft2(x, size) * sp_fft.rfft2(np.outer(g, g), size), size)
    top = (WINDOW - 1) // 2
    return full[..., top:top + h, top:top + w]


def local_contrast(x: np.ndarray) -> np.ndarray:
    """Masked local contrast response C' of CSF-filtered images ``(..., H, W)`` → same shape.

    Where the σ = 4 response is exactly 0 the contrast ratio is undefined and counts as 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.abs(_gaussian_same(x, SIGMAS[0]) / _gaussian_same(x, SIGMAS[1]) - 1.0)
    c[~np.isfinite(c)] = 0.0
    return K * c**P / (H * c**Q + Z)


def _preservation(cx: np.ndarray, cf: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(cx, cf), np.maximum(cx, cf)
    return np.divide(lo, hi, out=np.ones_like(hi), where=hi > 0)


def qcb(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Chen–Blum metric of fused ``f`` from ``a`` and ``b``: ``(H, W)`` images → [0, 1]."""
    same_shape("Qcb", a, b, f)
    imgs = np.stack([minmax_255(x) for x in (a, b, f)])
    filtered = np.fft.ifft2(np.fft.fft2(imgs) * csf_filter(imgs.shape[1:])).real
    ca, cb, cf = local_contrast(filtered)
    sa, sb = ca * ca, cb * cb
    total = sa + sb
    lam_a = np.divide(sa, total, out=np.full_like(total, 0.5), where=total > 0)
    return float(np.mean(lam_a * _preservation(ca, cf) + (1.0 - lam_a) * _preservation(cb, cf)))
