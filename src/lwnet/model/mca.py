"""MCA — multi-scale cross attention between the two modalities' features (SPEC §2).

Each modality's features go through depthwise convolutions of several kernel sizes (3, 5, 7 by
default). For every scale, queries come from one modality and keys/values from the other, in
both directions. The attention is channel ("transposed") attention as in Restormer's MDTA
(Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image Restoration",
CVPR 2022): q and k are L2-normalised over spatial positions and the attention map is C×C
with a learnable temperature, so cost and memory are linear in the number of pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def cross_channel_attention(
    fa: torch.Tensor, fb: torch.Tensor, temperature_ab: torch.Tensor,
    temperature_ba: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """C×C attention maps of both directions between two feature sets.

    ``fa``, ``fb``: ``(..., C, P)`` features flattened over P spatial positions; temperatures
    broadcast against ``(..., 1, 1)``. Rows are L2-normalised over P, ``G = f̂a f̂bᵀ`` holds the
    cosine similarity of every channel pair, and

    - ``attn_ab = softmax(τ_ab · G)``: queries from a, keys from b (apply to ``fb``);
    - ``attn_ba = softmax(τ_ba · Gᵀ)``: queries from b, keys from a (apply to ``fa``).

    Each direction's logits are the other's transposed, so one product serves both.
    Returns ``(attn_ab, attn_ba)``, each ``(..., C, C)`` with rows summing to 1.
    """
    g = F.normalize(fa, dim=-1) @ F.normalize(fb, dim=-1).transpose(-1, -2)
    return (
        torch.softmax(temperature_ab * g, dim=-1),
        torch.softmax(temperature_ba * g.transpose(-1, -2), dim=-1),
    )


class MCA(nn.Module):
    """Multi-scale cross attention: ``(fa, fb)`` each ``(N, C, H, W)`` → ``(N, 2C, H, W)``.

    Output: ``cat(fa, fb) + mix(cat over scales of [attn_ab·vb, attn_ba·va])`` with ``mix`` a
    1×1 convolution from ``2·len(scales)·C`` to ``2C`` channels, ``va``/``vb`` the depthwise
    features of a/b at that scale.

    The depthwise convolutions of both modalities run as one depthwise convolution over
    ``cat(fa, fb)`` (same weights count: depthwise filters never mix channels). Because
    ``mix`` is linear, ``mix_w · (attn · v) = (mix_w · attn) · v``: the C×C maps are folded
    into the 1×1 weights before touching the pixels, so the ``2·len(scales)·C``-channel
    attended tensor is never materialised. The result equals the literal order of operations.
    """

    def __init__(self, channels: int, scales: Sequence[int] = (3, 5, 7)) -> None:
        super().__init__()
        self.channels = channels
        self.scales = tuple(scales)
        self.depthwise = nn.ModuleList(
            nn.Conv2d(2 * channels, 2 * channels, k, padding=k // 2, groups=2 * channels)
            for k in self.scales
        )
        # One temperature per scale and direction (a→b, b→a); MDTA initialises it to 1.
        self.temperature = nn.Parameter(torch.ones(len(self.scales), 2))
        self.mix = nn.Conv2d(2 * len(self.scales) * channels, 2 * channels, 1)

    def forward(self, fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        n, c, h, w = fa.shape
        s = len(self.scales)
        x = torch.cat([fa, fb], dim=1)
        # (N, S, 2C, HW): depthwise features of a (first C rows) and b per scale.
        v = torch.stack([dw(x) for dw in self.depthwise], dim=1).reshape(n, s, 2 * c, h * w)
        va, vb = v[:, :, :c], v[:, :, c:]
        tau = self.temperature.view(1, s, 2, 1, 1)
        attn_ab, attn_ba = cross_channel_attention(va, vb, tau[:, :, 0], tau[:, :, 1])
        # mix weight (2C, S·2C) viewed per scale as [a→b block | b→a block], each (2C, C).
        w_mix = self.mix.weight.view(2 * c, s, 2, c).permute(1, 2, 0, 3)
        # Fold the attention into the mixing weights: columns act on [va; vb] of each scale.
        folded = torch.cat([w_mix[:, 1] @ attn_ba, w_mix[:, 0] @ attn_ab], dim=-1)
        folded = folded.permute(0, 2, 1, 3).reshape(n, 2 * c, s * 2 * c)
        mixed = folded @ v.view(n, s * 2 * c, h * w) + self.mix.bias.view(1, -1, 1)
        return x + mixed.view(n, 2 * c, h, w)
