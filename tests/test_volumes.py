"""Volumes: NIfTI/DICOM reading, geometry and header preservation, windowing, slice fusion."""

from __future__ import annotations

import hashlib
import random
import re
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import lwnet
from lwnet.data.colour import fuse_in_luma, luma8, split_luma
from lwnet.data.datasets import harvard_pairs
from lwnet.data.dicom import read_dicom_series
from lwnet.data.io import read_image, to_uint8
from lwnet.data.volumes import check_same_geometry, display_slices, read_volume, robust_window
from lwnet.errors import ConfigError, InputError, OutputExistsError
from lwnet.inference.streaming import module_fuser, pairwise_fuser
from lwnet.inference.volume import (
    VolumeOptions,
    fuse_slices,
    fuse_volume_files,
)
from lwnet.model import LWNet

MEAN = pairwise_fuser(lambda a, b: (a + b) / 2)

# Oblique, anisotropic voxel → world map (rotation about z by 10°, zooms 1.2 × 0.9 × 3 mm).
_C, _S = np.cos(np.radians(10)), np.sin(np.radians(10))
AFFINE = np.array([[1.2 * _C, -0.9 * _S, 0.0, -20.0],
                   [1.2 * _S, 0.9 * _C, 0.0, 15.5],
                   [0.0, 0.0, 3.0, -40.0],
                   [0.0, 0.0, 0.0, 1.0]])


def _phantom(shape=(24, 20, 5), seed=0, scale=1000.0) -> np.ndarray:
    """Ellipsoid of random positive intensities on a zero background."""
    rng = np.random.default_rng(seed)
    i, j, k = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    inside = (i / 0.8) ** 2 + (j / 0.8) ** 2 + (k / 1.5) ** 2 < 1
    return (inside * (0.2 + rng.random(shape)) * scale).astype(np.float32)


def _save_nifti(path: Path, data: np.ndarray, affine=AFFINE) -> Path:
    img = nib.Nifti1Image(data, affine)
    img.header.set_qform(affine, 1)
    img.header.set_sform(affine, 2)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, path)
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return (_save_nifti(tmp_path / "mri.nii.gz", _phantom(seed=1)),
            _save_nifti(tmp_path / "spect.nii", _phantom(seed=2, scale=7.0)))


def test_fused_nifti_keeps_mri_geometry_and_header(pair, tmp_path):
    out = tmp_path / "out" / "fused.nii.gz"
    fused = fuse_volume_files(*pair, out, MEAN)
    img = nib.load(out)
    src = nib.load(pair[0])
    assert img.shape == src.shape == fused.shape
    np.testing.assert_allclose(img.affine, AFFINE, atol=1e-6)
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 2
    np.testing.assert_allclose(img.header.get_qform(), src.header.get_qform(), atol=1e-6)
    np.testing.assert_allclose(img.header.get_zooms(), src.header.get_zooms(), atol=1e-6)
    assert img.header.get_xyzt_units() == ("mm", "sec")
    assert img.get_data_dtype() == np.float32
    data = img.get_fdata()
    # Independent expectation: per-volume percentile window by hand, then the mean.
    expected = []
    for path in pair:
        raw = nib.load(path).get_fdata()
        lo, hi = np.percentile(raw[raw != 0], [0.5, 99.5])
        expected.append(np.where(raw == 0, 0, np.clip((raw - lo) / (hi - lo), 0, 1)))
    np.testing.assert_allclose(data, (expected[0] + expected[1]) / 2, atol=1e-6)
    background = (nib.load(pair[0]).get_fdata() == 0) & (nib.load(pair[1]).get_fdata() == 0)
    assert background.any() and (data[background] == 0).all()


def test_nifti2_mri_gives_nifti2_output(tmp_path):
    mri = nib.Nifti2Image(_phantom(seed=1), AFFINE)
    nib.save(mri, tmp_path / "mri2.nii")
    spect = _save_nifti(tmp_path / "spect.nii", _phantom(seed=2, scale=7.0))
    fuse_volume_files(tmp_path / "mri2.nii", spect, tmp_path / "f.nii", MEAN)
    out = nib.load(tmp_path / "f.nii")
    assert isinstance(out, nib.Nifti2Image) and int(out.header["sizeof_hdr"]) == 540
    np.testing.assert_allclose(out.affine, AFFINE, atol=1e-5)


