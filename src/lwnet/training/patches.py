"""The SPI patch grid (SPEC §3): 120×120 patches, stride 20 → a 7×7 grid on a 256×256 pair."""

from __future__ import annotations

import numpy as np


def grid_positions(height: int, width: int, size: int = 120, stride: int = 20) -> np.ndarray:
    """Top-left corners ``(G, 2)`` (row, col) of every ``size``×``size`` patch on the grid.

    Corners run ``0, stride, 2·stride, …`` while the patch fits; a 256×256 image with the
    defaults gives rows/cols {0, 20, …, 120}: 7 × 7 = 49 patches. Raises ValueError when the
    patch does not fit.
    """
    if size > height or size > width:
        raise ValueError(f"patch size {size} exceeds the image size {height}×{width}")
    rows = np.arange(0, height - size + 1, stride)
    cols = np.arange(0, width - size + 1, stride)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return np.stack([rr.ravel(), cc.ravel()], axis=1).astype(np.int64)


def extract(images: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Cut patches from a stack of images.

    ``images`` ``(N, H, W)``; ``index`` ``(P, 3)`` rows of (image, row, col) → ``(P, size, size)``
    of the same dtype.
    """
    out = np.empty((len(index), size, size), dtype=images.dtype)
    for k, (i, r, c) in enumerate(index):
        out[k] = images[i, r:r + size, c:c + size]
    return out


def patch_index(n_images: int, positions: np.ndarray) -> np.ndarray:
    """Every (image, row, col) triple: ``(n_images · G, 3)``, image-major order."""
    img = np.repeat(np.arange(n_images, dtype=np.int64), len(positions))
    pos = np.tile(positions, (n_images, 1))
    return np.concatenate([img[:, None], pos], axis=1)
