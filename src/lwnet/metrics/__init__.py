"""Fusion quality metrics (SPEC §5): one pure NumPy function per metric, all higher-is-better.

:func:`compute_metrics` evaluates a triple (A, B, F) on 8-bit luma under the default
conventions; the per-metric functions take ``(H, W)`` images on the 0..255 scale. The
differentiable SSIM shared with training is :func:`lwnet.metrics.ssim.ssim`.
"""

from lwnet.metrics.chen_blum import qcb
from lwnet.metrics.fusion import (
    EXTRA_NAMES,
    METRIC_NAMES,
    REDUCTIONS,
    VIF_FLAVOURS,
    compute_metrics,
    convention_text,
    fusion_mi,
    fusion_ssim,
    fusion_uqi,
    fusion_vif,
    reduce_sources,
)
from lwnet.metrics.mi import entropy, mutual_information
from lwnet.metrics.peak_snr import psnr
from lwnet.metrics.ssim import ssim_index
from lwnet.metrics.stats import average_gradient, spatial_frequency, standard_deviation
from lwnet.metrics.uqi import uqi_index, uqi_map
from lwnet.metrics.vif import VIF_MIN_SIDE, viff, vifp
from lwnet.metrics.xydeas_petrovic import qabf

__all__ = [
    "EXTRA_NAMES", "METRIC_NAMES", "REDUCTIONS", "VIF_FLAVOURS", "VIF_MIN_SIDE",
    "average_gradient", "compute_metrics", "convention_text", "entropy", "fusion_mi",
    "fusion_ssim", "fusion_uqi", "fusion_vif", "mutual_information", "psnr", "qabf", "qcb",
    "reduce_sources",
    "spatial_frequency", "ssim_index", "standard_deviation", "uqi_index", "uqi_map", "viff",
    "vifp",
]