def test_integer_output_is_scaled_to_unit_range(pair, tmp_path):
    out = tmp_path / "fused.nii"
    fused = fuse_volume_files(*pair, out, MEAN, VolumeOptions(dtype="uint8"))
    img = nib.load(out)
    assert img.get_data_dtype() == np.uint8
    assert img.dataobj.slope == pytest.approx(1 / 255)
    np.testing.assert_allclose(img.get_fdata(), fused, atol=0.5 / 255 + 1e-6)


def test_existing_output_is_kept(pair, tmp_path):
    out = tmp_path / "fused.nii"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="fused.nii"):
        fuse_volume_files(*pair, out, MEAN)
    assert out.read_bytes() == b"keep me"
    fuse_volume_files(*pair, out, MEAN, overwrite=True)
    assert nib.load(out).shape == (24, 20, 5)


def test_geometry_mismatch_names_both(tmp_path):
    a = _save_nifti(tmp_path / "a.nii", _phantom())
    shifted = AFFINE.copy()
    shifted[0, 3] += 0.5
    b = _save_nifti(tmp_path / "b.nii", _phantom(seed=3), shifted)
    with pytest.raises(InputError, match="geometry mismatch") as err:
        fuse_volume_files(a, b, tmp_path / "f.nii", MEAN)
    assert "a.nii" in str(err.value) and "b.nii" in str(err.value)
    assert "-20" in str(err.value) and "-19.5" in str(err.value)
    # Within the tolerance the pair is accepted.
    check_same_geometry(read_volume(a), read_volume(b), atol=0.6)
    c = _save_nifti(tmp_path / "c.nii", _phantom(shape=(24, 20, 6)))
    with pytest.raises(InputError, match=r"a.nii is \(24, 20, 5\).*c.nii is \(24, 20, 6\)"):
        fuse_volume_files(a, c, tmp_path / "f.nii", MEAN)
    assert not (tmp_path / "f.nii").exists()


def test_nonfinite_voxels(tmp_path):
    data = _phantom()
    data[3, 4, 2] = np.nan
    data[5, 5, 1] = np.inf
    a = _save_nifti(tmp_path / "bad.nii", data)
    b = _save_nifti(tmp_path / "b.nii", _phantom(seed=4))
    with pytest.raises(InputError, match=r"bad.nii: 2 NaN or infinite voxels"):
        fuse_volume_files(a, b, tmp_path / "f.nii", MEAN)
    assert not (tmp_path / "f.nii").exists()
    fused = fuse_volume_files(a, b, tmp_path / "f.nii", MEAN, VolumeOptions(fill_value=0.0))
    assert np.isfinite(fused).all()


def test_an_input_volume_is_never_an_output(pair, tmp_path):
    before = Path(pair[0]).read_bytes()
    with pytest.raises(InputError, match="is an input; name another output"):
        fuse_volume_files(*pair, pair[0], MEAN, overwrite=True)
    assert Path(pair[0]).read_bytes() == before


def test_empty_and_colour_volumes_are_named(tmp_path):
    b = _save_nifti(tmp_path / "b.nii", _phantom(seed=4))
    empty = _save_nifti(tmp_path / "empty.nii", np.zeros((24, 20, 5), np.float32))
    with pytest.raises(InputError, match="empty.nii: every voxel is 0"):
        fuse_volume_files(empty, b, tmp_path / "f.nii", MEAN)
    rgb = np.zeros((24, 20, 5), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(rgb, AFFINE), tmp_path / "rgb.nii")
    with pytest.raises(InputError, match=r"rgb.nii: a colour \(RGB\) NIfTI volume"):
        fuse_volume_files(b, tmp_path / "rgb.nii", tmp_path / "f.nii", MEAN)
    # ... and so is a fourth axis: three colour channels or time frames of a dynamic PET.
    for frames in (3, 12):
        four_d = _save_nifti(tmp_path / "4d.nii", np.zeros((24, 20, 5, frames), np.float32))
        with pytest.raises(InputError, match=rf"4d.nii: a 4-D volume .*: {frames} frames"):
            fuse_volume_files(b, four_d, tmp_path / "f.nii", MEAN)
    assert not (tmp_path / "f.nii").exists()


