"""Slice-by-slice fusion of registered 3-D volumes (NIfTI files or DICOM series).

:func:`fuse_slices` is the pure array operation; :func:`fuse_volume_files` reads, checks,
windows, fuses and writes, and can render the fused slices in the functional image's colour
map for viewing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lwnet._files import (
    atomic_write_bytes,
    check_writable,
    refuse_existing,
    refuse_inputs_as_outputs,
    removed_on_failure,
)
from lwnet.data.colour import merge_luma, split_luma
from lwnet.data.io import MIN_SIDE, encode_image, is_dicom_file, unit_float
from lwnet.data.volumes import (
    DEFAULT_WINDOW,
    Volume,
    check_same_geometry,
    display_slices,
    encode_nifti,
    read_volume,
    replace_nonfinite,
    robust_window,
)
from lwnet.errors import ConfigError, InputError, OutputExistsError, require_counts
from lwnet.inference.dataset import output_text
from lwnet.inference.streaming import BatchFuser

if TYPE_CHECKING:  # matplotlib is imported only when a colour view is asked for
    from matplotlib.colors import Colormap


def fuse_slices(
    a: np.ndarray, b: np.ndarray, fuse_batch: BatchFuser, axis: int = 2, batch_size: int = 8,
    affine: np.ndarray | None = None,
) -> np.ndarray:
    """Fuse two volumes in [0, 1] slice by slice along ``axis``.

    ``a``, ``b``: float ``(I, J, K)`` of equal shape; ``fuse_batch`` fuses ``(N, H, W)`` stacks
    of slices. With the volumes' voxel-to-world ``affine``, each slice is fused as a radiologist
    views it (:func:`display_slices`), the orientation of the 2-D training images, and put back
    in voxel order: a network is not invariant to flips and transposes, so without it the
    result would depend on how the voxels happen to be stored (RAS, LPS, transposed). Without
    ``affine``, slices are fused in voxel order. Returns float32 of the same shape in [0, 1].
    """
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"expected two 3-D volumes of one shape, got {a.shape} and {b.shape}")
    for volume, name in ((a, "MRI volume"), (b, "functional volume")):
        if volume.dtype.kind != "f":
            raise InputError(f"{name}: {volume.dtype} voxels; window the volumes to floats in "
                             "[0, 1] first (lwnet.data.volumes.robust_window)")
        unit_float(volume, name)
    if axis not in (0, 1, 2):
        raise ConfigError(f"slice axis must be 0, 1 or 2, not {axis}")
    require_counts(batch_size=batch_size)
    sa, sb = np.moveaxis(a, axis, 0), np.moveaxis(b, axis, 0)
    if min(sa.shape[1:]) < MIN_SIDE:
        raise InputError(f"slices along axis {axis} are {sa.shape[1]}x{sa.shape[2]}, smaller "
                         f"than the {MIN_SIDE}x{MIN_SIDE} minimum; choose another --axis")
    n, rows, cols = sa.shape
    # view[k] = slice k (flattened) taken at these positions: a transpose and flips, exactly.
    order = (np.arange(rows * cols).reshape(rows, cols) if affine is None else
             display_slices(np.arange(rows * cols).reshape(np.insert((rows, cols), axis, 1)),
                            affine, axis)[0])
    flat = order.ravel()
    out = np.empty((n, rows * cols), dtype=np.float32)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        views = [np.ascontiguousarray(s[start:stop].reshape(stop - start, -1)[:, flat]
                                      .reshape(-1, *order.shape), dtype=np.float32)
                 for s in (sa, sb)]
        fused = fuse_batch(*views)
        out[start:stop, flat] = np.clip(fused, 0.0, 1.0).reshape(stop - start, -1)
    return np.moveaxis(out.reshape(n, rows, cols), 0, axis)


def volume_modality(functional_path: str | os.PathLike[str]) -> str:
    """The DICOM Modality of a functional volume given as a DICOM series or file (``CT``,
    ``PT``, ``NM`` …); ``""`` for NIfTI, which does not say what it holds."""
    path = Path(functional_path)
    if not (path.is_dir() or is_dicom_file(path)):
        return ""
    from lwnet.data.dicom import series_modality

    return series_modality(path)


def pair_type_for_modality(modality: str) -> str:
    """The shipped model for a functional volume of ``modality`` (:func:`volume_modality`):
    CT-MRI for CT, else SPECT-MRI (which also serves PET)."""
    return "CT-MRI" if modality.upper() == "CT" else "SPECT-MRI"


def default_cmap(pair_type: str) -> str:
    """The colour map of a fused volume's slices: ``gray`` for CT (greyscale), ``hot`` for
    SPECT and PET."""
    return "gray" if pair_type.upper().startswith("CT") else "hot"


def _colour_map(name: str) -> Colormap:
    import matplotlib

    try:
        return matplotlib.colormaps[name]
    except KeyError:
        raise ConfigError(f"unknown matplotlib colour map {name!r}") from None


def colourise_slice(fused: np.ndarray, functional: np.ndarray, cmap: str = "hot") -> np.ndarray:
    """RGB view of one fused slice in the functional image's colour map (SPEC §1 blending).

    ``functional`` (H, W) in [0, 1] is rendered through the matplotlib colour map ``cmap``;
    that RGB image's chroma is merged with the fused luminance ``fused`` (H, W). Where the
    functional slice is 0 (no signal) the chroma is neutral, so the background stays black even
    for colour maps whose low end is not. Returns float32 ``(H, W, 3)`` in [0, 1].
    """
    rgb = _colour_map(cmap)(np.clip(functional, 0.0, 1.0))[..., :3].astype(np.float32)
    _, chroma = split_luma(rgb)
    assert chroma is not None  # an RGB image has chroma
    chroma[functional == 0] = 0.5
    return merge_luma(fused, chroma)


def colour_slices(
    fused: np.ndarray, functional: np.ndarray, affine: np.ndarray, axis: int = 2,
    cmap: str = "hot", text: Mapping[str, str] | None = None,
) -> list[bytes]:
    """One PNG file's bytes per voxel slice along ``axis``, oriented by ``affine``
    (:func:`display_slices`) and coloured by :func:`colourise_slice`, each carrying ``text``
    (:func:`lwnet.data.io.encode_image`)."""
    return [encode_image(colourise_slice(f, b, cmap), "slice.png", text=text)
            for f, b in zip(display_slices(fused, affine, axis),
                            display_slices(functional, affine, axis))]


def _write_slices(folder: Path, pngs: list[bytes], overwrite: bool) -> None:
    """``slice_NNNN.png`` files in ``folder``; with ``overwrite``, those of an earlier, longer
    volume are removed, so the folder holds one volume only."""
    paths = [atomic_write_bytes(folder / f"slice_{k:04d}.png", png, overwrite)
             for k, png in enumerate(pngs)]
    for stale in set(folder.glob("slice_*.png")) - set(paths):
        stale.unlink()


@dataclass(frozen=True)
class VolumeOptions:
    """How volumes are prepared and written (defaults are the CLI's)."""

    window: tuple[float, float] | None = DEFAULT_WINDOW
    keep_zero: bool = True
    fill_value: float | None = None
    axis: int = 2
    batch_size: int = 8
    affine_tol: float = 1e-3
    dtype: str = "float32"


def prepare_pair(mri: Volume, functional: Volume, options: VolumeOptions) -> tuple[np.ndarray,
                                                                                    np.ndarray]:
    """Check geometry and finiteness, then window both volumes to [0, 1]."""
    check_same_geometry(mri, functional, options.affine_tol)
    for volume in (mri, functional):
        if not np.any(volume.data):
            raise InputError(f"{volume.path}: every voxel is 0; there is nothing to fuse")
    mri = replace_nonfinite(mri, options.fill_value)
    functional = replace_nonfinite(functional, options.fill_value)
    try:
        a = robust_window(mri.data, options.window, options.keep_zero)
    except InputError as exc:
        raise InputError(f"{mri.path}: {exc}") from None
    try:
        b = robust_window(functional.data, options.window, options.keep_zero)
    except InputError as exc:
        raise InputError(f"{functional.path}: {exc}") from None
    return a, b


def fuse_volume_files(
    mri_path: str | os.PathLike[str],
    functional_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    fuse_batch: BatchFuser | None = None,
    options: VolumeOptions = VolumeOptions(),
    colour_dir: str | os.PathLike[str] | None = None,
    cmap: str | None = None,
    overwrite: bool = False,
    source: str = "",
) -> np.ndarray:
    """Fuse a registered MRI volume with a functional/anatomical one and write NIfTI.

    Inputs are NIfTI files, DICOM series folders or DICOM files. ``fuse_batch`` fuses stacks of
    slices (:mod:`lwnet.inference.streaming`); by default the shipped model that
    :func:`pair_type_for_modality` picks for the functional input. The output keeps the MRI's
    geometry and header. With ``colour_dir``, the fused slices are also written there as colour
    PNGs in ``cmap`` (default :func:`default_cmap` of the pair type
    :func:`pair_type_for_modality` picks).
    ``source`` names what fused (a method, a weights file and its digest; the shipped model's
    file by default): recorded in the NIfTI header's description and in every PNG
    (:func:`lwnet.inference.dataset.output_text`).
    Every output is checked before any work (that it does not exist, that its folder is
    writable) and encoded in memory before the first is written; a failure or interrupt while
    writing removes the files this call made (files it replaced, with ``overwrite``, are not
    brought back), so nothing is half written.
    Returns the fused float32 volume.
    """
    out_path = Path(out_path)
    refuse_inputs_as_outputs([out_path, *([colour_dir] if colour_dir else [])],
                             [mri_path, functional_path])
    refuse_existing([out_path], overwrite)
    if cmap is None or fuse_batch is None:
        pair_type = pair_type_for_modality(volume_modality(functional_path))
        cmap = cmap or default_cmap(pair_type)
    if colour_dir is not None:
        colour_dir = Path(colour_dir)
        if colour_dir.exists() and not colour_dir.is_dir():
            raise InputError(f"{colour_dir}: is a file; --colour-dir names a folder")
        if not overwrite and colour_dir.is_dir() and any(colour_dir.iterdir()):
            raise OutputExistsError(f"{colour_dir}: folder is not empty (use --overwrite, or "
                                    "overwrite=True from Python)")
        _colour_map(cmap)
    check_writable([out_path.parent, *([colour_dir] if colour_dir is not None else [])])
    if fuse_batch is None:
        from lwnet.inference.api import network_fuser
        from lwnet.methods.registry import NETWORK

        fuse_batch, record = network_fuser(pair_type=pair_type)
        source = source or f"{NETWORK} {record}"
    mri, functional = read_volume(mri_path), read_volume(functional_path)
    a, b = prepare_pair(mri, functional, options)
    fused = fuse_slices(a, b, fuse_batch, options.axis, options.batch_size, mri.affine)
    text = output_text(source, "multimodal medical image fusion: a slice of the fused volume, "
                               f"colour map {cmap}")
    # Every file encoded first, then all written at once: a fault or an interrupt while
    # encoding leaves nothing, and one during the writes takes back the new files.
    nifti = encode_nifti(out_path, fused, mri, options.dtype,
                         description=f"{text['Software']} fusion {source}".strip())
    pngs = (colour_slices(fused, b, mri.affine, options.axis, cmap, text)
            if colour_dir is not None else [])
    with removed_on_failure([out_path, *([colour_dir] if colour_dir is not None else [])]):
        atomic_write_bytes(out_path, nifti, overwrite)
        if colour_dir is not None:
            _write_slices(colour_dir, pngs, overwrite)
    return fused
