"""Training losses of SPI and of the unsupervised baseline (SPEC §3.5, §3.7)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lwnet.metrics.ssim import ssim


def spi_loss(f: torch.Tensor, y: torch.Tensor, alpha: float = 1.10,
             beta: float = 1.00) -> torch.Tensor:
    """α·(1 − SSIM(f, y)) + β·mean|f − y|, averaged over the batch; ``(N, 1, H, W)`` in [0, 1]."""
    return (alpha * (1 - ssim(f, y, data_range=1.0)).mean()
            + beta * (f - y).abs().mean())


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """|∂x/∂r| + |∂x/∂c| by Sobel filtering (replicate padding): ``(N, 1, H, W)`` → same shape."""
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                     dtype=x.dtype, device=x.device) / 8
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(xp, k.view(1, 1, 3, 3))
    gy = F.conv2d(xp, k.t().reshape(1, 1, 3, 3))
    return gx.abs() + gy.abs()


def unsupervised_loss(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Conventional source-driven loss (baseline (b) of SPEC §3.7), equal weights:

    (1 − SSIM(f, a)) + (1 − SSIM(f, b)) + mean|f − max(a, b)| + mean|∇f − max(∇a, ∇b)|,
    with ∇ the Sobel gradient magnitude. All ``(N, 1, H, W)`` in [0, 1].
    """
    s = (2 - ssim(f, a, data_range=1.0) - ssim(f, b, data_range=1.0)).mean()
    intensity = (f - torch.maximum(a, b)).abs().mean()
    grad = (gradient_magnitude(f)
            - torch.maximum(gradient_magnitude(a), gradient_magnitude(b))).abs().mean()
    return s + intensity + grad
