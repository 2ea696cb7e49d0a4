"""Peak signal-to-noise ratio of a fused image against its two sources."""

from __future__ import annotations

import numpy as np

from lwnet.metrics._input import grey_image, same_shape

PEAK = 255.0


def psnr(a: np.ndarray, b: np.ndarray, f: np.ndarray, peak: float = PEAK) -> float:
    """Fusion PSNR in dB: 10·log10(peak² / ((MSE(A, F) + MSE(B, F)) / 2)), the two-source form
    reviewed by Jagalingam & Hegde (Aquatic Procedia 4, 2015).

    ``(H, W)`` images on 0..``peak`` → scalar; ``inf`` when F equals both sources. The pixel
    mean of A and B maximises it by construction (it minimises MSE(A, F) + MSE(B, F)).
    """
    a, b, f = (grey_image(x, "PSNR") for x in (a, b, f)) if peak == PEAK else (
        np.asarray(x, dtype=np.float64) for x in (a, b, f))
    same_shape("PSNR", a, b, f)
    mse = (np.mean((a - f) ** 2) + np.mean((b - f) ** 2)) / 2.0
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / mse))
