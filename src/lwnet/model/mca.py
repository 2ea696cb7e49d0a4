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
from typing import cast

import torch
from torch import nn


def cross_channel_attention(
    features: torch.Tensor, temperature_ab: torch.Tensor, temperature_ba: torch.Tensor,
    eps: float = 1e-12,
) -> tuple[torch.Tensor, torch.Tensor]:
    """C×C attention maps of both directions between two feature sets.

    ``features``: ``(N, P, 2C)``, the two sets side by side, ``[fa | fb]``: the features of P
    spatial positions (any strides); temperatures: scalar tensors. With ``âᵢ``, ``b̂ⱼ`` the
    channels L2-normalised over the P positions (norm clamped at ``eps``, as in
    ``torch.nn.functional.normalize``), ``G[i, j] = âᵢ · b̂ⱼ`` is the cosine similarity of every
    channel pair and

    - ``attn_ab = softmax(τ_ab · G)``: queries from a, keys from b (apply to b's values);
    - ``attn_ba = softmax(τ_ba · Gᵀ)``: queries from b, keys from a (apply to a's values).

    Each direction's logits are the other's transposed, so one product serves both; the norms
    divide the small C×C product instead of the full feature maps.
    Returns ``(attn_ab, attn_ba)``, each ``(N, C, C)`` with rows summing to 1.
    """
    c = features.shape[-1] // 2
    # One Gram matrix of all 2C channels holds both the cross products (its off-diagonal
    # block) and every channel's squared norm (its diagonal). The cost is reading the
    # features, so one pass over them beats a product and two sums over strided halves: 4x
    # the multiply-adds of the C×C block alone, yet 8–10 % less time per forward pass on the
    # CPU (docs/benchmarks.md, "One Gram matrix per scale"). Clamping before the square root
    # keeps the gradient finite for an all-zero channel. (The diagonal is taken with an
    # identity mask, not torch.diagonal, which ONNX's TorchScript exporter lacks below
    # opset 13.)
    gram = features.transpose(1, 2) @ features
    eye = torch.eye(2 * c, dtype=gram.dtype, device=gram.device)
    norm = (gram * eye).sum(dim=-1).clamp_min(eps * eps).sqrt()
    g = gram[:, :c, c:] / (norm[:, :c, None] * norm[:, None, c:])
    return (
        torch.softmax(temperature_ab * g, dim=-1),
        torch.softmax(temperature_ba * g.transpose(1, 2), dim=-1),
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
    attended tensor is never materialised; the scales' contributions are accumulated
    onto the residual. The result equals the literal order of operations. Pixel-wise products
    run on ``(N, HW, channels)`` views, free for channels-last tensors (the output is
    channels-last).
    """

    def __init__(self, channels: int, scales: Sequence[int] = (3, 5, 7)) -> None:
        super().__init__()
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
        x = torch.cat([fa, fb], dim=1)
        # Accumulate on (N, HW, 2C) tokens: residual + bias, then one product per scale.
        bias = cast(torch.Tensor, self.mix.bias)  # the 1×1 mix has one (bias=True)
        out = torch.permute(x, (0, 2, 3, 1)).reshape(n, h * w, 2 * c) + bias
        # mix weight (2C, S·2C) → per scale, the a→b block (acts on vb) and the b→a block.
        w_mix = self.mix.weight.reshape(2 * c, len(self.scales), 2, c)
        for i, dw in enumerate(self.depthwise):
            v = dw(x).permute(0, 2, 3, 1).reshape(n, h * w, 2 * c)  # [va | vb]
            attn_ab, attn_ba = cross_channel_attention(
                v, self.temperature[i, 0], self.temperature[i, 1]
            )
            folded = torch.cat([w_mix[:, i, 1] @ attn_ba, w_mix[:, i, 0] @ attn_ab], dim=-1)
            # Under inference mode nothing needs the partial sums, so they accumulate in
            # place: 8 MiB less memory traffic per scale at 256×256, the same bits. (out=, not
            # baddbmm_, which FlopCounterMode does not count; autograd needs out of place.)
            # torch.compile cannot trace the mode query, so compiled code asks first.
            in_place = not torch.compiler.is_compiling() and torch.is_inference_mode_enabled()
            out = torch.baddbmm(out, v, folded.transpose(1, 2), out=out if in_place else None)
        return out.view(n, h, w, 2 * c).permute(0, 3, 1, 2)
