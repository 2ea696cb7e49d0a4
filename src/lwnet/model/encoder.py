"""Per-modality encoder: 3×3 conv → LeakyReLU → 3×3 conv → LeakyReLU → ACA (SPEC §2)."""

from __future__ import annotations

import torch
from torch import nn

from lwnet.model.aca import ACA


class Encoder(nn.Module):
    """``(N, 1, H, W)`` in [0, 1] → features ``(N, width, H, W)``; zero padding keeps H×W."""

    def __init__(
        self, width: int, use_aca: bool = True, negative_slope: float = 0.2,
        aca_max_pool: bool = False,
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            ACA(width, use_max_pool=aca_max_pool) if use_aca else nn.Identity(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
