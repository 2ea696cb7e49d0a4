"""The SPI score of a fused patch against its two sources (SPEC §3.2).

``ssim_sum``: s(f) = SSIM(f, a) + SSIM(f, b), with the project's single SSIM implementation
(:func:`lwnet.metrics.ssim.ssim`: Gaussian 11, σ = 1.5, K = (0.01, 0.03), data range 1 for
values in [0, 1], mean over the valid region). The composites add fusion metrics of
:mod:`lwnet.metrics` computed on the 8-bit patch (0..255 scale), as SPEC §3.2 invites:
``ssim_vif`` = s(f) + w_vif·VIF(F; A, B) and ``ssim_vif_qcb`` = s(f) + w_vif·VIF + w_qcb·Qcb
(Chen & Blum 2009), the latter favouring labels that keep local contrast.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from lwnet.data.io import to_uint8
from lwnet.metrics.ssim import ssim
from lwnet.training.config import SCORE_TERMS

Score = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
PatchMetric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def ssim_sum(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM(f, a) + SSIM(f, b) per patch: ``(N, 1, H, W)`` in [0, 1] each → ``(N,)`` in [-2, 2]."""
    return ssim(f, a, data_range=1.0) + ssim(f, b, data_range=1.0)


def per_patch(metric: PatchMetric, f: torch.Tensor, a: torch.Tensor,
              b: torch.Tensor) -> torch.Tensor:
    """A fusion metric ``metric(a, b, f)`` of :mod:`lwnet.metrics` on each patch → ``(N,)``.

    Inputs ``(N, 1, H, W)`` in [0, 1] are rounded to 8 bits first, as the metrics require.
    """
    fa, aa, ba = (to_uint8(t.detach().cpu().numpy()) for t in (f, a, b))
    return torch.tensor([metric(aa[i, 0], ba[i, 0], fa[i, 0]) for i in range(len(fa))],
                        dtype=torch.float64)


def vif_fusion(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Fusion VIF (VIFF of :func:`lwnet.metrics.viff`, SPEC §5) of each patch → ``(N,)``."""
    from lwnet.metrics import viff  # imported late: lwnet.metrics is heavier than the score
    return per_patch(viff, f, a, b)


def qcb_fusion(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Chen–Blum Qcb (:func:`lwnet.metrics.qcb`, SPEC §5) of each patch → ``(N,)``."""
    from lwnet.metrics import qcb
    return per_patch(qcb, f, a, b)


def composite(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
              terms: tuple[tuple[float, Score], ...]) -> torch.Tensor:
    """The SSIM sum plus ``weight · term(f, a, b)`` for each of ``terms`` → ``(N,)``."""
    total = ssim_sum(f, a, b).double()
    for weight, term in terms:
        total = total + weight * term(f, a, b)
    return total


def get_score(name: str, vif_weight: float = 1.0, qcb_weight: float = 1.0) -> Score:
    """The score called ``name`` (one of :data:`lwnet.training.config.SCORE_TERMS`) as
    ``score(f, a, b) -> (N,)``: the SSIM sum plus its weighted terms (none for ``ssim_sum``).
    Picklable, so worker processes can score too."""
    if name not in SCORE_TERMS:
        raise ValueError(f"unknown score {name!r}")
    term_fns = {"vif": (vif_weight, vif_fusion), "qcb": (qcb_weight, qcb_fusion)}
    terms = tuple(term_fns[t] for t in SCORE_TERMS[name])
    return partial(composite, terms=terms) if terms else ssim_sum
