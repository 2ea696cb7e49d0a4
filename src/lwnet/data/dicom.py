"""Reading a DICOM series folder as one 3-D volume with its NIfTI-style affine.

Slices are ordered by their ImagePositionPatient projected on the slice normal (the cross
product of the two ImageOrientationPatient direction cosines), never by file name or
InstanceNumber, which are not reliable. Stored values are mapped to physical units with
RescaleSlope and RescaleIntercept (DICOM PS3.3 C.11.1.1.2).

The returned array is indexed ``(column, row, slice)`` and the affine maps those voxel indices
to RAS+ millimetres, the convention of NIfTI (DICOM's patient frame is LPS+, so x and y flip).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lwnet._optional import optional_import
from lwnet._text import counted
from lwnet.errors import InputError

if TYPE_CHECKING:  # an optional dependency (the `medical` extra)
    import pydicom

# Positions closer than this along the normal (mm) count as the same slice.
_POSITION_EPS = 1e-4
# Relative spread of slice gaps tolerated before the series is called irregular.
_GAP_RTOL = 1e-2

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _image_datasets(files: list[Path], pixels: bool = True) -> Iterator[pydicom.Dataset]:
    """The DICOM images among ``files`` (``Rows`` and, when ``pixels``, ``PixelData``), each
    with its ``filename``; anything else (a README, a DICOMDIR index, a presentation state) is
    skipped. ``pixels=False`` reads headers only.

    Raises :class:`InputError` naming a DICOM file cut short: pydicom reads such a file up to
    where it ends without a word, and skipping it would drop a slice from the patient's volume.
    """
    pydicom = optional_import("pydicom", "medical")
    errors = optional_import("pydicom.errors", "medical")
    # What pydicom raises for a file cut inside an element (by where it is cut)
    broken = (EOFError, OSError, ValueError, struct.error, errors.BytesLengthException)

    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=not pixels)
        except errors.InvalidDicomError:  # no DICOM file, unless the start of one (or empty)
            if _preamble_only(path):
                raise InputError(f"{path}: empty, or a DICOM file cut short before its "
                                 "header") from None
            continue
        except broken as exc:
            raise InputError(f"{path}: cannot read this DICOM file, cut short or damaged "
                             f"({type(exc).__name__}: {exc})") from None
        if "TransferSyntaxUID" not in ds.file_meta:  # every DICOM file's header states it
            raise InputError(f"{path}: DICOM file cut short (its header ends before the "
                             "transfer syntax)")
        if "Rows" in ds and (not pixels or "PixelData" in ds):
            ds.filename = str(path)
            yield ds
        elif "Image Storage" in pydicom.uid.UID(ds.file_meta.get("MediaStorageSOPClassUID",
                                                                 "")).name:
            missing = "PixelData" if "Rows" in ds else "Rows"
            raise InputError(f"{path}: DICOM image without {missing}; is the file cut short?")


def _preamble_only(path: Path) -> bool:
    """Whether ``path`` holds no more than the start of a DICOM file: at most the 128-byte
    preamble (zeros, as DICOM writers leave it) and part of its ``DICM`` prefix."""
    if path.stat().st_size > 132:
        return False
    head = path.read_bytes()
    return not head[:128].strip(b"\0") and b"DICM".startswith(head[128:])


def _files(path: Path) -> list[Path]:
    """A DICOM file itself, or the files of a series folder in name order (hidden files such as
    ``.DS_Store`` or ``.gitkeep`` left out)."""
    return [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def series_modality(path: str | os.PathLike[str]) -> str:
    """The Modality (``CT``, ``PT``, ``NM``, ``MR`` …) of a DICOM file, or of the first DICOM
    image of a series folder; ``""`` where there is none."""
    first = next(_image_datasets(_files(Path(path)), pixels=False), None)
    return "" if first is None else str(first.get("Modality", ""))


def _required(ds: pydicom.Dataset, keyword: str) -> list[float]:
    value = ds.get(keyword)
    if value is None:
        raise InputError(f"{ds.filename}: DICOM slice has no {keyword}")
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        value = [value]
    return [float(v) for v in value]


def _series_by_uid(slices: list[pydicom.Dataset]) -> dict[str, list[pydicom.Dataset]]:
    """The slices grouped by SeriesInstanceUID (missing: ``""``), in SeriesNumber order (those
    without one last), then UID order."""
    groups: dict[str, list[pydicom.Dataset]] = {}
    for ds in slices:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)

    def order(item: tuple[str, list[pydicom.Dataset]]) -> tuple[bool, int, str]:
        number = item[1][0].get("SeriesNumber")
        return number in (None, ""), int(number or 0), item[0]

    return dict(sorted(groups.items(), key=order))


def _describe_series(uid: str, members: list[pydicom.Dataset]) -> str:
    """What a reader needs to tell series apart, e.g. ``series 3 MR 'T1 axial': 24 slices
    (IM001, UID 1.2.3)``."""
    first = members[0]
    number, modality = first.get("SeriesNumber"), first.get("Modality")
    description = first.get("SeriesDescription")
    label = " ".join([f"series {number}" if number not in (None, "") else "series",
                      *([str(modality)] if modality else []),
                      *([repr(str(description))] if description else [])])
    return (f"{label}: {counted(len(members), 'slice')} ({Path(first.filename).name}, "
            f"UID {uid or 'none'})")


def read_dicom_series(folder: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read the single-frame DICOM series in ``folder``, or one DICOM slice file.

    Returns ``(data, affine)``: float32 ``(columns, rows, slices)`` in physical units (rescale
    applied) and the 4×4 voxel-to-RAS+ affine in mm. Raises :class:`InputError` naming the
    folder or file when it holds no DICOM images, several series, slices of different
    size or orientation, duplicate or irregularly spaced positions, or multi-frame objects.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"{folder}: no such file or folder")
    slices = list(_image_datasets(_files(folder)))
    if not slices:
        raise InputError(f"{folder}: holds no DICOM image" + ("" if folder.is_file() else
                                                                " files"))
    series = _series_by_uid(slices)
    if len(series) > 1:
        raise InputError(f"{folder}: holds {len(series)} DICOM series: "
                         + "; ".join(_describe_series(uid, members)
                                     for uid, members in series.items())
                         + "; give one series per folder")
    first = slices[0]
    orientation = np.array(_required(first, "ImageOrientationPatient"))
    if orientation.size != 6:
        raise InputError(f"{first.filename}: ImageOrientationPatient must hold 6 values")
    row_cos, col_cos = orientation[:3], orientation[3:]
    normal = np.cross(row_cos, col_cos)
    size = (int(first.Rows), int(first.Columns))
    for ds in slices:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise InputError(f"{ds.filename}: multi-frame DICOM is not supported")
        if (int(ds.Rows), int(ds.Columns)) != size:
            raise InputError(f"{ds.filename}: slice is {ds.Columns}x{ds.Rows}, the series' "
                             f"first slice {first.filename} is {size[1]}x{size[0]}")
        if not np.allclose(_required(ds, "ImageOrientationPatient"), orientation, atol=1e-4):
            raise InputError(f"{ds.filename}: ImageOrientationPatient differs from "
                             f"{first.filename}")
    positions = np.array([_required(ds, "ImagePositionPatient") for ds in slices])
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    slices = [slices[i] for i in order]
    positions, along = positions[order], along[order]
    gaps = np.diff(along)
    if gaps.size and gaps.min() < _POSITION_EPS:
        i = int(np.argmin(gaps))
        raise InputError(f"{folder}: slices {slices[i].filename} and {slices[i + 1].filename} "
                         "share one position")
    if gaps.size and gaps.max() - gaps.min() > _GAP_RTOL * gaps.mean():
        raise InputError(f"{folder}: irregular slice spacing ({gaps.min():.4g} to "
                         f"{gaps.max():.4g} mm); missing slices?")

    row_spacing, col_spacing = _required(first, "PixelSpacing")[:2]
    if len(slices) > 1:
        step = (positions[-1] - positions[0]) / (len(slices) - 1)
    else:
        # A lone slice has no neighbour to measure the gap to: its stated spacing or
        # thickness, else 1 mm (a zero axis would leave the affine without an orientation).
        stated = [first.get(k) for k in ("SpacingBetweenSlices", "SliceThickness")]
        thickness = next((float(v) for v in stated if v not in (None, "") and float(v) > 0), 1.0)
        step = normal * thickness
    lps = np.eye(4)
    # Column index i moves along the row direction by the column spacing, and vice versa.
    lps[:3, 0] = row_cos * col_spacing
    lps[:3, 1] = col_cos * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = positions[0]

    data = np.empty((size[1], size[0], len(slices)), dtype=np.float32)
    for k, ds in enumerate(slices):
        try:
            pixels = ds.pixel_array
        except Exception as exc:  # pydicom raises many kinds for bad or unsupported pixel data
            raise InputError(f"{ds.filename}: cannot decode pixel data ({exc})") from None
        if pixels.ndim != 2:
            raise InputError(f"{ds.filename}: expected a greyscale slice, got shape "
                             f"{pixels.shape}")
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
        data[:, :, k] = (pixels.astype(np.float64) * slope + intercept).T
    return data, _LPS_TO_RAS @ lps
