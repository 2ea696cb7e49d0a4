"""Image I/O: formats, bit depths, colour modes, bad files and atomic writes (SPEC §1)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lwnet._files import atomic_write_bytes
from lwnet.data import MIN_SIDE, check_same_size, read_image, to_uint8, write_image
from lwnet.data.io import as_float_image
from lwnet.errors import InputError, InputWarning, OutputExistsError

RNG = np.random.default_rng(0)


def _grey8(h: int = 20, w: int = 24) -> np.ndarray:
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp", ".gif"])
def test_lossless_8bit_grey_formats_read_exactly(tmp_path: Path, suffix: str) -> None:
    g = _grey8()
    Image.fromarray(g).save(tmp_path / f"x{suffix}")
    out = read_image(tmp_path / f"x{suffix}")
    assert out.dtype == np.float32 and out.shape == g.shape
    np.testing.assert_array_equal(to_uint8(out), g)


def test_jpeg_reads_close(tmp_path: Path) -> None:
    g = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1))
    Image.fromarray(g).save(tmp_path / "x.jpg", quality=95)
    out = read_image(tmp_path / "x.jpg")
    assert out.shape == g.shape and np.abs(to_uint8(out).astype(int) - g).max() <= 4


def test_16bit_scaled_by_type_range(tmp_path: Path) -> None:
    g16 = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    g16 = np.kron(g16, np.ones((10, 10), dtype=np.uint16))
    Image.fromarray(g16).save(tmp_path / "x.png")
    out = read_image(tmp_path / "x.png")
    np.testing.assert_allclose(out, g16 / 65535.0, atol=1e-6)


def test_palette_converted_to_colour(tmp_path: Path) -> None:
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:8] = (255, 0, 0)
    rgb[8:] = (0, 0, 255)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(
        tmp_path / "p.png"
    )
    out = read_image(tmp_path / "p.png")
    assert out.shape == (16, 16, 3)
    np.testing.assert_array_equal(to_uint8(out), rgb)


def test_rgba_composited_over_black(tmp_path: Path) -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[:, :8, 3] = 0  # transparent half carries no signal
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (16, 16, 3)
    assert np.all(out[:, :8] == 0)
    np.testing.assert_allclose(out[:, 8:, 0], 200 / 255, atol=1e-6)
    # An RGBA array is read as the same file is.
    np.testing.assert_array_equal(as_float_image(rgba), out)


def test_other_colour_modes_are_converted(tmp_path: Path) -> None:
    g = _grey8()
    # Bilevel: 0 and 1, greyscale.
    Image.fromarray(g > 127).save(tmp_path / "bilevel.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bilevel.png"), (g > 127))
    # Grey with alpha: composited over black, so opaque keeps the grey and clear is background.
    for alpha, expected in ((255, g), (0, np.zeros_like(g))):
        Image.merge("LA", [Image.fromarray(g), Image.fromarray(np.full_like(g, alpha))]).save(
            tmp_path / f"la{alpha}.png")
        out = read_image(tmp_path / f"la{alpha}.png")
        assert out.shape == g.shape
        np.testing.assert_array_equal(to_uint8(out), expected)
    # CMYK (print TIFFs) becomes RGB.
    rgb = np.stack([g, 255 - g, g // 2], axis=-1)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.tif")
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "cmyk.tif")), rgb)


def test_32_bit_integer_images_read_by_the_16_bit_range(tmp_path: Path) -> None:
    values = _grey8().astype(np.int32) * 257  # 0..65535
    Image.fromarray(values).save(tmp_path / "i32.tif")
    np.testing.assert_allclose(read_image(tmp_path / "i32.tif"), values / 65535.0, atol=1e-7)
    for low, high in ((-5, 250), (0, 70000)):
        bad = np.linspace(low, high, 20 * 24).reshape(20, 24).astype(np.int32)
        Image.fromarray(bad).save(tmp_path / "bad.tif")
        with pytest.raises(InputError, match=f"bad.tif: integer image with values from {low} "
                                             f"to {high}"):
            read_image(tmp_path / "bad.tif")


def test_grey_stored_as_rgb_is_detected(tmp_path: Path) -> None:
    g = _grey8()
    Image.fromarray(np.stack([g, g, g], -1)).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.ndim == 2
    np.testing.assert_array_equal(to_uint8(out), g)
    # Chroma noise of up to two grey levels (a grey image saved as colour JPEG) is still grey,
    # read as its BT.601 luma; three levels anywhere make it colour.
    noisy = np.stack([g, g, g], -1).astype(np.int16)
    noisy[..., 2] += RNG.integers(-2, 3, g.shape)
    noisy = np.clip(noisy, 0, 255).astype(np.uint8)
    luma = noisy.astype(np.float64) @ [0.299, 0.587, 0.114] / 255
    np.testing.assert_allclose(as_float_image(noisy), luma, atol=1e-6)
    noisy[3, 4] = (100, 100, 103)
    assert as_float_image(noisy).shape == (*g.shape, 3)


def test_truncated_png_is_named(tmp_path: Path) -> None:
    Image.fromarray(_grey8(64, 64)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="t.png: corrupt or truncated image"):
        read_image(tmp_path / "t.png")


def test_an_unreadable_file_is_not_called_corrupt(tmp_path: Path, monkeypatch) -> None:
    Image.fromarray(_grey8()).save(tmp_path / "t.png")

    def denied(*args: object, **kwargs: object) -> None:  # root reads any file; a user not
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(InputError, match=r"t.png: cannot read this file \(Permission denied\)$"):
        read_image(tmp_path / "t.png")


def test_text_named_png_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match="notes.png: not a readable image"):
        read_image(tmp_path / "notes.png")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.png: no such image file"):
        read_image(tmp_path / "nope.png")


def test_a_folder_or_pipe_is_not_called_missing(tmp_path: Path) -> None:
    (tmp_path / "scan.png").mkdir()
    with pytest.raises(InputError, match="scan.png: a folder, not an image file"):
        read_image(tmp_path / "scan.png")
    if hasattr(os, "mkfifo"):  # a pipe, as a shell's <(...) gives: PIL cannot seek in it
        os.mkfifo(tmp_path / "pipe.png")
        with pytest.raises(InputError, match="pipe.png: not a regular file"):
            read_image(tmp_path / "pipe.png")


def test_size_checks_name_both_sizes() -> None:
    a = np.zeros((20, 30), np.float32)
    with pytest.raises(InputError, match="30x20.*31x20"):
        check_same_size(a, np.zeros((20, 31), np.float32), "a.png", "b.png")
    tiny = np.zeros((1, 1), np.float32)
    with pytest.raises(InputError, match=f"{MIN_SIDE}x{MIN_SIDE} minimum"):
        check_same_size(tiny, tiny, "one.png", "two.png")


def test_to_uint8_rounds_and_refuses_other_ranges() -> None:
    # Float rounding just outside [0, 1] is clipped, as saving a PNG would.
    x = np.array([-1e-4, 0.0, 0.49 / 255, 0.51 / 255, 1.0, 1.0005], np.float32)
    np.testing.assert_array_equal(to_uint8(x), [0, 0, 0, 1, 255, 255])
    assert to_uint8(np.array([1.51 / 255]))[0] == 2
    # 0..255 or 0..65535 held as floats would be clipped to white: refused, with the way out.
    with pytest.raises(InputError, match=r"F: float values from 0 to 200; .*divide by 255"):
        to_uint8(np.array([0.0, 200.0]), "F")
    with pytest.raises(InputError, match=r"from 0 to 4000; .*divide by 65535 or pass uint16"):
        to_uint8(np.array([0.0, 4000.0]))
    with pytest.raises(InputError, match=r"from -0.5 to 1; float images must lie in \[0, 1\]$"):
        to_uint8(np.array([-0.5, 1.0]))
    with pytest.raises(InputError, match="NaN or infinite"):
        to_uint8(np.array([0.5, np.nan]))
    with pytest.raises(InputError, match="unsupported array type int16"):
        to_uint8(np.array([1, 2], np.int16))


def test_either_byte_order_of_16_bit_arrays() -> None:
    g16 = RNG.integers(0, 65536, (20, 24)).astype(np.uint16)
    big = g16.astype(">u2")
    np.testing.assert_array_equal(as_float_image(big), as_float_image(g16))
    np.testing.assert_array_equal(to_uint8(big), to_uint8(g16))
    np.testing.assert_array_equal(to_uint8(g16), np.rint(g16 / 257).astype(np.uint8))


def test_write_refuses_overwrite_and_leaves_no_temp(tmp_path: Path) -> None:
    img = RNG.random((20, 20)).astype(np.float32)
    out = tmp_path / "sub" / "f.png"
    write_image(out, img)
    np.testing.assert_array_equal(to_uint8(read_image(out)), to_uint8(img))
    with pytest.raises(OutputExistsError, match="f.png"):
        write_image(out, np.zeros_like(img))
    np.testing.assert_array_equal(to_uint8(read_image(out)), to_uint8(img))  # untouched
    write_image(out, np.zeros_like(img), overwrite=True)
    assert read_image(out).max() == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["f.png"]


def test_every_written_format_is_found_again_in_a_folder(tmp_path: Path) -> None:
    from lwnet.data.datasets import folder_pairs
    from lwnet.data.io import IMAGE_SUFFIXES

    img = np.tile(np.linspace(0, 1, 24, dtype=np.float32), (20, 1))
    for suffix in IMAGE_SUFFIXES:
        write_image(tmp_path / "a" / f"x{suffix[1:]}{suffix}", img)
        write_image(tmp_path / "b" / f"x{suffix[1:]}{suffix}", img)
        assert np.abs(read_image(tmp_path / "a" / f"x{suffix[1:]}{suffix}") - img).max() < 0.02
    assert len(folder_pairs(tmp_path / "a", tmp_path / "b")) == len(IMAGE_SUFFIXES)
    # Pillow writes PPM, but a folder of them would hold no images for evaluate
    with pytest.raises(InputError, match=r"x\.ppm: not an image file name.*\.png"):
        write_image(tmp_path / "x.ppm", img)


def test_write_16bit_round_trip(tmp_path: Path) -> None:
    img = RNG.random((20, 20))
    write_image(tmp_path / "x.png", img, bits=16)
    np.testing.assert_allclose(read_image(tmp_path / "x.png"), img, atol=1 / 65535)


def test_unwritable_destination_is_an_input_error(tmp_path: Path, unwritable) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(InputError, match=f"{tmp_path / 'file'}: is a file, so .*out.png cannot"):
        atomic_write_bytes(tmp_path / "file" / "sub" / "out.png", b"x")
    unwritable(tmp_path.name)  # a folder the user may not write to
    with pytest.raises(InputError, match=f"{tmp_path}: cannot write here \\(Permission denied\\)"):
        atomic_write_bytes(tmp_path / "out.png", b"x")
    assert not (tmp_path / "out.png").exists()


def test_written_files_get_the_umask_mode_or_keep_the_replaced_files(tmp_path: Path) -> None:
    """Atomic writes go through a private temp file; the result is not left owner-only."""
    import os

    from lwnet import _files

    mask = os.umask(0o022)
    _files._umask.cache_clear()  # read afresh under this umask
    try:
        new = atomic_write_bytes(tmp_path / "new.csv", b"x")
        assert new.stat().st_mode & 0o777 == 0o644
        (tmp_path / "old.csv").write_bytes(b"y")
        os.chmod(tmp_path / "old.csv", 0o640)
        atomic_write_bytes(tmp_path / "old.csv", b"z", overwrite=True)
        assert (tmp_path / "old.csv").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(mask)
        _files._umask.cache_clear()


def test_written_images_carry_their_text_where_the_format_can(tmp_path: Path) -> None:
    """PNG (8 and 16 bits) keeps every key in UTF-8, TIFF the Software and ImageDescription
    tags; JPEG has no place for it and is written all the same. Pixels are unchanged."""
    img = np.random.default_rng(0).random((12, 10))
    text = {"Software": "lwnet 9", "Source": "gff", "Description": "fused, 1 µm"}
    for name, bits in (("a.png", 8), ("b.png", 16)):
        write_image(tmp_path / name, img, bits=bits, text=text)
        assert Image.open(tmp_path / name).text == text
        np.testing.assert_array_equal(read_image(tmp_path / name),
                                      read_image(write_image(tmp_path / f"plain-{name}", img,
                                                             bits=bits)))
    tags = Image.open(write_image(tmp_path / "c.tif", img, text=text)).tag_v2
    assert tags[305] == "lwnet 9" and tags[270].startswith("Source: gff; Description: fused")
    assert read_image(write_image(tmp_path / "d.jpg", img, text=text)).shape == (12, 10)


def test_a_dicom_or_nifti_file_is_named_with_the_volume_reader(tmp_path: Path) -> None:
    dicom = tmp_path / "slice0001"  # no extension, as scanners write them: told by its magic
    dicom.write_bytes(b"\0" * 128 + b"DICM" + b"\2\0" * 40)
    nifti = tmp_path / "mri.nii.gz"
    nifti.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    for path, kind in ((dicom, "a DICOM file"), (nifti, "a NIfTI volume")):
        with pytest.raises(InputError, match=rf"{path.name}: not a readable image file "
                                             rf"\({kind}: .*`lwnet fuse-volume`"):
            read_image(path)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\0" * 200)
    with pytest.raises(InputError, match=r"junk.png: not a readable image file$"):
        read_image(junk)


def test_a_float_tiff_reads_as_a_writable_array(tmp_path) -> None:
    """PIL's float buffer is read-only: handed on as it is, torch warned on every fuse."""
    from PIL import Image

    from lwnet.data import read_image

    img = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    Image.fromarray(img, mode="F").save(tmp_path / "f.tif")
    got = read_image(tmp_path / "f.tif")
    assert got.flags.writeable
    np.testing.assert_array_equal(got, img)


