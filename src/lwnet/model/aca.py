"""ACA — adaptive channel attention (efficient-channel-attention style).

Wang et al., "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks",
CVPR 2020: global pooling over space, a 1-D convolution across channels whose kernel size
adapts to the channel count, a sigmoid, and a per-channel rescaling (SPEC §2).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def aca_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0) -> int:
    """Kernel size of the channel convolution: ``|log2(C)/γ + b/γ|`` to the nearest odd integer.

    A tie (the value is an even integer, e.g. C = 8 → 2.0) goes to the larger odd number, as in
    ECA-Net's reference rule (``t`` even → ``t + 1``); the result is at least 1.
    Examples with γ = 2, b = 1: C = 4 → 1.5 → 1; C = 8 → 2.0 → 3; C = 12 → 2.29 → 3;
    C = 16 → 2.5 → 3; C = 64 → 3.5 → 3; C = 128 → 4.0 → 5.
    """
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    x = abs(math.log2(channels) / gamma + b / gamma)
    return 2 * math.floor(x / 2) + 1


class ACA(nn.Module):
    """Adaptive channel attention on ``(N, C, H, W)`` features; output has the same shape.

    ``use_max_pool`` adds global max pooling beside average pooling (both go through the same
    1-D convolution and their responses are summed before the sigmoid).
    """

    def __init__(
        self, channels: int, gamma: float = 2.0, b: float = 1.0, use_max_pool: bool = False
    ) -> None:
        super().__init__()
        k = aca_kernel_size(channels, gamma, b)
        self.use_max_pool = use_max_pool
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=k // 2, bias=False)

    def channel_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-channel weights in (0, 1), shape ``(N, C, 1, 1)``."""
        n, c = x.shape[:2]
        logits = self.conv(x.mean(dim=(2, 3)).view(n, 1, c))
        if self.use_max_pool:
            logits = logits + self.conv(x.amax(dim=(2, 3)).view(n, 1, c))
        return torch.sigmoid(logits).view(n, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.channel_weights(x)