def test_robust_window():
    rng = np.random.default_rng(5)
    data = np.zeros((10, 10, 10), np.float32)
    data[2:8, 2:8, 2:8] = rng.normal(100, 20, (6, 6, 6))
    out = robust_window(data, (1, 99))
    lo, hi = np.percentile(data[data != 0], [1, 99])
    inside = data[2:8, 2:8, 2:8]
    np.testing.assert_allclose(out[2:8, 2:8, 2:8], np.clip((inside - lo) / (hi - lo), 0, 1),
                               atol=1e-6)
    assert out[0].max() == 0 and out.max() == 1
    # Hounsfield-like data: without keep_zero, 0 is ordinary tissue.
    hu = np.full((4, 4, 4), -1000, np.float32)
    hu[1:3, 1:3, 1:3] = 0
    hu[1, 1, 1] = 1000
    assert robust_window(hu, (0, 100), keep_zero=False)[2, 2, 2] == pytest.approx(0.5)
    assert robust_window(hu, (0, 100))[2, 2, 2] == 0
    np.testing.assert_array_equal(robust_window(out, None), out)
    with pytest.raises(InputError, match="outside"):
        robust_window(data, None)
    with pytest.raises(ConfigError):
        robust_window(data, (50, 10))
    data[5, 5, 5] = np.nan  # one NaN once made every percentile NaN and the volume all 0
    with pytest.raises(InputError, match="NaN or infinite values; replace them first"):
        robust_window(data)


def test_slice_axis_and_batches():
    rng = np.random.default_rng(6)
    a, b = rng.random((20, 18, 17), dtype=np.float32), rng.random((20, 18, 17), dtype=np.float32)
    seen = []

    def first(x, y):
        seen.append(x.shape)
        return x

    np.testing.assert_array_equal(fuse_slices(a, b, first, axis=1, batch_size=10), a)
    assert seen == [(10, 20, 17), (8, 20, 17)]
    np.testing.assert_allclose(fuse_slices(a, b, MEAN, axis=0), (a + b) / 2, atol=1e-7)
    with pytest.raises(InputError, match="axis 0 are 18x5"):
        fuse_slices(a[..., :5], b[..., :5], first, axis=0)
    # Raw scanner values are not fused as if they were [0, 1]: window them first.
    with pytest.raises(InputError, match="MRI volume: int16 voxels; window the volumes"):
        fuse_slices((a * 1000).astype(np.int16), b, first)
    with pytest.raises(InputError, match="functional volume: float values from .* to 6.99"):
        fuse_slices(a, b * 7, first)
def test_sample_stack_matches_slicewise_fusion(sample, tmp_path):
    torch.manual_seed(0)
    fuser = module_fuser(LWNet(width=2))
    (p,) = harvard_pairs(sample, "SPECT-MRI")
    mri, spect = read_image(p.a), read_image(p.b)
    _, fused_2d = fuse_in_luma(lambda a, b: fuser(a[None], b[None])[0], mri, spect)
    y, _ = split_luma(spect)
    # Three identical slices along the last axis, stored so that each slice, viewed as a
    # radiologist would (AFFINE is near RAS: x to the left of the image, y up), is the image.
    stack = lambda img: np.repeat(img[::-1, ::-1].T[..., None], 3, axis=2)
    a_path = _save_nifti(tmp_path / "mri.nii", stack(mri))
    b_path = _save_nifti(tmp_path / "spect.nii", stack(y))
    fused = fuse_volume_files(a_path, b_path, tmp_path / "f.nii", fuser,
                              VolumeOptions(window=None, batch_size=2))
    for k in range(3):
        view = fused[..., k].T[::-1, ::-1]
        assert np.abs(to_uint8(view).astype(int) - to_uint8(fused_2d)).max() <= 1
        np.testing.assert_allclose(view, fused_2d, atol=1e-5)


