"""The metrics' names and conventions: which metrics a table holds, how the two-source scores
are combined, and a caption that says so. Pure Python, so that the command line can offer them
as choices without importing the metrics themselves (torch, SciPy)."""

from __future__ import annotations

from typing import Literal

Reduction = Literal["sum", "mean"]
VifFlavour = Literal["viff", "vifp"]

#: The six primary metrics, in table order; all higher-is-better.
METRIC_NAMES: tuple[str, ...] = ("VIF", "MI", "UQI", "SSIM", "PSNR", "Qcb")
#: Common extras (also higher-is-better).
EXTRA_NAMES: tuple[str, ...] = ("EN", "SD", "SF", "AG", "Qabf")
REDUCTIONS: tuple[str, ...] = ("sum", "mean")
VIF_FLAVOURS: tuple[str, ...] = ("viff", "vifp")


def reduce_sources(q_a: float, q_b: float, reduction: Reduction) -> float:
    """Combine the scores of F against A and against B: ``"sum"`` or ``"mean"``."""
    if reduction == "sum":
        return q_a + q_b
    if reduction == "mean":
        return (q_a + q_b) / 2.0
    raise ValueError(f"reduction must be one of {REDUCTIONS}, not {reduction!r}")


def convention_text(reduction: Reduction | None = None, vif_flavour: VifFlavour = "viff") -> str:
    """The conventions :func:`lwnet.metrics.compute_metrics` scored with, in words for a table's
    caption, so that tables of other conventions are told apart, e.g. ``VIF: VIFF; two-source
    scores: MI summed over A and B, UQI and SSIM averaged``. VIFF weighs both sources jointly;
    only VIFP has a score per source to combine."""
    vifp = vif_flavour == "vifp"
    return (f"VIF: {vif_flavour.upper()}; two-source scores: "
            + (f"MI, UQI, SSIM{', VIFP' if vifp else ''}: {reduction} over A and B" if reduction
               else f"{'MI and VIFP' if vifp else 'MI'} summed over A and B, UQI and SSIM "
                    "averaged"))
