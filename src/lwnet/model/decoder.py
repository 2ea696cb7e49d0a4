"""Decoder (SPEC §2): 3×3 conv (2C→C) → LeakyReLU → ACA → 3×3 conv (C→C/2) → LeakyReLU →
1×1 conv → sigmoid."""

from __future__ import annotations

import torch
from torch import nn

from lwnet.model.aca import ACA


class Decoder(nn.Module):
    """Fused features ``(N, 2·width, H, W)`` → fused luminance ``(N, 1, H, W)`` in (0, 1)."""

    def __init__(
        self, width: int, use_aca: bool = True, negative_slope: float = 0.2,
        aca_max_pool: bool = False,
    ) -> None:
        super().__init__()
        half = max(width // 2, 1)
        self.body = nn.Sequential(
            nn.Conv2d(2 * width, width, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            ACA(width, use_max_pool=aca_max_pool) if use_aca else nn.Identity(),
            nn.Conv2d(width, half, 3, padding=1),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv2d(half, 1, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