def test_slices_are_fused_as_viewed_whatever_the_storage_order():
    # A fuser that is not flip- or transpose-invariant: it paints each slice's own column index.
    def columns(a, b):
        return np.broadcast_to(np.arange(a.shape[2]) / a.shape[2], a.shape).astype(np.float32)

    rng = np.random.default_rng(11)
    a, b = rng.random((2, 24, 20, 5), dtype=np.float32)
    ras = np.diag([1.5, 1.5, 3.0, 1.0])
    lps = ras @ np.array([[-1, 0, 0, 23], [0, -1, 0, 19], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    swap = ras[:, [1, 0, 2, 3]]  # voxel axes i and j exchanged
    fused_ras = fuse_slices(a, b, columns, affine=ras, batch_size=2)
    fused_lps = fuse_slices(a[::-1, ::-1], b[::-1, ::-1], columns, affine=lps)
    fused_swap = fuse_slices(a.transpose(1, 0, 2), b.transpose(1, 0, 2), columns, affine=swap)
    # The same anatomy comes out, voxel for voxel in world space, however it was stored.
    np.testing.assert_array_equal(fused_lps[::-1, ::-1], fused_ras)
    np.testing.assert_array_equal(fused_swap.transpose(1, 0, 2), fused_ras)
    # Each fused slice, viewed, is the fuser's output: the fuser saw the radiological view.
    for view in display_slices(fused_ras, ras, 2):
        np.testing.assert_array_equal(view, columns(view[None], view[None])[0])
    # Without an affine, slices go in voxel order; the check above could fail.
    assert not np.array_equal(fuse_slices(a, b, columns), fused_ras)


def test_colour_slices(pair, tmp_path):
    fused = fuse_volume_files(*pair, tmp_path / "f.nii", MEAN, colour_dir=tmp_path / "png",
                              cmap="viridis")
    pngs = sorted((tmp_path / "png").glob("slice_*.png"))
    assert len(pngs) == fused.shape[2]
    rgb = read_image(pngs[2])
    assert rgb.shape == (fused.shape[1], fused.shape[0], 3)
    view = np.fliplr(np.flipud(fused[..., 2].T))  # anterior up, the patient's right on the left
    assert (rgb[view == 0] == 0).all()  # background black despite viridis(0) being purple
    with pytest.raises(ConfigError, match="nosuchmap"):
        fuse_volume_files(*pair, tmp_path / "g.nii", MEAN, colour_dir=tmp_path / "p2",
                          cmap="nosuchmap")
    assert not (tmp_path / "g.nii").exists()
    assert luma8(rgb).max() > 0
    from PIL import Image

    assert Image.open(pngs[2]).text["Description"].endswith("colour map viridis")
    # A colour folder that is a file is refused before any work, with --overwrite too.
    (tmp_path / "x.png").write_bytes(b"")
    for overwrite in (False, True):
        with pytest.raises(InputError, match="x.png: is a file"):
            fuse_volume_files(*pair, tmp_path / "h.nii", MEAN, colour_dir=tmp_path / "x.png",
                              overwrite=overwrite)
        assert not (tmp_path / "h.nii").exists()
    # Replaced by a volume of fewer slices: the folder holds that volume only.
    short = [_save_nifti(tmp_path / f"s{i}.nii", _phantom(shape=(24, 20, 3), seed=i + 1))
             for i in range(2)]
    fuse_volume_files(*short, tmp_path / "f.nii", MEAN, colour_dir=tmp_path / "png",
                      overwrite=True)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "slice_0000.png", "slice_0001.png", "slice_0002.png"]


def test_outputs_are_written_all_or_none(pair, tmp_path, monkeypatch, unwritable):
    import lwnet.inference.volume as volume_module

    out = tmp_path / "out"
    (out / "ro").mkdir(parents=True)
    # A colour folder where nothing can be written is refused before the fusing, not after
    # the NIfTI.
    unwritable("ro")
    with pytest.raises(InputError, match=r"ro: cannot write here \(Permission denied\)"):
        fuse_volume_files(*pair, out / "f.nii", MEAN, colour_dir=out / "ro" / "png")
    assert sorted(p.name for p in out.iterdir()) == ["ro"]
    # Interrupted while writing the slices: the NIfTI and the slices written go too, and in
    # a folder that held files of its own, only this run's files go.
    write, calls = volume_module.atomic_write_bytes, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the NIfTI and one slice are written
            raise KeyboardInterrupt
        return write(*args, **kwargs)

    monkeypatch.setattr(volume_module, "atomic_write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fuse_volume_files(*pair, out / "f.nii", MEAN, colour_dir=out / "png")
    assert sorted(p.name for p in out.iterdir()) == ["ro"]
    (out / "png").mkdir()
    (out / "png" / "notes.txt").write_text("mine")
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        fuse_volume_files(*pair, out / "f.nii", MEAN, colour_dir=out / "png", overwrite=True)
    assert [p.name for p in (out / "png").iterdir()] == ["notes.txt"]
    assert not (out / "f.nii").exists() and len(calls) == 3


def test_colour_slices_follow_the_affine_not_the_storage_order(tmp_path):
    # One anatomy stored two ways: RAS+ voxel order, and LPS order (as DICOM series are read)
    # with the matching affine. The PNGs must show it the same way up.
    ras_affine = np.diag([1.5, 1.5, 3.0, 1.0])
    lps_affine = ras_affine @ np.array([[-1, 0, 0, 23], [0, -1, 0, 19], [0, 0, 1, 0],
                                        [0, 0, 0, 1.0]])
    np.testing.assert_allclose(lps_affine @ [23, 19, 0, 1], ras_affine @ [0, 0, 0, 1])
    vols = [_phantom(shape=(24, 20, 5), seed=s) for s in (3, 4)]
    vols[0][:6, :4] = 0  # make the anatomy asymmetric
    vols[1][:] = 0
    vols[1][20:23, 14:17] = 5.0  # a hot spot on the patient's right (+x), anterior (+y)
    for name, affine, flip in (("ras", ras_affine, False), ("lps", lps_affine, True)):
        paths = [_save_nifti(tmp_path / f"{name}{i}.nii", v[::-1, ::-1] if flip else v, affine)
                 for i, v in enumerate(vols)]
        fuse_volume_files(*paths, tmp_path / f"{name}.nii", MEAN, colour_dir=tmp_path / name)
    for k in range(5):
        ras, lps = (read_image(tmp_path / d / f"slice_{k:04d}.png") for d in ("ras", "lps"))
        np.testing.assert_array_equal(ras, lps)
    assert not np.array_equal(ras, ras[::-1])  # the check could fail: not symmetric
    # Radiological view: right on the left of the image, anterior at the top.
    hot = np.argwhere(luma8(ras) == luma8(ras).max())
    assert hot[:, 1].max() < ras.shape[1] / 2 and hot[:, 0].max() < ras.shape[0] / 2


# --- DICOM ------------------------------------------------------------------------------


def _write_dicom_series(folder: Path, volume: np.ndarray, slope: float, intercept: float,
                        seed: int = 0, modality: str = "MR") -> np.ndarray:
    """Write ``volume`` (columns, rows, slices; stored integers) as an oblique series.

    Files get shuffled names and InstanceNumbers so only ImagePositionPatient orders them.
    Returns the expected RAS affine.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    row_cos = np.array([np.cos(0.2), np.sin(0.2), 0.0])
    col_cos = np.array([0.0, 0.0, -1.0])  # coronal-like
    normal = np.cross(row_cos, col_cos)
    origin = np.array([-30.0, 12.0, 50.0])
    spacing, gap = (0.8, 1.1), 2.5  # PixelSpacing = (row spacing, column spacing)
    series = generate_uid()
    order = list(range(volume.shape[2]))
    random.Random(seed).shuffle(order)
    for n, k in enumerate(order):
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series
        ds.Modality = modality
        ds.InstanceNumber = n + 1
        ds.ImageOrientationPatient = [*row_cos, *col_cos]
        ds.ImagePositionPatient = list(origin + k * gap * normal)
        ds.PixelSpacing = list(spacing)
        ds.SliceThickness = gap
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[0]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.PixelData = np.ascontiguousarray(volume[:, :, k].T.astype(np.uint16)).tobytes()
        _save_dicom(ds, folder / f"IM{n:03d}")
    (folder / "README.txt").write_text("not DICOM")
    lps = np.eye(4)
    lps[:3, 0] = row_cos * spacing[1]
    lps[:3, 1] = col_cos * spacing[0]
    lps[:3, 2] = normal * gap
    lps[:3, 3] = origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def test_dicom_series_order_rescale_and_affine(tmp_path):
    stored = np.rint(_phantom(shape=(20, 18, 6), seed=7)).astype(np.uint16)
    stored[..., :] += np.arange(6, dtype=np.uint16) * 3  # make every slice distinct
    affine = _write_dicom_series(tmp_path / "ct", stored, slope=0.5, intercept=-100.0)
    data, got_affine = read_dicom_series(tmp_path / "ct")
    np.testing.assert_allclose(data, stored * 0.5 - 100.0)
    np.testing.assert_allclose(got_affine, affine, atol=1e-6)
    # The world position of a voxel agrees with the slice's ImagePositionPatient (LPS → RAS).
    corner = got_affine @ np.array([0, 0, 3, 1.0])
    import pydicom

    positions = [pydicom.dcmread(p).ImagePositionPatient
                 for p in (tmp_path / "ct").glob("IM*")]
    assert any(np.allclose(corner[:3], [-x, -y, z]) for x, y, z in positions)
    # One slice file is a volume of one slice, at that slice's place in the series.
    one = next(p for p in (tmp_path / "ct").glob("IM*")
               if np.allclose(pydicom.dcmread(p).ImagePositionPatient, positions[0]))
    k = [i for i in range(6) if np.allclose(
        (got_affine @ [0, 0, i, 1.0])[:3], np.multiply(positions[0], [-1, -1, 1]))][0]
    volume = read_volume(one)
    np.testing.assert_allclose(volume.data[..., 0], data[..., k])
    np.testing.assert_allclose(volume.affine[:, 3], got_affine @ [0, 0, k, 1.0], atol=1e-6)
    # A lone slice that states no usable thickness gets 1 mm, not a degenerate affine.
    ds = pydicom.dcmread(one)
    ds.SliceThickness = 0
    ds.save_as(tmp_path / "thin.dcm")
    thin = read_volume(tmp_path / "thin.dcm")
    assert np.linalg.norm(thin.affine[:3, 2]) == pytest.approx(1.0)
    fuse_volume_files(tmp_path / "thin.dcm", tmp_path / "thin.dcm", tmp_path / "thin.nii", MEAN,
                      VolumeOptions(keep_zero=False))


def test_dicom_errors(tmp_path):
    with pytest.raises(InputError, match="no DICOM"):
        (tmp_path / "empty").mkdir()
        read_dicom_series(tmp_path / "empty")
    stored = np.ones((20, 18, 4), np.uint16)
    _write_dicom_series(tmp_path / "s", stored, 1.0, 0.0)
    (tmp_path / "s" / "IM002").unlink()  # a missing slice leaves a gap twice the others
    with pytest.raises(InputError, match="irregular slice spacing"):
        read_dicom_series(tmp_path / "s")
    with pytest.raises(InputError, match="nowhere: no such file or folder"):
        read_dicom_series(tmp_path / "nowhere")


@pytest.mark.parametrize(("length", "said"), [
    (0, "empty, or a DICOM file cut short before its header"),
    (130, "empty, or a DICOM file cut short before its header"),
    (200, "DICOM file cut short (its header ends before the transfer syntax)"),
    (400, "DICOM image without Rows; is the file cut short?"),
    (700, "DICOM image without PixelData; is the file cut short?"),
    (-10, "cannot decode pixel data")])
def test_a_slice_cut_short_is_named_never_dropped(tmp_path, length: int, said: str) -> None:
    # pydicom reads a cut file up to its end without a word: a volume one slice short.
    folder = tmp_path / "s"
    _write_dicom_series(folder, np.ones((20, 18, 4), np.uint16), 1.0, 0.0)
    (folder / ".DS_Store").write_bytes(b"")  # hidden files are no slices, empty or not
    full = (folder / "IM001").read_bytes()
    (folder / "IM001").write_bytes(full[:length])
    with pytest.raises(InputError, match=f"IM001: {re.escape(said)}"):
        read_dicom_series(folder)


def test_a_slice_cut_anywhere_is_an_error_naming_it(tmp_path) -> None:
    """Wherever a copy stops (inside the header's elements too, where pydicom raises
    struct.error or its own BytesLengthException), the file is named, never a traceback."""
    folder = tmp_path / "s"
    _write_dicom_series(folder, np.ones((20, 18, 4), np.uint16), 1.0, 0.0)
    full = (folder / "IM001").read_bytes()
    for length in [*range(0, 300), *range(300, len(full), 5)]:
        (folder / "IM001").write_bytes(full[:length])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's own notes on a cut UID
            with pytest.raises(InputError, match="IM001: "):
                read_dicom_series(folder)


def _edited_series(tmp_path: Path, name: str, edit) -> Path:
    """A clean 4-slice series in ``tmp_path/name`` whose file IM001 is then changed by
    ``edit(dataset)``; the series reads cleanly before the edit."""
    import pydicom

    folder = tmp_path / name
    _write_dicom_series(folder, np.ones((20, 18, 4), np.uint16), 1.0, 0.0)
    assert read_dicom_series(folder)[0].shape == (20, 18, 4)
    ds = pydicom.dcmread(folder / "IM001")
    edit(ds)
    _save_dicom(ds, folder / "IM001")
    return folder


def test_dicom_series_faults_name_the_file_and_the_fault(tmp_path):
    from pydicom.uid import generate_uid

    def other_series(ds):
        ds.SeriesInstanceUID, ds.SeriesNumber = generate_uid(), 7
        ds.SeriesDescription = "T2 FLAIR"

    folder = _edited_series(tmp_path, "two", other_series)
    with pytest.raises(InputError) as err:
        read_dicom_series(folder)
    said = str(err.value)
    # Both series are named so the user can choose: the moved slice's with its number,
    # modality and description, the other with its three slices; then what to do.
    assert said.startswith(f"{folder}: holds 2 DICOM series: series 7 MR 'T2 FLAIR': 1 slice "
                           "(IM001, UID ")  # numbered series first
    assert "; series MR: 3 slices (IM000, UID " in said
    assert said.endswith("; give one series per folder")

    cases = {
        "size": (lambda ds: setattr(ds, "Rows", 10), "IM001: slice is 20x10, the series' first"),
        "orientation": (lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0]),
                        "IM001: ImageOrientationPatient differs from"),
        "frames": (lambda ds: setattr(ds, "NumberOfFrames", 2),
                   "IM001: multi-frame DICOM is not supported"),
        "no-position": (lambda ds: delattr(ds, "ImagePositionPatient"),
                        "IM001: DICOM slice has no ImagePositionPatient"),
    }
    for name, (edit, message) in cases.items():
        with pytest.raises(InputError, match=message):
            read_dicom_series(_edited_series(tmp_path, name, edit))


def test_two_slices_at_one_position_are_named(tmp_path):
    import pydicom

    folder = tmp_path / "dup"
    _write_dicom_series(folder, np.ones((20, 18, 4), np.uint16), 1.0, 0.0)
    ds = pydicom.dcmread(folder / "IM001")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    _save_dicom(ds, folder / "IM001-copy")
    with pytest.raises(InputError, match=r"slices .*IM001.* and .*IM001.* share one position"):
        read_dicom_series(folder)


def test_fuse_dicom_with_nifti_cli(tmp_path, capsys):
    from lwnet.cli import main
    from lwnet.inference.onnx import export_onnx

    stored = np.rint(_phantom(shape=(20, 18, 5), seed=8)).astype(np.uint16)
    affine = _write_dicom_series(tmp_path / "mri", stored, 2.0, 0.0)
    _save_nifti(tmp_path / "pet.nii.gz", _phantom(shape=(20, 18, 5), seed=9), affine)
    torch.manual_seed(0)
    model = LWNet(width=2)
    export_onnx(model, tmp_path / "m.onnx")
    out = tmp_path / "fused.nii.gz"
    args = ["fuse-volume", str(tmp_path / "mri"), str(tmp_path / "pet.nii.gz"), "-o", str(out),
            "--backend", "onnx", "--onnx", str(tmp_path / "m.onnx"), "--batch-size", "2"]
    assert main(args) == 0
    img = nib.load(out)
    np.testing.assert_allclose(img.affine, affine, atol=1e-5)
    assert int(img.header["sform_code"]) == 1
    a = robust_window(read_dicom_series(tmp_path / "mri")[0])
    b = robust_window(nib.load(tmp_path / "pet.nii.gz").get_fdata())
    expected = fuse_slices(a, b, module_fuser(model), affine=affine)
    np.testing.assert_allclose(img.get_fdata(), expected, atol=1e-4)
    # The header says what fused it: the graph's file and the digest of its bytes.
    digest = hashlib.sha256((tmp_path / "m.onnx").read_bytes()).hexdigest()[:16]
    assert img.header["descrip"].tobytes().decode().rstrip("\0") == (
        f"lwnet {lwnet.__version__} fusion lwnet m.onnx (sha256 {digest})")
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err


def _save_dicom(ds, path: Path) -> None:
    """Save a new dataset as a DICOM file (preamble, file meta) under pydicom 3 or 2.4 (the
    floor), which name the same request differently."""
    import pydicom

    if int(pydicom.__version__.split(".")[0]) >= 3:
        ds.save_as(path, enforce_file_format=True)
    else:  # 2.x takes the encoding from the dataset, not from its transfer syntax
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(path, write_like_original=False)


def _write_dicomdir(path: Path) -> None:
    """A DICOM file without an image (as a DICOMDIR index is): no Rows, no Modality."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.FileSetID = "INDEX"
    _save_dicom(ds, path)


def test_fuse_volume_picks_the_ct_model_for_a_ct_series(tmp_path, capsys):
    from lwnet.cli import main

    shape = (20, 18, 3)
    affine = _write_dicom_series(tmp_path / "ct", np.rint(_phantom(shape, 5)).astype(np.uint16),
                                 1.0, -1024.0, modality="CT")
    _save_nifti(tmp_path / "mri.nii", _phantom(shape, 6), affine)
    _save_nifti(tmp_path / "pet.nii", _phantom(shape, 7), affine)
    _write_dicomdir(tmp_path / "ct" / "DICOMDIR")  # an index, first by name: not an image
    for functional, model in ((tmp_path / "ct", "ct-mri"), (tmp_path / "pet.nii", "spect-mri")):
        out = tmp_path / f"{model}.nii"
        assert main(["fuse-volume", str(tmp_path / "mri.nii"), str(functional), "-o", str(out),
                     "--no-keep-zero"]) == 0
        said = capsys.readouterr().out
        assert f"fused by lwnet {model}.safetensors" in said
        assert f"the shipped {model.upper()} model, chosen from the functional input (" + (
            "DICOM Modality CT)" if model == "ct-mri" else "its file records no modality)") in said
        assert f"{model}.safetensors" in nib.load(out).header["descrip"].tobytes().decode()
    # A named pair type is taken as it is, without the note.
    assert main(["fuse-volume", str(tmp_path / "mri.nii"), str(tmp_path / "ct"), "-o",
                 str(tmp_path / "named.nii"), "--no-keep-zero", "--pair", "SPECT-MRI"]) == 0
    said = capsys.readouterr().out
    assert "spect-mri.safetensors" in said and "chosen from" not in said
    # The Python API chooses as the command does: the CT model, and grey slices for CT.
    fuse_volume_files(tmp_path / "mri.nii", tmp_path / "ct", tmp_path / "api.nii",
                      options=VolumeOptions(keep_zero=False), colour_dir=tmp_path / "api-slices")
    np.testing.assert_array_equal(nib.load(tmp_path / "api.nii").get_fdata(),
                                  nib.load(tmp_path / "ct-mri.nii").get_fdata())
    from PIL import Image

    with Image.open(next((tmp_path / "api-slices").glob("*.png"))) as png:
        rgb = np.asarray(png.convert("RGB"))
        assert (rgb[..., 0] == rgb[..., 2]).all() and "colour map gray" in png.text["Description"]


def test_python_api_fuses_with_the_shipped_model_by_default(pair, tmp_path):
    fused = fuse_volume_files(*pair, tmp_path / "default.nii")
    expected = fuse_volume_files(*pair, tmp_path / "named.nii",
                                 module_fuser(lwnet.load_model(pair_type="SPECT-MRI")))
    np.testing.assert_array_equal(fused, expected)
    descrip = nib.load(tmp_path / "default.nii").header["descrip"].tobytes().decode()
    assert "fusion lwnet spect-mri.safetensors (sha256 " in descrip


def test_one_volume_as_both_inputs_is_fused_and_said(tmp_path, capsys):
    from lwnet.cli import main

    _save_nifti(tmp_path / "mri.nii", _phantom((20, 18, 3), 6), AFFINE)
    out = tmp_path / "f.nii"
    assert main(["fuse-volume", str(tmp_path / "mri.nii"), str(tmp_path / "mri.nii"), "-o",
                 str(out), "--method", "mean"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[-1] == (f"note: A and B are the same input ({tmp_path / 'mri.nii'}), so the "
                        "result is it fused with itself")
    # Two files are not one input, even with equal contents: no note.
    _save_nifti(tmp_path / "copy.nii", _phantom((20, 18, 3), 6), AFFINE)
    assert main(["fuse-volume", str(tmp_path / "mri.nii"), str(tmp_path / "copy.nii"), "-o",
                 str(tmp_path / "g.nii"), "--method", "mean"]) == 0
    assert "same input" not in capsys.readouterr().out
