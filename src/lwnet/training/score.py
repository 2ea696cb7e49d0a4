"""The SPI score of a fused patch against its two sources (SPEC §3.2).

``ssim_sum``: s(f) = SSIM(f, a) + SSIM(f, b), with the project's single SSIM implementation
(:func:`lwnet.metrics.ssim.ssim`: Gaussian 11, σ = 1.5, K = (0.01, 0.03), data range 1 for
values in [0, 1], mean over the valid region). ``ssim_vif``: s(f) + w·VIF(F; A, B), with the fusion
VIF of :mod:`lwnet.metrics` computed on the 8-bit patch (0..255 scale).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from lwnet.metrics.ssim import ssim

Score = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def ssim_sum(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM(f, a) + SSIM(f, b) per patch: ``(N, 1, H, W)`` in [0, 1] each → ``(N,)`` in [-2, 2]."""
    return ssim(f, a, data_range=1.0) + ssim(f, b, data_range=1.0)


def vif_fusion(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Fusion VIF of each patch (VIFF of :func:`lwnet.metrics.viff`, SPEC §5) → ``(N,)``.

    Inputs ``(N, 1, H, W)`` in [0, 1] are rounded to 8 bits first, as the metric requires.
    """
    from lwnet.metrics import viff  # imported late: lwnet.metrics is heavier than the score

    def u8(t: torch.Tensor) -> np.ndarray:
        return np.clip(np.rint(t.detach().double().cpu().numpy() * 255), 0, 255).astype(np.uint8)

    fa, aa, ba = u8(f), u8(a), u8(b)
    values = [viff(aa[i, 0], ba[i, 0], fa[i, 0]) for i in range(len(fa))]
    return torch.tensor(values, dtype=torch.float64)


def get_score(name: str, vif_weight: float = 1.0) -> Score:
    """The score called ``name`` (``ssim_sum`` or ``ssim_vif``) as ``score(f, a, b) -> (N,)``."""
    if name == "ssim_sum":
        return ssim_sum
    if name == "ssim_vif":
        def composite(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return ssim_sum(f, a, b).double() + vif_weight * vif_fusion(f, a, b)
        return composite
    raise ValueError(f"unknown score {name!r}")