def test_a_volume_given_as_an_image_points_to_volume_fusion() -> None:
    with pytest.raises(InputError, match=r"mri: expected .* got shape \(5, 32, 32\); a volume\? "
                                         "fuse it slice by slice: lwnet fuse-volume"):
        as_float_image(np.zeros((5, 32, 32), np.float32), "mri")
    with pytest.raises(InputError, match=r"got shape \(32,\)$"):  # no volume hint for 1-D
        as_float_image(np.zeros(32, np.float32), "mri")


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_a_channels_first_image_is_refused_with_the_fix(channels: int) -> None:
    # torch keeps images as (C, H, W); guessing the layout could fuse the wrong axes.
    with pytest.raises(InputError, match=rf"got shape \({channels}, 32, 48\); channels first\? "
                                         r"put them last: np\.moveaxis\(image, 0, -1\)"):
        as_float_image(np.zeros((channels, 32, 48), np.float32), "functional")


@pytest.mark.parametrize(("mode", "scale", "top", "hint"), [
    ("I;16", 16, 4080, "12-bit data? Scale it to the full range first (x 65535/4095)"),
    ("I", 1, 255, "8-bit data? Scale it to the full range first (x 65535/255)"),
])
def test_16_bit_data_using_12_bits_or_fewer_is_read_as_it_is_and_warned_of(
        tmp_path: Path, mode: str, scale: int, top: int, hint: str) -> None:
    # 12-bit scanner data saved unscaled: read by the 16-bit range it is at most 1/16 bright.
    grey = _grey8()
    grey[0, 0] = 255
    values = grey.astype(np.uint16 if mode == "I;16" else np.int32) * scale
    path = tmp_path / ("x.png" if mode == "I;16" else "x.tif")
    Image.fromarray(values).save(path)  # Pillow 10.0 opens a 16-bit PNG as "I" too
    with pytest.warns(InputWarning) as caught:
        image = read_image(path)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"{path}: brightest value {top} of the 16-bit range's 65535"), message
    assert message.endswith(hint), message
    np.testing.assert_allclose(image, values / 65535.0, atol=1e-7)  # nothing guessed


