"""Fusion quality metrics (SPEC §5): one pure NumPy function per metric, all higher-is-better.

:func:`compute_metrics` evaluates a triple (A, B, F) on 8-bit luma under the default
conventions; the per-metric functions take ``(H, W)`` images on the 0..255 scale. The
differentiable SSIM shared with training is :func:`lwnet.metrics.ssim.ssim`.

Names are loaded on first use (PEP 562), so that the names and conventions of
:mod:`lwnet.metrics.conventions`, and a submodule such as :mod:`lwnet.metrics.ssim`, come
without importing every metric (torch and SciPy's signal and image modules). The imports under
``TYPE_CHECKING`` below say where each name lives: type checkers read them, and so does
:func:`__getattr__`, so the list is written once.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lwnet.metrics.chen_blum import qcb
    from lwnet.metrics.conventions import (
        EXTRA_NAMES,
        METRIC_NAMES,
        REDUCTIONS,
        VIF_FLAVOURS,
        convention_text,
        reduce_sources,
    )
    from lwnet.metrics.fusion import (
        compute_metrics,
        fusion_mi,
        fusion_ssim,
        fusion_uqi,
        fusion_vif,
    )
    from lwnet.metrics.mi import entropy, mutual_information
    from lwnet.metrics.peak_snr import psnr
    from lwnet.metrics.ssim import ssim_index
    from lwnet.metrics.stats import average_gradient, spatial_frequency, standard_deviation
    from lwnet.metrics.uqi import uqi_index, uqi_map
    from lwnet.metrics.vif import VIF_MIN_SIDE, viff, vifp
    from lwnet.metrics.xydeas_petrovic import qabf


def _homes() -> dict[str, str]:
    """Public name → the module it lives in, read from the ``TYPE_CHECKING`` imports above."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    return {alias.name: str(node.module) for node in block.body
            if isinstance(node, ast.ImportFrom) for alias in node.names}


_HOME = _homes()

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
