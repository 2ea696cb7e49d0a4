"""3-D volumes: NIfTI and DICOM reading, geometry checks, robust windowing, the slices as a
radiologist views them, NIfTI writing.

A :class:`Volume` holds voxel data as float32 in the file's physical units, indexed the NIfTI
way ``(i, j, k)``, with the 4×4 affine that maps voxel indices to RAS+ millimetres. NIfTI
volumes keep their header so that an output can carry the MRI's geometry unchanged (affine,
qform/sform codes, zooms, units).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lwnet._optional import optional_import
from lwnet.data.dicom import read_dicom_series
from lwnet.data.io import is_dicom_file, is_nifti_path, require_file
from lwnet.errors import ConfigError, InputError

if TYPE_CHECKING:  # an optional dependency (the `medical` extra)
    import nibabel

#: Default robust window: these percentiles of the non-background voxels map to 0 and 1.
DEFAULT_WINDOW = (0.5, 99.5)

#: Output dtypes of :func:`encode_nifti`; integers store round(f · max) with scl_slope 1/max.
OUTPUT_DTYPES = ("float32", "uint8", "uint16")


@dataclass
class Volume:
    """A 3-D image: ``data`` float32 ``(I, J, K)``, ``affine`` 4×4 voxel → RAS+ mm.

    ``header`` is the source's ``nibabel.Nifti1Header`` (None for DICOM) and ``path`` the file
    or folder it came from, used in error messages.
    """

    data: np.ndarray
    affine: np.ndarray
    path: Path
    header: Any = None  # nibabel's header class, an optional dependency


def _read_nifti(path: Path) -> Volume:
    nib = optional_import("nibabel", "medical")

    require_file(path, "NIfTI file")
    try:
        img = nib.load(path)
        if img.get_data_dtype().names:  # RGB24/RGBA32: one record of channels per voxel
            raise InputError(f"{path}: a colour (RGB) NIfTI volume; give the scalar "
                             "intensities (the colour of the output comes from --cmap)")
        data = np.asarray(img.get_fdata(dtype=np.float32))
    except InputError:
        raise
    except Exception as exc:  # nibabel raises many kinds for damaged files
        raise InputError(f"{path}: not a readable NIfTI file ({exc})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim == 4:  # NIfTI's 4th axis is time (dynamic PET, fMRI) or vector components
        raise InputError(f"{path}: a 4-D volume of shape {data.shape}: {data.shape[3]} frames "
                         "(time points, or colour or vector components); give one 3-D volume, "
                         "the frame to fuse or the frames' mean (nibabel: img.slicer[..., k]), "
                         "as scalar intensities (the output's colour comes from --cmap)")
    if data.ndim != 3:
        raise InputError(f"{path}: expected a 3-D volume, got shape {data.shape}")
    header = img.header if isinstance(img, nib.Nifti1Image) else None
    return Volume(data, np.asarray(img.affine, dtype=np.float64), path, header)


def read_volume(path: str | os.PathLike[str]) -> Volume:
    """Read a NIfTI file (``.nii``, ``.nii.gz``), a DICOM series folder or a single DICOM slice
    file as a :class:`Volume`."""
    path = Path(path)
    if path.is_dir() or is_dicom_file(path):
        data, affine = read_dicom_series(path)
        return Volume(data, affine, path)
    if not is_nifti_path(path):
        raise InputError(f"{path}: expected a .nii/.nii.gz file, a DICOM series folder or a "
                         "DICOM file")
    return _read_nifti(path)


def _format_affine(affine: np.ndarray) -> str:
    return "[" + "; ".join(" ".join(f"{v:.4g}" for v in row) for row in affine[:3]) + "]"


def check_same_geometry(a: Volume, b: Volume, atol: float = 1e-3) -> None:
    """Raise :class:`InputError` unless ``a`` and ``b`` share shape and affine (within ``atol``).

    ``atol`` is in the affine's units (mm for spacing and origin). The message shows both shapes
    and both affines.
    """
    if a.data.shape != b.data.shape:
        raise InputError(f"shape mismatch: {a.path} is {a.data.shape}, {b.path} is "
                         f"{b.data.shape}; the volumes must be registered on one grid")
    if not np.allclose(a.affine, b.affine, rtol=0.0, atol=atol):
        raise InputError(
            f"geometry mismatch (affine tolerance {atol}): {a.path} has affine "
            f"{_format_affine(a.affine)}, {b.path} has affine {_format_affine(b.affine)}; "
            "the volumes must be registered on one grid"
        )


def replace_nonfinite(volume: Volume, fill_value: float | None = None) -> Volume:
    """Return ``volume`` with NaN/±inf voxels replaced by ``fill_value``.

    Without ``fill_value`` any such voxel raises :class:`InputError` naming the file.
    """
    bad = ~np.isfinite(volume.data)
    if not bad.any():
        return volume
    if fill_value is None:
        raise InputError(f"{volume.path}: {int(bad.sum())} NaN or infinite voxels "
                         "(give --fill-value to replace them)")
    data = volume.data.copy()
    data[bad] = fill_value
    return Volume(data, volume.affine, volume.path, volume.header)


def robust_window(
    data: np.ndarray,
    percentiles: tuple[float, float] | None = DEFAULT_WINDOW,
    keep_zero: bool = True,
) -> np.ndarray:
    """Map intensities to [0, 1] with a percentile window.

    ``percentiles = (low, high)`` (0..100) are taken over the non-zero voxels when
    ``keep_zero`` (background, usually over half a volume, would otherwise pull the low end to
    0), and over all voxels otherwise; values at or below the low percentile map to 0, at or
    above the high one to 1, linearly between. With ``keep_zero`` voxels equal to 0 stay exactly
    0, so the fused background stays 0 (SPEC §1); turn it off for data whose zero is tissue,
    such as CT in Hounsfield units. ``percentiles=None`` is the identity and requires values
    already in [0, 1]. Returns float32 of the same shape.
    """
    data = np.asarray(data, dtype=np.float32)
    if not np.isfinite(data).all():  # a NaN percentile would map every voxel to 0, silently
        raise InputError("the volume holds NaN or infinite values; replace them first "
                         "(replace_nonfinite, or --fill-value on the command line)")
    if percentiles is None:
        if data.size and (data.min() < 0.0 or data.max() > 1.0):
            raise InputError("window disabled but values are outside [0, 1] "
                             f"({data.min():.4g} to {data.max():.4g})")
        return data
    low, high = percentiles
    if not 0.0 <= low < high <= 100.0:
        raise ConfigError(f"window percentiles must satisfy 0 <= low < high <= 100, "
                          f"not {low}, {high}")
    foreground = data != 0 if keep_zero else np.ones(data.shape, dtype=bool)
    values = data[foreground]
    if values.size == 0:
        return np.zeros_like(data)
    lo, hi = np.percentile(values, [low, high])
    if hi > lo:
        out = np.clip((data - lo) / (hi - lo), 0.0, 1.0)
    else:  # constant foreground: it is all signal
        out = (data >= hi).astype(np.float32)
    out[~foreground] = 0.0
    return out.astype(np.float32)


def display_slices(vol: np.ndarray, affine: np.ndarray, axis: int) -> list[np.ndarray]:
    """The slices of ``vol`` along voxel ``axis`` as a radiologist views them, in voxel order.

    The volume is first turned to the closest RAS+ orientation of ``affine``, so a DICOM series
    or an LPS-stored NIfTI is shown like a RAS-stored one. Each slice is drawn with its second
    remaining world axis pointing up (anterior or superior) and in the radiological convention
    of DICOM viewers and the Harvard atlas images: the patient's right on the left of the image
    (axial and coronal slices); sagittal slices have anterior on the right. Returns ``(H, W)``
    arrays.
    """
    from nibabel.orientations import apply_orientation, io_orientation

    ornt = io_orientation(affine)  # row per voxel axis: (RAS axis, ±1)
    if np.isnan(ornt).any():  # a zero or repeated axis: no way to tell up from down
        raise InputError(f"the volume's affine has a degenerate axis, so its slices have no "
                         f"orientation:\n{np.array2string(np.asarray(affine)[:3], precision=4)}")
    ras = apply_orientation(vol, ornt)
    world_axis, flipped = int(ornt[axis, 0]), ornt[axis, 1] < 0
    n = vol.shape[axis]
    views = [np.flipud(np.take(ras, n - 1 - k if flipped else k, axis=world_axis).T)
             for k in range(n)]
    # The horizontal axis is R (x) unless slicing along x: radiological, R on the left.
    return views if world_axis == 0 else [np.fliplr(v) for v in views]


def _nifti_image(data: np.ndarray, like: Volume, dtype: str, description: str
                 ) -> nibabel.Nifti1Image | nibabel.Nifti2Image:
    nib = optional_import("nibabel", "medical")

    if like.header is not None:
        src = like.header
        # NIfTI-2 in, NIfTI-2 out: a NIfTI-1 image built on a NIfTI-2 header is malformed.
        image_class = nib.Nifti2Image if isinstance(src, nib.Nifti2Header) else nib.Nifti1Image
        img = image_class(data, like.affine, header=src.copy())
        qform, qcode = src.get_qform(coded=True)
        sform, scode = src.get_sform(coded=True)
        # The constructor rewrites the codes from the affine; put the source's back.
        img.header.set_qform(qform if qform is not None else like.affine, int(qcode))
        img.header.set_sform(sform if sform is not None else like.affine, int(scode))
    else:  # DICOM: scanner-anatomical coordinates in mm
        img = nib.Nifti1Image(data, like.affine)
        img.header.set_qform(like.affine, 1)
        img.header.set_sform(like.affine, 1)
        img.header.set_xyzt_units("mm", "sec")
    img.header.set_data_dtype(np.dtype(dtype))
    img.header["cal_min"], img.header["cal_max"] = 0.0, 1.0
    # The header's 80-byte text field; ASCII, as every reader expects.
    img.header["descrip"] = description.encode("ascii", "replace")[:79]
    return img


def encode_nifti(
    path: str | os.PathLike[str],
    data: np.ndarray,
    like: Volume,
    dtype: str = "float32",
    description: str = "lwnet fusion",
) -> bytes:
    """The bytes of the NIfTI file ``path``: ``data`` (values in [0, 1], shape of ``like``)
    with ``like``'s geometry.

    ``like``'s header is kept (affine, qform/sform and their codes, zooms, units) when it came
    from NIfTI; a DICOM source gets scanner-anatomical codes. ``dtype`` is ``float32`` (values
    stored as is) or ``uint8``/``uint16`` (round(f · max) stored with scl_slope = 1/max, so
    readers still see [0, 1]). ``description`` goes to the header's ``descrip`` field (what
    made the volume; cut to its 79 ASCII characters). ``.nii.gz`` is compressed. Encoded in
    memory, so that the caller writes it beside its other outputs at once.
    """
    path = Path(path)
    if not is_nifti_path(path):
        raise ConfigError(f"{path}: output must end in .nii or .nii.gz")
    if dtype not in OUTPUT_DTYPES:
        raise ConfigError(f"output dtype must be one of {', '.join(OUTPUT_DTYPES)}, not {dtype!r}")
    if data.shape != like.data.shape:
        raise ValueError(f"data shape {data.shape} differs from the reference {like.data.shape}")
    data = np.clip(np.asarray(data, dtype=np.float32), 0.0, 1.0)
    if dtype == "float32":
        img = _nifti_image(data, like, dtype, description)
        img.header.set_slope_inter(1.0, 0.0)
    else:
        top = float(np.iinfo(np.dtype(dtype)).max)
        stored = np.rint(data.astype(np.float64) * top).astype(dtype)
        img = _nifti_image(stored, like, dtype, description)
        img.header.set_slope_inter(1.0 / top, 0.0)
    raw = img.to_bytes()
    return gzip.compress(raw, compresslevel=6) if path.name.lower().endswith(".gz") else raw
