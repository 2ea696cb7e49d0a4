"""A tiny stand-in fusion network with channel ("transposed") attention reshapes.

Used by the ONNX and streaming tests until the real LWNet is available in the branch; it has
the operations that make export hard (reshape of (N, C, H, W) to (N, C, H·W) with symbolic
sizes, L2 normalisation over positions, C×C attention).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class AttentionNet(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.enc = nn.Conv2d(2, width, 3, padding=1)
        self.qkv = nn.Conv2d(width, 3 * width, 1)
        self.temperature = nn.Parameter(torch.ones(1))
        self.dec = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.enc(torch.cat([a, b], dim=1)))
        n, c, h, w = x.shape
        q, k, v = self.qkv(x).reshape(n, 3, c, h * w).unbind(1)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = torch.softmax(q @ k.transpose(1, 2) * self.temperature, dim=-1)
        y = (attn @ v).reshape(n, c, h, w) + x
        return torch.sigmoid(self.dec(y))
