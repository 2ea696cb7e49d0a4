"""Fusion quality metrics (SPEC §5): one pure NumPy function per metric, all higher-is-better.

:func:`compute_metrics` evaluates a triple (A, B, F) on 8-bit luma under the default
conventions; the per-metric functions take ``(H, W)`` images on the 0..255 scale. The
differentiable SSIM shared with training is :func:`lwnet.metrics.ssim.ssim`.

Names are loaded on first use (PEP 562), so that the names and conventions of
:mod:`lwnet.metrics.conventions`, and a submodule such as :mod:`lwnet.metrics.ssim`, come
without importing every metric (torch and SciPy's signal and image modules).
"""

from __future__ import annotations

import importlib

#: Where each public name lives, by submodule.
_SUBMODULE_NAMES: dict[str, tuple[str, ...]] = {
    "chen_blum": ("qcb",),
    "conventions": ("EXTRA_NAMES", "METRIC_NAMES", "REDUCTIONS", "VIF_FLAVOURS",
                    "convention_text", "reduce_sources"),
    "fusion": ("compute_metrics", "fusion_mi", "fusion_ssim", "fusion_uqi", "fusion_vif"),
    "mi": ("entropy", "mutual_information"),
    "peak_snr": ("psnr",),
    "ssim": ("ssim_index",),
    "stats": ("average_gradient", "spatial_frequency", "standard_deviation"),
    "uqi": ("uqi_index", "uqi_map"),
    "vif": ("VIF_MIN_SIDE", "viff", "vifp"),
    "xydeas_petrovic": ("qabf",),
}
_HOME = {name: module for module, names in _SUBMODULE_NAMES.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
