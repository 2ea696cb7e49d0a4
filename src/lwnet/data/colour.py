"""ITU-R BT.601 colour handling (full-range YCbCr, as in JPEG/JFIF).

Fusion works on luminance: a pseudo-colour PET/SPECT image is split into Y and chroma, Y is
fused with the MRI, and the result is merged back with the original chroma (SPEC §1).
All functions take float arrays in [0, 1] of shape ``(H, W, 3)`` (RGB) or ``(H, W)`` (grey).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lwnet.data.io import BT601_LUMA, as_float_image, check_fused, to_uint8

# Y = 0.299 R + 0.587 G + 0.114 B; Cb, Cr centred on 0.5 (BT.601, full range).
_RGB_TO_YCBCR = np.array(
    [
        BT601_LUMA,
        [-0.299 / 1.772, -0.587 / 1.772, 0.886 / 1.772],
        [0.701 / 1.402, -0.587 / 1.402, -0.114 / 1.402],
    ]
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
_CHROMA_OFFSET = np.array([0.0, 0.5, 0.5])


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """RGB ``(H, W, 3)`` in [0, 1] → YCbCr ``(H, W, 3)``, Y in [0, 1], Cb/Cr centred on 0.5."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return (rgb @ _RGB_TO_YCBCR.T + _CHROMA_OFFSET).astype(np.float32)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`; the result is clipped to [0, 1]."""
    ycc = np.asarray(ycc, dtype=np.float64) - _CHROMA_OFFSET
    return np.clip(ycc @ _YCBCR_TO_RGB.T, 0.0, 1.0).astype(np.float32)


def split_luma(img: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split an image into its luminance ``(H, W)`` and chroma ``(H, W, 2)`` (None if grey)."""
    if img.ndim == 2:
        return np.asarray(img, dtype=np.float32), None
    ycc = rgb_to_ycbcr(img)
    return ycc[..., 0], ycc[..., 1:]


def merge_luma(y: np.ndarray, chroma: np.ndarray | None) -> np.ndarray:
    """Put a (fused) luminance back with chroma; greyscale stays greyscale."""
    y = np.clip(np.asarray(y, dtype=np.float32), 0.0, 1.0)
    if chroma is None:
        return y
    return ycbcr_to_rgb(np.concatenate([y[..., None], chroma], axis=-1))


def luma8(img: np.ndarray, name: object = "image") -> np.ndarray:
    """8-bit BT.601 luma of an image, as every metric sees it (SPEC §1).

    A float image in [0, 1] is first rounded to uint8 per channel (as if saved as PNG; see
    :func:`lwnet.data.io.to_uint8`, which names ``name`` for anything else); for colour,
    Y = 0.299 R + 0.587 G + 0.114 B is then rounded to the nearest grey level. Other layouts
    (``(H, W, 1)``, RGBA) are read as :func:`lwnet.data.io.as_float_image` reads them.
    Returns uint8 ``(H, W)``.
    """
    arr = np.asarray(img)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)):
        arr = as_float_image(arr, name)
    img8 = to_uint8(arr, name)
    if img8.ndim == 2:
        return img8
    y = img8.astype(np.float64) @ _RGB_TO_YCBCR[0]
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def fuse_in_luma(
    fuse_luma: Callable[[np.ndarray, np.ndarray], np.ndarray], mri: np.ndarray,
    functional: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse an MRI with a (possibly colour) image through its luminance (SPEC §1).

    ``fuse_luma(a, b)`` fuses two float32 ``(H, W)`` images in [0, 1] into one
    (:func:`lwnet.data.io.check_fused` names a method that returns anything else). A colour MRI
    is reduced to its luminance. Returns ``(result, fused_luma)``: the result is RGB with the
    functional image's chroma when that image is colour, else greyscale; ``fused_luma`` is
    ``(H, W)``.
    """
    a, _ = split_luma(mri)
    y, chroma = split_luma(functional)
    fused = check_fused(fuse_luma(a, y), a.shape, fuse_luma)
    return merge_luma(fused, chroma), fused
