"""Reading and writing 2-D images.

Images are held as float32 arrays in [0, 1]: ``(H, W)`` for greyscale, ``(H, W, 3)`` for colour.
Integer inputs are scaled by their type's range (8-bit by 255, 16-bit by 65535; a 16-bit image
that uses 12 bits or fewer gets an :class:`lwnet.errors.InputWarning`, as it reads dark); palette,
grey+alpha and RGBA images are converted (alpha composited over black, since transparent means
no signal); an RGB image whose channels differ by at most :data:`GREY_TOLERANCE` anywhere is
greyscale stored as colour and is returned as greyscale (SPEC §1).

Writes are atomic (:func:`lwnet._files.atomic_write_bytes`), so a crash never leaves a
truncated output.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from lwnet._files import atomic_write_bytes
from lwnet.errors import ConfigError, InputError, InputWarning

#: Smallest side accepted for fusion (the SSIM window of training is 11 pixels); the metrics need
#: :data:`lwnet.metrics.VIF_MIN_SIDE` (81) for VIF's coarsest scale.
MIN_SIDE = 16

#: The image files that folders are searched for, and the only ones written: one list for both,
#: so that every fused file can be found again by ``lwnet evaluate`` and the folder modes.
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def require_file(path: Path, what: str = "file") -> None:
    """Raise :class:`InputError` naming ``path`` unless it is a regular file: missing, a folder,
    or something else (a device, or a pipe such as ``<(...)``, which image readers cannot seek
    in); ``what`` names the kind of file expected."""
    if path.is_file():
        return
    if not path.exists():
        raise InputError(f"{path}: no such {what}")
    kind = "a folder" if path.is_dir() else "not a regular file (a device or a pipe?)"
    article = "an" if what[0] in "aeiouAEIOU" else "a"
    raise InputError(f"{path}: {kind}, not {article} {what}")


def is_image_file(path: Path) -> bool:
    """Whether ``path`` has one of the image extensions read by :func:`read_image`."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def pil_to_float(img: Image.Image, path: Path) -> np.ndarray:
    """A PIL image → float32 in [0, 1] by the rules of :func:`read_image`; ``path`` names it in
    errors."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return _unit_range(np.asarray(img), path)
    if mode.startswith("I"):  # 32-bit or signed 16-bit integers
        arr = np.asarray(img, dtype=np.int64)
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 65535:
            raise InputError(f"{path}: integer image with values from {lo} to {hi}; LWNet reads "
                             "unsigned 8- and 16-bit images (0..65535)")
        return _unit_range(arr.astype(np.uint16), path)
    if mode == "F":
        # A copy: PIL's float buffer is read-only, and a caller (or torch) may write. The
        # range is checked by as_float_image.
        return np.array(img, dtype=np.float32)
    if mode == "1":
        img = img.convert("L")
    elif mode == "P":
        img = img.convert("RGBA")
    elif mode == "LA":
        img = img.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    if img.mode not in ("L", "RGB", "RGBA"):  # RGBA: composited by as_float_image
        raise InputError(f"{path}: unsupported image mode {img.mode!r}")
    return np.asarray(img, dtype=np.float32) / 255.0


#: How far a float image may stray outside [0, 1] (float rounding) before it is an error.
FLOAT_SLACK = 1e-3
#: Largest difference between the channels of an RGB image (anywhere) for which it is greyscale
#: stored as colour: 2/255 of the range (two grey levels of an 8-bit image; JPEG's chroma noise
#: on a grey image, say), whatever the bit depth.
GREY_TOLERANCE = 2 / 255
#: ITU-R BT.601 luma weights of R, G, B (:mod:`lwnet.data.colour` builds its YCbCr from them).
BT601_LUMA = np.array([0.299, 0.587, 0.114])


#: A 16-bit image whose values all fit in this many bits gets an :class:`InputWarning`: read
#: by the 16-bit range it is at most 1/16 bright (12-bit scanner data saved unscaled, say).
FEW_BITS = 12


def _unit_range(arr: np.ndarray, name: object) -> np.ndarray:
    """uint8/uint16 (either byte order) scaled by their type's range to float32; other arrays
    as they are. A 16-bit ``arr`` that uses :data:`FEW_BITS` or fewer gets an
    :class:`InputWarning` naming ``name``: it is scaled all the same (nothing is guessed)."""
    if arr.dtype.kind != "u" or arr.dtype.itemsize not in (1, 2):
        return arr
    top = int(arr.max(initial=0))
    if arr.dtype.itemsize == 2 and 0 < top < 2 ** FEW_BITS:
        bits = top.bit_length()
        warnings.warn(f"{name}: brightest value {top} of the 16-bit range's 65535, so it reads "
                      f"dark (at most {top / 65535:.1%} bright); {bits}-bit data? Scale it to "
                      f"the full range first (x 65535/{2 ** bits - 1})", InputWarning,
                      stacklevel=3)
    return arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)


def unit_float(image: object, name: object = "image") -> np.ndarray:
    """An array of any shape as floats in [0, 1]: uint8 and uint16 are scaled by their type's
    range (to float32); floats keep their type once checked to be finite and within
    :data:`FLOAT_SLACK` of [0, 1] (float rounding, clipped). Raises :class:`InputError` naming
    ``name`` for other types, NaN or values outside the range (with a hint for 0..255 and
    0..65535 data held as floats)."""
    arr = _unit_range(np.asarray(image), name)
    if arr.dtype.kind != "f":
        raise InputError(f"{name}: unsupported array type {arr.dtype}; expected uint8, uint16 "
                         "or floats in [0, 1] (scale signed or wider integers first)")
    if not np.isfinite(arr).all():
        raise InputError(f"{name}: NaN or infinite values")
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if lo < -FLOAT_SLACK or hi > 1 + FLOAT_SLACK:
        # Integers held as floats (cv2, np.float64(img)) are the usual cause: say how to fix.
        hint = next((f"; 0..{top} data? divide by {top} or pass {kind}"
                     for top, kind in ((255, "uint8"), (65535, "uint16"))
                     if lo >= 0 and 2 < hi <= top), "")
        raise InputError(f"{name}: float values from {lo:.6g} to {hi:.6g}; float images must "
                         f"lie in [0, 1]{hint}")
    return np.clip(arr, 0.0, 1.0) if lo < 0 or hi > 1 else arr


def as_float_image(image: np.ndarray, name: object = "image") -> np.ndarray:
    """An array → float32 ``(H, W)`` or ``(H, W, 3)`` in [0, 1] by the rules of :func:`read_image`.

    uint8 and uint16 are scaled by their type's range; floats must be finite and in [0, 1]
    (:func:`unit_float`: float rounding up to :data:`FLOAT_SLACK` outside is clipped); a
    trailing channel axis of 1 is dropped, RGBA ``(H, W, 4)`` is
    composited over black and greyscale stored as RGB (:data:`GREY_TOLERANCE`) becomes its
    BT.601 luma ``(H, W)``. Raises :class:`InputError` naming ``name`` for any other type or
    shape.
    """
    arr = unit_float(image, name)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3] * arr[..., 3:4]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)):
        hint = ("; a volume? fuse it slice by slice: lwnet fuse-volume, or "
                "lwnet.inference.fuse_slices" if arr.ndim >= 3 else "")
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):  # torch's (C, H, W), or a few slices
            hint = "; channels first? put them last: np.moveaxis(image, 0, -1)" + hint
        raise InputError(f"{name}: expected (H, W), (H, W, 3) or (H, W, 4), got shape "
                         f"{arr.shape}{hint}")
    if arr.ndim == 3 and float(np.ptp(arr, axis=-1).max(initial=0.0)) <= GREY_TOLERANCE + 1e-6:
        arr = arr.astype(np.float64) @ BT601_LUMA  # exact for equal channels: weights sum to 1
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_fused(fused: object, shape: tuple[int, ...], method: object) -> np.ndarray:
    """A fusion method's result as float32 ``shape`` (the sources' ``(H, W)``) in [0, 1].

    Read by :func:`unit_float`'s rules (uint8/uint16 by their range, float rounding clipped).
    Anything else (another shape, NaN, values such as 0..255 in a float array, not an array)
    raises :class:`ConfigError` naming ``method``, the function that made it: the fault is in
    the code, not the input.
    """
    name = getattr(method, "__name__", None) or repr(method)
    contract = f"a method returns a float (H, W) = {tuple(shape)} array in [0, 1]"
    if not isinstance(fused, np.ndarray) or fused.shape != tuple(shape):
        got = (type(fused).__name__ if not isinstance(fused, np.ndarray) else
               f"{fused.dtype} of shape {fused.shape}")
        raise ConfigError(f"fusion method {name}: returned {got}; {contract}")
    try:
        arr = unit_float(fused, f"fusion method {name}: returned")
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    return arr.astype(np.float32, copy=False)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as float32 in [0, 1].

    Returns ``(H, W)`` for greyscale (including greyscale stored as RGB) and ``(H, W, 3)`` for
    colour. Raises :class:`InputError` naming the file when it is missing, not an image,
    truncated, of an unsupported kind or over Pillow's pixel limit (a decompression-bomb guard).
    """
    path = Path(path)
    require_file(path, "image file")
    try:
        with Image.open(path) as img:
            img.seek(0)  # first frame of a GIF or multi-page TIFF
            deep_colour = _colour_read_at_8_bits(img)
            img.load()
            arr = pil_to_float(img, path)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image file{_medical_hint(path)}") from None
    except Image.DecompressionBombError as exc:  # before decoding: no memory spent on it
        raise InputError(f"{path}: refused by Pillow's guard against decompression bombs "
                         f"({exc}); if the file is trusted, raise PIL.Image.MAX_IMAGE_PIXELS "
                         "from Python") from None
    except PermissionError as exc:
        raise InputError(f"{path}: cannot read this file ({exc.strerror})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: corrupt or truncated image ({exc})") from None
    if deep_colour:  # the image at 8 bits, scaled right; but 12-bit data unscaled reads dark
        high = int(np.rint(arr.max(initial=0) * 255))
        top = high * 256 + 255
        if 0 < high and top < 2 ** FEW_BITS:
            warnings.warn(f"{path}: a 16-bit colour image (read by Pillow at 8 bits, its high "
                          f"bytes) whose values stay under {top + 1} of the 16-bit range's "
                          f"65535, so it reads dark; {FEW_BITS}-bit data? Scale it to the full "
                          "range first", InputWarning, stacklevel=2)
    return as_float_image(arr, path)


