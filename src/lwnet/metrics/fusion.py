"""The fusion metrics of SPEC §5 for one triple (A, B, F), each two-source score combined over
the sources as :mod:`lwnet.metrics.conventions` says.

Two-source metrics score F against each source and combine the two scores. Defaults follow the
conventions of the fusion literature (SPEC §5): MI summed, UQI and SSIM averaged, VIF as VIFF
(one joint score). ``reduction="sum"`` or ``"mean"`` overrides the combination of exactly these
metrics: MI, UQI, SSIM, and VIF when ``vif_flavour="vifp"`` (pixel-domain VIF per source,
summed by default). VIFF, PSNR, Qcb and Qabf are joint definitions and are never affected.
"""

from __future__ import annotations

import numpy as np
import torch

from lwnet.data.colour import luma8
from lwnet.metrics._input import grey_image, same_shape
from lwnet.metrics.chen_blum import qcb
from lwnet.metrics.conventions import (
    VIF_FLAVOURS,
    Reduction,
    VifFlavour,
    reduce_sources,
)
from lwnet.metrics.mi import entropy, mutual_information
from lwnet.metrics.peak_snr import psnr
from lwnet.metrics.ssim import ssim
from lwnet.metrics.stats import average_gradient, spatial_frequency, standard_deviation
from lwnet.metrics.uqi import uqi_index
from lwnet.metrics.vif import viff, vifp
from lwnet.metrics.xydeas_petrovic import qabf


def fusion_mi(a: np.ndarray, b: np.ndarray, f: np.ndarray, reduction: Reduction = "sum") -> float:
    """MI(A, F) ⊕ MI(B, F) in bits (default: sum) of 8-bit ``(H, W)`` images."""
    return reduce_sources(mutual_information(a, f), mutual_information(b, f), reduction)


def fusion_uqi(a: np.ndarray, b: np.ndarray, f: np.ndarray, reduction: Reduction = "mean") -> float:
    """Q(A, F) ⊕ Q(B, F), the universal image quality index (Wang & Bovik, IEEE Signal
    Process. Lett. 9(3), 2002) over 8×8 windows (default: mean) of ``(H, W)`` images on
    0..255 → scalar in [−1, 1]."""
    return reduce_sources(uqi_index(a, f), uqi_index(b, f), reduction)


def fusion_ssim(
    a: np.ndarray, b: np.ndarray, f: np.ndarray, reduction: Reduction = "mean"
) -> float:
    """SSIM(A, F) ⊕ SSIM(B, F) on the 0..255 scale (default: mean); one batched call of
    :func:`lwnet.metrics.ssim.ssim`, the same code as :func:`ssim_index`."""
    a, b, f = (grey_image(v, "SSIM") for v in (a, b, f))
    same_shape("SSIM", a, b, f, min_side=11)  # the window
    x = torch.from_numpy(np.stack([a, b]))[:, None]
    y = torch.from_numpy(np.stack([f, f]))[:, None]
    q_a, q_b = ssim(x, y, data_range=255.0).tolist()
    return reduce_sources(q_a, q_b, reduction)


def fusion_vif(a: np.ndarray, b: np.ndarray, f: np.ndarray, flavour: VifFlavour = "viff",
               reduction: Reduction = "sum") -> float:
    """VIF of the fused image: VIFF (Han et al. 2013, ``reduction`` ignored) or pixel-domain
    VIF(A, F) ⊕ VIF(B, F) (Sheikh & Bovik 2006, default: sum), of ``(H, W)`` float images on
    0..255 (the noise variances assume that scale; VIFF needs sides of at least
    :data:`lwnet.metrics.vif.VIF_MIN_SIDE`) → scalar ≥ 0."""
    if flavour == "viff":
        return viff(a, b, f)
    if flavour == "vifp":
        return reduce_sources(vifp(a, f), vifp(b, f), reduction)
    raise ValueError(f"vif_flavour must be one of {VIF_FLAVOURS}, not {flavour!r}")



def compute_metrics(
    a: np.ndarray, b: np.ndarray, f: np.ndarray, *, reduction: Reduction | None = None,
    vif_flavour: VifFlavour = "viff", extras: bool = True,
) -> dict[str, float]:
    """All metrics of one triple: keys :data:`METRIC_NAMES` (+ :data:`EXTRA_NAMES` if ``extras``).

    ``a`` (MRI), ``b`` (functional/CT) and ``f`` (fused) may be any images ``(H, W)`` or
    ``(H, W, 3)``, float in [0, 1], uint8 or uint16; each is reduced to 8-bit BT.601 luma with
    :func:`lwnet.data.luma8`, the grey levels every metric scores. ``reduction=None`` keeps each
    metric's default combination over the sources (see the module docstring). VIF needs sides of
    at least :data:`lwnet.metrics.vif.VIF_MIN_SIDE` pixels.
    """
    a8, b8, f8 = luma8(a, "A"), luma8(b, "B"), luma8(f, "F")
    if not a8.shape == b8.shape == f8.shape:
        raise ValueError(f"images differ in size: {a8.shape}, {b8.shape}, {f8.shape}")
    # uint8 throughout: every metric takes it as whole grey levels on 0..255, unchecked
    out = {
        "VIF": fusion_vif(a8, b8, f8, vif_flavour, reduction or "sum"),
        "MI": fusion_mi(a8, b8, f8, reduction or "sum"),
        "UQI": fusion_uqi(a8, b8, f8, reduction or "mean"),
        "SSIM": fusion_ssim(a8, b8, f8, reduction or "mean"),
        "PSNR": psnr(a8, b8, f8),
        "Qcb": qcb(a8, b8, f8),
    }
    if extras:
        out.update(EN=entropy(f8), SD=standard_deviation(f8), SF=spatial_frequency(f8),
                   AG=average_gradient(f8), Qabf=qabf(a8, b8, f8))
    return out
