"""LWNet: the lightweight fusion network of SPEC §2.

Two encoders (one per modality, weights not shared) → MCA cross-modal fusion → decoder →
parameter-free background gate. Fully convolutional: any H×W, no padding requirement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lwnet.data.io import BACKGROUND_LEVEL
from lwnet.model.decoder import Decoder
from lwnet.model.encoder import Encoder
from lwnet.model.mca import MCA


def background_gate(
    f: torch.Tensor, a: torch.Tensor, b: torch.Tensor, threshold: float = BACKGROUND_LEVEL
) -> torch.Tensor:
    """Set ``f`` to exactly 0 where both sources are background (SPEC §1).

    All tensors ``(N, 1, H, W)``. A pixel is background when ``max(a, b) <= threshold``, i.e.
    both sources round to grey level 0. Without this, the sigmoid output (never 0) plus conv
    biases leave a constant offset on the 40–60 % of a slice that is air. The gate has no
    parameters and is part of ``forward``, so training, inference and ONNX export all get it;
    its gradient is the mask itself (the loss sees background pixels as fixed zeros).
    """
    return f * (torch.maximum(a, b) > threshold).to(f.dtype)


class LWNet(nn.Module):
    """Lightweight fusion network: ``forward(a, b) -> f``, all ``(N, 1, H, W)`` in [0, 1].

    Args:
        width: encoder width C. The default 8 (4,960 parameters, 0.37 GMAC per 256×256 pair)
            meets SPEC's budget (≤ 13,000 parameters, ≤ 1 GMAC) with the CPU cost that fits
            the latency target (< 15 ms per pair on two threads); 12 meets the budget at 1.4×
            the CPU time, 16 exceeds the budget (docs/benchmarks.md, "Speed").
        scales: depthwise kernel sizes of MCA.
        use_aca: adaptive channel attention in encoders and decoder (False: ablation).
        use_mca: multi-scale cross attention (False: ablation; the encoder features are
            concatenated and decoded directly).
        negative_slope: LeakyReLU slope.
        aca_max_pool: add global max pooling beside average pooling in ACA.
        background_threshold: see :func:`background_gate`; ``None`` disables the gate.

    ``config`` holds the constructor arguments, so ``LWNet(**model.config)`` rebuilds it.
    """

    def __init__(
        self, width: int = 8, scales: Sequence[int] = (3, 5, 7), use_aca: bool = True,
        use_mca: bool = True, negative_slope: float = 0.2, aca_max_pool: bool = False,
        background_threshold: float | None = BACKGROUND_LEVEL,
    ) -> None:
        super().__init__()
        if width < 2:
            raise ValueError(f"width must be at least 2, got {width}")
        if use_mca and (not scales or any(int(k) < 1 or int(k) % 2 == 0 for k in scales)):
            raise ValueError(f"scales must be odd kernel sizes ≥ 1 (MCA keeps the image size), "
                             f"got {list(scales)}")
        self.config: dict[str, Any] = {
            "width": int(width), "scales": [int(s) for s in scales], "use_aca": bool(use_aca),
            "use_mca": bool(use_mca), "negative_slope": float(negative_slope),
            "aca_max_pool": bool(aca_max_pool),
            "background_threshold": (
                None if background_threshold is None else float(background_threshold)
            ),
        }
        blocks: dict[str, Any] = {"use_aca": use_aca, "negative_slope": negative_slope,
                                  "aca_max_pool": aca_max_pool}
        self.encoder_a = Encoder(width, **blocks)
        self.encoder_b = Encoder(width, **blocks)
        self.mca = MCA(width, scales) if use_mca else None
        self.decoder = Decoder(width, **blocks)
        self.background_threshold = background_threshold
        # Channels-last (NHWC) parameters make the CPU convolutions run channels-last, about
        # 1.4x less CPU at widths 12 and 16 for inference and training (docs/benchmarks.md); the
        # input layout does not matter and the (N, 1, H, W) output is plainly contiguous.
        # (torch's type stub of Module.to lacks memory_format, which it takes)
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 1:
            raise ValueError(
                f"expected two (N, 1, H, W) tensors of equal shape, got {tuple(a.shape)} "
                f"and {tuple(b.shape)}"
            )
        fa, fb = self.encoder_a(a), self.encoder_b(b)
        fused = self.mca(fa, fb) if self.mca is not None else torch.cat([fa, fb], dim=1)
        f = self.decoder(fused)
        if self.background_threshold is None:
            return f
        return background_gate(f, a, b, self.background_threshold)
