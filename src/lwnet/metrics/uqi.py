"""Universal image quality index (UQI) of Wang & Bovik.

Wang, Bovik, "A universal image quality index", IEEE Signal Processing Letters 9(3), 2002:
Q = 4 σxy μx μy / ((σx² + σy²)(μx² + μy²)) over B×B windows sliding by one pixel ('valid'),
averaged over the image. Window sums are exact (integral images), and flat windows follow the
authors' reference rules: both windows constant → 2 μx μy / (μx² + μy²) (1 when equal, also for
two black windows); otherwise a zero denominator → 1.

Not the same index as ``sewar.uqi`` or ``torchmetrics``' UQI, which differ on flat windows.
"""

from __future__ import annotations

import numpy as np

from lwnet.metrics._filters import box_sum_valid
from lwnet.metrics._input import grey_image, same_shape

BLOCK = 8


def uqi_map(x: np.ndarray, y: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Local Q of two ``(H, W)`` images of whole grey levels 0..255 (exact window sums need
    them) → ``(H - block + 1, W - block + 1)``, values in [-1, 1]."""
    x, y = grey_image(x, "UQI", integers=True), grey_image(y, "UQI", integers=True)
    same_shape("UQI", x, y, min_side=block)
    n = block * block
    sx, sy = box_sum_valid(x, block), box_sum_valid(y, block)
    sxx, syy = box_sum_valid(x * x, block), box_sum_valid(y * y, block)
    sxy = box_sum_valid(x * y, block)
    # Everything scaled by n² relative to the moments: sums stay exact for integer images.
    mean_prod = sx * sy
    mean_sq = sx * sx + sy * sy
    var_sum = n * (sxx + syy) - mean_sq
    numerator = 4.0 * (n * sxy - mean_prod) * mean_prod
    denominator = var_sum * mean_sq
    q = np.ones_like(denominator)
    both_flat = (var_sum == 0) & (mean_sq != 0)
    q[both_flat] = 2.0 * mean_prod[both_flat] / mean_sq[both_flat]
    regular = denominator != 0
    q[regular] = numerator[regular] / denominator[regular]
    return q


def uqi_index(x: np.ndarray, y: np.ndarray, block: int = BLOCK) -> float:
    """Mean of :func:`uqi_map`: UQI of ``y`` against ``x`` → scalar in [-1, 1]."""
    return float(uqi_map(x, y, block).mean())
