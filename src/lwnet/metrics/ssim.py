"""Structural similarity (SSIM), differentiable, in PyTorch.

Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural
similarity", IEEE TIP 13(4), 2004. Gaussian window (default 11 taps, σ = 1.5), K1 = 0.01,
K2 = 0.03, population (biased) moments, mean over the 'valid' region (no padding).

One implementation serves the evaluation metric (float64, data range 255), the SPI score and the
training loss (float32, data range 1), so the three can never disagree (SPEC §3.2).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lwnet.metrics._filters import gaussian_window1d
from lwnet.metrics._input import grey_image, same_shape


def gaussian_kernel1d(
    size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps, shape ``(size,)``
    (:func:`lwnet.metrics._filters.gaussian_window1d` as a tensor)."""
    return torch.from_numpy(gaussian_window1d(size, sigma)).to(dtype=dtype, device=device)


def _filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of (N, C, H, W), channels independent."""
    c = x.shape[1]
    k = g.numel()
    x = F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def ssim_map(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window_size: int = 11,
    sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
) -> torch.Tensor:
    """Local SSIM of two batches ``(N, C, H, W)`` → ``(N, C, H - w + 1, W - w + 1)``.

    Values lie in [-1, 1]; identical images give 1 everywhere.
    """
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch: {tuple(x.shape)} vs {tuple(y.shape)}")
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f"images smaller than the {window_size}-pixel SSIM window")
    g = gaussian_kernel1d(window_size, sigma, x.dtype, x.device)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    # One filtering pass over the five moment images, stacked along channels.
    c = x.shape[1]
    moments = _filter_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), g)
    mu_x, mu_y, xx, yy, xy = moments.split(c, dim=1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return num / den


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window_size: int = 11,
    sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
) -> torch.Tensor:
    """Mean SSIM per image: ``(N, C, H, W)`` pair → ``(N,)``; see :func:`ssim_map`."""
    return ssim_map(x, y, data_range, window_size, sigma, k1, k2).flatten(1).mean(dim=1)


def ssim_index(x: np.ndarray, y: np.ndarray, data_range: float = 255.0) -> float:
    """SSIM of two ``(H, W)`` NumPy images (default 0..255 scale) in float64 → scalar in [-1, 1].

    The metric form of :func:`ssim` (same code path), as in
    ``skimage.metrics.structural_similarity(x, y, data_range=255, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)``.
    """
    x, y = ((grey_image(v, "SSIM") if data_range == 255.0 else np.asarray(v, np.float64))
            for v in (x, y))
    same_shape("SSIM", x, y, min_side=11)  # the window
    return float(ssim(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None],
                      data_range=data_range)[0])