def _colour_read_at_8_bits(img: Image.Image) -> bool:
    """Whether Pillow reads ``img`` (opened, not yet loaded: its tile says how it will decode)
    as 16-bit colour brought down to 8 bits, as it does PNG and TIFF ("RGB;16B", "RGB;16L")."""
    tile = getattr(img, "tile", None)  # files have one (ImageFile); images made in memory not
    if img.mode not in ("RGB", "RGBA") or not tile:
        return False
    args = tile[0][3]
    rawmode = args[0] if isinstance(args, tuple) else args
    return ";16" in str(rawmode)


def is_nifti_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a NIfTI file (``.nii`` or ``.nii.gz``)."""
    return Path(path).name.lower().endswith((".nii", ".nii.gz"))


def is_dicom_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a DICOM Part 10 file ("DICM" after its 128-byte preamble)."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        return fh.read(132)[128:] == b"DICM"


def _medical_hint(path: Path) -> str:
    """A pointer to the volume reader for a DICOM or NIfTI file ('' for anything else)."""
    kind = ("a NIfTI volume" if is_nifti_path(path) else
            "a DICOM file" if is_dicom_file(path) else "")
    if not kind:
        return ""
    return (f" ({kind}: fuse volumes, DICOM series or single DICOM slices with "
            "`lwnet fuse-volume`, or read them with lwnet.data.volumes.read_volume)")


def check_same_size(
    a: np.ndarray, b: np.ndarray, a_name: object = "A", b_name: object = "B"
) -> None:
    """Raise :class:`InputError` unless ``a`` and ``b`` share H×W and are at least MIN_SIDE."""
    if a.shape[:2] != b.shape[:2]:
        raise InputError(
            f"size mismatch: {a_name} is {a.shape[1]}x{a.shape[0]}, "
            f"{b_name} is {b.shape[1]}x{b.shape[0]} (width x height)"
        )
    for arr, name in ((a, a_name), (b, b_name)):
        if min(arr.shape[:2]) < MIN_SIDE:
            raise InputError(
                f"{name}: image is {arr.shape[1]}x{arr.shape[0]}, smaller than the "
                f"{MIN_SIDE}x{MIN_SIDE} minimum"
            )


def check_fusion_pair(
    a: np.ndarray, b: np.ndarray, a_name: object = "A", b_name: object = "B"
) -> None:
    """:func:`check_same_size`, and A must be greyscale: A is the MRI, and a colour A would lose
    its colour silently (only B's chroma goes back onto the fused luminance, SPEC §1)."""
    check_same_size(a, b, a_name, b_name)
    if a.ndim == 3:
        swapped = " (are A and B swapped?)" if b.ndim == 2 else ""
        raise InputError(f"{a_name}: a colour image as A; A is the greyscale MRI and B the "
                         f"SPECT/PET/CT image{swapped}")


def read_fusion_pair(a_path: str | os.PathLike[str],
                     b_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a source pair (A the MRI, B the functional image) and :func:`check_fusion_pair`
    it, as every reader of pairs does: fusing, scoring and training."""
    a, b = read_image(a_path), read_image(b_path)
    check_fusion_pair(a, b, a_path, b_path)
    return a, b


#: Half an 8-bit grey level: a value at or below it rounds to grey level 0 at 8 bits. Where both
#: sources are at or below it, a pixel is background, and every fused image must be 0 (SPEC §1).
BACKGROUND_LEVEL = 0.5 / 255


def to_uint8(img: np.ndarray, name: object = "image") -> np.ndarray:
    """Round and clip an image to uint8, exactly as saving it as an 8-bit PNG would.

    Floats are read as [0, 1] (within :data:`FLOAT_SLACK`), uint16 by its type's range
    (65535 → 255), uint8 passes through; any other type, NaN, or floats outside the range (such
    as 0..255 held as floats) raise :class:`InputError` naming ``name``
    (:func:`unit_float`): clipping them would score or save a different image without a word.
    """
    if img.dtype == np.uint8:
        return img
    arr = unit_float(img, name)  # uint16 → float32 [0, 1]; no ties at 8 bits
    return np.rint(np.asarray(arr, dtype=np.float64) * 255.0).astype(np.uint8)


def image_format(path: str | os.PathLike[str]) -> str:
    """The Pillow format that writes the file ``path``, from its extension.

    Raises :class:`InputError` naming the file when the extension is missing or not one of
    :data:`IMAGE_SUFFIXES` (Pillow writes more, e.g. ``.ppm``, but folders of them would hold
    no images for the commands that read results back).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        ext = repr(path.suffix) if path.suffix else "none"
        raise InputError(f"{path}: not an image file name (extension: {ext}); use one of "
                         f"{', '.join(IMAGE_SUFFIXES)}")
    return Image.registered_extensions()[suffix]


def encode_image(img: np.ndarray, path: str | os.PathLike[str], bits: int = 8,
                 text: Mapping[str, str] | None = None) -> bytes:
    """Encode an image to the bytes of the file ``path`` (format from its extension), with
    ``bits`` (8 or 16) per sample.

    ``img``: float in [0, 1] (rounded; :func:`unit_float` refuses anything else), or
    uint8/uint16 (scaled by their type's range); ``(H, W)``, or ``(H, W, 3)`` at 8 bits.
    ``text``: what made the image (PNG keywords such as ``Software``, ``Source``,
    ``Description``), stored as PNG text chunks or, in a TIFF, as its Software and
    ImageDescription tags; other formats leave it out.
    """
    img = np.asarray(img)
    if bits == 16:
        if img.ndim != 2:
            raise ValueError("16-bit output is supported for greyscale images only")
        arr = np.rint(np.asarray(unit_float(img, path), np.float64) * 65535.0)
        pil = Image.fromarray(arr.astype(np.uint16))
    elif bits == 8:
        pil = Image.fromarray(to_uint8(img, path))
    else:
        raise ValueError(f"bits must be 8 or 16, not {bits}")
    fmt = image_format(path)
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **_text_options(fmt, text or {}))
    return buf.getvalue()


def _text_options(fmt: str, text: Mapping[str, str]) -> dict[str, object]:
    """Pillow ``save`` options that carry ``text`` in format ``fmt``."""
    if not text:
        return {}
    if fmt == "PNG":
        info = PngInfo()
        for key, value in text.items():
            info.add_itxt(key, value)  # international text: UTF-8, any file name
        return {"pnginfo": info}
    if fmt == "TIFF":
        tags = {305: text.get("Software", ""),  # TIFF 6.0: Software, ImageDescription
                270: "; ".join(f"{k}: {v}" for k, v in text.items() if k != "Software")}
        return {"tiffinfo": {k: v for k, v in tags.items() if v}}
    return {}


def write_image(
    path: str | os.PathLike[str], img: np.ndarray, overwrite: bool = False, bits: int = 8,
    text: Mapping[str, str] | None = None,
) -> Path:
    """Save a float image in [0, 1] atomically (format from the extension, 8 or 16 bits;
    ``text`` as in :func:`encode_image`)."""
    path = Path(path)
    return atomic_write_bytes(path, encode_image(img, path, bits, text), overwrite)