def _png_16_bit_rgb(path: Path, rgb: np.ndarray) -> None:
    """A 16-bit RGB PNG, which Pillow cannot write: signature, IHDR (depth 16, colour type 2),
    one IDAT of unfiltered rows, IEND (PNG specification, ISO/IEC 15948)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    h, w, _ = rgb.shape
    rows = b"".join(b"\0" + rgb[y].astype(">u2").tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_16_bit_colour_png_of_12_bit_data_is_warned_of(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 4096, (20, 24, 3)).astype(np.uint16)
    _png_16_bit_rgb(tmp_path / "c12.png", rgb)
    with pytest.warns(InputWarning, match=r"c12.png: a 16-bit colour image .* under 4096 of"):
        img = read_image(tmp_path / "c12.png")
    np.testing.assert_array_equal(to_uint8(img), rgb >> 8)  # Pillow's high bytes
    _png_16_bit_rgb(tmp_path / "full.png", rgb * 16)  # the full range: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(tmp_path / "full.png")
    # A 16-bit colour TIFF is read the same way, and warned of alike.
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "c12.tif", rgb, photometric="rgb")
    with pytest.warns(InputWarning, match=r"c12.tif: a 16-bit colour image"):
        np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "c12.tif")), rgb >> 8)
    # A grey 16-bit PNG is read at full depth: only the grey image's warning, once.
    Image.fromarray(rgb[..., 0]).save(tmp_path / "g12.png")
    with pytest.warns(InputWarning) as said:
        read_image(tmp_path / "g12.png")
    assert len(said) == 1 and "16-bit colour" not in str(said[0].message)


def test_16_bit_data_over_12_bits_or_black_is_not_warned_of(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        for top in (0, 4096, 65535):
            Image.fromarray(np.full((20, 24), top, np.uint16)).save(tmp_path / "x.png")
            assert read_image(tmp_path / "x.png").max() == pytest.approx(top / 65535)
        as_float_image(np.full((20, 24), 255, np.uint8))  # 8 bits of 8: not few


def test_a_16_bit_array_using_few_bits_is_warned_of_by_name() -> None:
    with pytest.warns(InputWarning, match=r"^ct: brightest value 1000 of .* 10-bit data\? "):
        as_float_image(np.full((20, 24), 1000, ">u2"), "ct")
