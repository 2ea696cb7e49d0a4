"""BT.601 colour: conversion against the published coefficients and exact round trips."""

from __future__ import annotations

import numpy as np
import pytest

from lwnet.data import (
    fuse_in_luma,
    luma8,
    merge_luma,
    rgb_to_ycbcr,
    split_luma,
    to_uint8,
    ycbcr_to_rgb,
)
from lwnet.errors import InputError

RNG = np.random.default_rng(1)


def test_known_colours_match_bt601() -> None:
    rgb = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]]], np.float32)
    ycc = rgb_to_ycbcr(rgb)[0]
    np.testing.assert_allclose(ycc[:, 0], [0.299, 0.587, 0.114, 1.0, 0.0], atol=1e-6)
    # JFIF: Cb = 0.5 - 0.168736 R - 0.331264 G + 0.5 B ; Cr = 0.5 + 0.5 R - 0.418688 G - 0.081312 B
    np.testing.assert_allclose(ycc[:, 1], [0.5 - 0.168736, 0.5 - 0.331264, 1.0, 0.5, 0.5],
                               atol=1e-5)
    np.testing.assert_allclose(ycc[:, 2], [1.0, 0.5 - 0.418688, 0.5 - 0.081312, 0.5, 0.5],
                               atol=1e-5)


def test_round_trip_within_one_grey_level() -> None:
    rgb8 = RNG.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    rgb = rgb8 / 255.0
    back = ycbcr_to_rgb(rgb_to_ycbcr(rgb))
    assert np.abs(to_uint8(back).astype(int) - rgb8).max() <= 1
    y, chroma = split_luma(rgb)
    assert np.abs(to_uint8(merge_luma(y, chroma)).astype(int) - rgb8).max() <= 1


def test_grey_stays_grey() -> None:
    g = RNG.random((8, 8)).astype(np.float32)
    y, chroma = split_luma(g)
    assert chroma is None and merge_luma(y, chroma).ndim == 2


def test_luma8_rounds_like_a_saved_png() -> None:
    rgb = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    expected = round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    assert np.all(luma8(rgb) == expected)
    assert np.all(luma8(rgb / 255.0) == expected)
    half = luma8(np.full((2, 2), 0.5))
    assert half.dtype == np.uint8 and half[0, 0] == 128
    # 16-bit by its range, as read_image scales a 16-bit file (65535 → 255, 257 per level)
    assert np.all(luma8((rgb.astype(np.uint16) * 257)) == expected)
    assert list(luma8(np.array([[0, 128, 65535]], np.uint16))[0]) == [0, 0, 255]
    with pytest.raises(InputError, match="int32"):
        luma8(np.array([[1000]], np.int32))  # no known range: refused, not saturated


def test_luma8_rounds_the_weighted_sum_to_the_nearest_level() -> None:
    """Hand-computed Y = 0.299 R + 0.587 G + 0.114 B of the primaries and secondaries at 255:
    green 149.685, yellow 225.93, cyan 178.755 round up; red 76.245, blue 29.07 and magenta
    105.315 round down."""
    rgb = np.array([[[0, 255, 0], [255, 255, 0], [0, 255, 255],
                     [255, 0, 0], [0, 0, 255], [255, 0, 255]]], np.uint8)
    assert luma8(rgb).tolist() == [[150, 226, 179, 76, 29, 105]]
    assert luma8(rgb / 255.0).tolist() == [[150, 226, 179, 76, 29, 105]]


def test_fuse_in_luma_keeps_chroma_and_background() -> None:
    mri = RNG.random((16, 16)).astype(np.float32)
    func = RNG.random((16, 16, 3)).astype(np.float32)
    mri[:4] = 0
    func[:4] = 0
    out, fused = fuse_in_luma(np.maximum, mri, func)
    assert out.shape == (16, 16, 3) and fused.shape == (16, 16)
    y, chroma = split_luma(func)
    np.testing.assert_allclose(fused, np.maximum(mri, y), atol=1e-6)
    # chroma of the result equals the functional image's chroma where the colour is in gamut
    # (inverse BT.601 by hand: R = Y + 1.402 Cr', G = Y − 0.344136 Cb' − 0.714136 Cr',
    # B = Y + 1.772 Cb', with Cb' = Cb − ½, Cr' = Cr − ½; elsewhere clipping to [0, 1] must
    # change the colour)
    cb, cr = (chroma[..., k].astype(np.float64) - 0.5 for k in (0, 1))
    yf = fused.astype(np.float64)
    rgb = np.stack([yf + 1.402 * cr, yf - 0.344136 * cb - 0.714136 * cr, yf + 1.772 * cb], -1)
    in_gamut = np.all((rgb >= 1e-4) & (rgb <= 1 - 1e-4), axis=-1)
    assert in_gamut.sum() >= 64  # not vacuous: about 70 % of the 192 foreground pixels
    np.testing.assert_allclose(split_luma(out)[1][in_gamut], chroma[in_gamut], atol=1e-5)
    np.testing.assert_array_equal(to_uint8(out[:4]), 0)
    np.testing.assert_allclose(split_luma(out)[0][:4], 0, atol=1e-6)


def _scaled_255(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a + b) * 127.5  # the classic mistake: 0..255 in a float array


def test_a_method_returning_anything_but_unit_floats_is_named() -> None:
    import pytest

    from lwnet.errors import ConfigError

    rng = np.random.default_rng(0)
    a, b = rng.random((20, 24), dtype=np.float32), rng.random((20, 24), dtype=np.float32)
    bad = {
        _scaled_255: "_scaled_255: returned: float values from .* divide by 255",
        (lambda a, b: np.full_like(a, np.nan)): "NaN or infinite",
        (lambda a, b: a[:-1]): r"shape \(19, 24\); a method returns a float \(H, W\) = \(20, 24\)",
        (lambda a, b: None): "returned NoneType",
        (lambda a, b: np.stack([a, b, a], -1)): r"shape \(20, 24, 3\)",
    }
    for method, needle in bad.items():
        with pytest.raises(ConfigError, match=needle):
            fuse_in_luma(method, a, b)
    # uint8 is taken by its range, and float rounding just outside [0, 1] is clipped.
    _, y = fuse_in_luma(lambda a, b: to_uint8(a), a, b)
    np.testing.assert_array_equal(luma8(y), to_uint8(a))
    _, y = fuse_in_luma(lambda a, b: a * 1.0005, a, b)
    assert y.max() <= 1.0
